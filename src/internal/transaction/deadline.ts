/**
 * The deadline of a transaction call: one timer, no fiber. When it fires, the work of the call is
 * stopped where it is: a wait for a connection is abandoned, a running statement is cancelled on the
 * server (its connection cut if the cancel is not honoured within `cancelGrace`), and the next
 * statement, or COMMIT, is refused; the attempt then rolls back and the call fails with
 * `TransactionTimeout`. A COMMIT in flight is given `cancelGrace` more to answer, then its
 * connection is cut (`CommitOutcomeUnknown`). The server's own limits, set a little past the
 * deadline, are the backstop. With no fiber of its own, the caller's interruption reaches the
 * attempt directly, so it rolls back before the interruption completes.
 *
 * Code of the caller's inside the transaction that waits on something other than the database (an
 * HTTP call, `Effect.sleep`) is not preempted: its transaction is rolled back when it returns.
 *
 * @internal
 */
import { expire, type Expiry, makeExpiry } from "../pgConnection.js"

/** What the attempts of one call share with its deadline. */
export interface CallControl {
  /** Epoch ms by which the whole call must end (wall clock, like the server's own limits). */
  readonly deadline: number
  /** Expired when the deadline passes. */
  readonly expiry: Expiry
  /** Clears the timer (when the call ends). */
  readonly clear: () => void
}

/** The longest delay a Node timer takes (a longer one fires at once). */
const longestTimer = 2 ** 31 - 1

export const startDeadline = (timeoutMillis: number): CallControl => {
  const deadline = Date.now() + timeoutMillis
  const expiry = makeExpiry()
  let timer: ReturnType<typeof setTimeout>
  // A deadline further away than a timer can wait (about 24.8 days) is reached in steps.
  const arm = (millis: number) => {
    timer = setTimeout(() => {
      const left = deadline - Date.now()
      if (left > 0) arm(left)
      else expire(expiry)
    }, Math.min(millis, longestTimer))
  }
  arm(timeoutMillis)
  return { deadline, expiry, clear: () => clearTimeout(timer) }
}
