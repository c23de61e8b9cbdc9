/**
 * One attempt of a Promise transaction, as the body the engine runs: the caller's async function is
 * called with a context whose statements run, as fibers of their own, on the attempt's connection.
 *
 * The engine's deadline stops database work but does not preempt code that waits on something else;
 * here the body itself is bounded: when the deadline passes, `ctx.signal` aborts (so that the
 * caller's own waits, such as `fetch`, can stop), the statements still running are cancelled, and
 * the attempt fails at once, so the engine rolls back and the call ends with `TransactionTimeout`
 * even when the function never looks at its signal. When the fiber is interrupted (the caller's
 * `signal`, or Effect code giving up), `ctx.signal` aborts and the running statements are cancelled
 * before the engine rolls back. A context outlives its attempt only as a stale reference: its
 * statements are then refused, never sent on a connection that went back to the pool.
 *
 * @internal
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Runtime from "effect/Runtime"
import { refineErrors } from "../../Classify.js"
import { QueryError } from "../../Errors.js"
import type { Row, SqlTag, TransactionContext } from "../../promise.js"
import { CurrentTransaction } from "../../Transaction.js"
import { DeadlinePassed, thrown } from "./errors.js"

/** What the attempts of one call share. */
export interface CallState {
  readonly timeoutMillis: number
  readonly callerSignal: AbortSignal | undefined
  /** Set when the first attempt's body starts (after the engine started its own deadline). */
  deadlineAt: number | undefined
  attempts: number
  /**
   * The current attempt's body succeeded: COMMIT is about to be sent or in flight, so the caller's
   * abort no longer interrupts the call (its outcome decides what happened); a retry clears it.
   */
  committing: boolean
}

const helperNames = ["insert", "update", "updateValues", "in", "and", "or", "csv", "join", "literal"] as const

const ended = (what: string) =>
  new QueryError({
    technicalMessage: `${what} was refused: the transaction of this context has ended; nothing was sent`,
    cause: undefined
  })

/** The statements of one attempt, and what stops them. */
class Attempt {
  closed = false
  aborted = false
  reason: unknown = undefined
  /** The first statement of the attempt that failed (awaited or not). */
  private failure: { readonly error: unknown } | undefined
  private controller: AbortController | undefined
  private running: Set<Fiber.RuntimeFiber<unknown, unknown>> | undefined

  constructor(private readonly runtime: Runtime.Runtime<never>) {}

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController()
      if (this.aborted) this.controller.abort(this.reason)
    }
    return this.controller.signal
  }

  abort(reason: unknown): void {
    if (this.aborted) return
    this.aborted = true
    this.reason = reason
    this.controller?.abort(reason)
  }

  run<A>(effect: Effect.Effect<A, unknown>, what: string): Promise<A> {
    if (this.aborted) return Promise.reject(this.reason)
    if (this.closed) return Promise.reject(ended(what))
    const fiber = Runtime.runFork(this.runtime)(effect)
    const running = (this.running ??= new Set())
    running.add(fiber)
    const promise = new Promise<A>((resolve, reject) =>
      fiber.addObserver((exit) => {
        running.delete(fiber)
        if (Exit.isSuccess(exit)) return resolve(exit.value)
        const error = thrown(exit.cause, () => (this.aborted ? this.reason : ended(what)))
        if (!Cause.isInterruptedOnly(exit.cause)) this.failure ??= { error }
        reject(error)
      })
    )
    // A statement the function started without awaiting it may fail unobserved: its failure is the
    // transaction's (see `succeed`), never an unhandled rejection that would end the process.
    promise.catch(() => {})
    return promise
  }

  /** Cancels the statements still running (each waits for its cancel, bounded by `cancelGrace`). */
  readonly stop: Effect.Effect<void> = Effect.suspend(() =>
    this.running === undefined || this.running.size === 0 ? Effect.void : Fiber.interruptAll([...this.running])
  )

  /**
   * The function returned: statements it started without awaiting them are part of the transaction,
   * so COMMIT waits for them, and fails with the first failure among them.
   */
  succeed<A>(value: A, call: CallState): Effect.Effect<A, unknown> {
    const done = Effect.suspend(() => {
      // A statement failed (perhaps one nobody awaited): the transaction fails with that error,
      // not with COMMIT's "answered ROLLBACK".
      if (this.failure !== undefined) return Effect.fail(this.failure.error)
      call.committing = true
      return Effect.succeed(value)
    })
    if (this.running === undefined || this.running.size === 0) return done
    return Effect.zipRight(Effect.forEach([...this.running], (fiber) => Effect.exit(Fiber.join(fiber)), { discard: true }), done)
  }

  /** The function threw or rejected: its statements still running are cancelled, then the attempt fails. */
  fail(error: unknown): Effect.Effect<never, unknown> {
    return Effect.zipRight(this.stop, Effect.fail(error))
  }
}

const makeContext = (attempt: Attempt, sql: SqlClient.SqlClient, info: CurrentTransaction["Type"]): TransactionContext => {
  const tag = (first: TemplateStringsArray | string, ...values: ReadonlyArray<unknown>) =>
    typeof first === "string"
      ? sql(first)
      : attempt.run(refineErrors(sql(first, ...values)), "a statement")
  for (const name of helperNames) (tag as unknown as Record<string, unknown>)[name] = sql[name]
  return {
    sql: tag as SqlTag,
    query: <A extends object = Row>(text: string, params?: ReadonlyArray<unknown>) =>
      attempt.run(refineErrors(sql.unsafe<A>(text, params)), "a query"),
    id: info.id,
    attempt: info.attempt,
    isolationLevel: info.isolationLevel,
    readOnly: info.readOnly,
    backendPid: info.backendPid,
    get signal() {
      return attempt.signal
    }
  }
}

const interrupted = () => new DOMException("The transaction was interrupted", "AbortError")
const timedOut = () => new DOMException("The transaction's deadline passed", "TimeoutError")

/** The longest delay `setTimeout` honours (a longer one fires at once): about 24.8 days. */
const maxTimerMillis = 2 ** 31 - 1

const isThenable = (u: unknown): u is PromiseLike<unknown> =>
  (typeof u === "object" || typeof u === "function") && u !== null && typeof (u as { then?: unknown }).then === "function"

/** The body the engine runs for each attempt: calls `fn` with a fresh context on the attempt's connection. */
export const body = <A>(
  fn: (ctx: TransactionContext) => A | PromiseLike<A>,
  call: CallState
): Effect.Effect<A, unknown, SqlClient.SqlClient | CurrentTransaction> =>
  Effect.flatMap(Effect.runtime<SqlClient.SqlClient | CurrentTransaction>(), (runtime) =>
    Effect.async<A, unknown>((resume) => {
      call.committing = false
      call.attempts++
      // Aborted while between attempts (a retry's backoff): this attempt does not start.
      if (call.callerSignal?.aborted) return resume(Effect.interrupt)
      const attempt = new Attempt(runtime as Runtime.Runtime<never>)
      const deadlineAt = (call.deadlineAt ??= Date.now() + call.timeoutMillis)
      let settled = false
      const settle = (outcome: Effect.Effect<A, unknown>) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        attempt.closed = true
        resume(outcome)
      }
      const timer = setTimeout(() => {
        attempt.abort(timedOut())
        settle(Effect.zipRight(attempt.stop, Effect.fail(new DeadlinePassed())))
      }, Math.min(maxTimerMillis, Math.max(0, deadlineAt - Date.now())))
      const ctx = makeContext(
        attempt,
        Context.unsafeGet(runtime.context, SqlClient.SqlClient),
        Context.unsafeGet(runtime.context, CurrentTransaction)
      )
      try {
        const result = fn(ctx)
        if (isThenable(result)) {
          result.then(
            (value) => settle(attempt.succeed(value as A, call)),
            (error) => settle(attempt.fail(error))
          )
        } else {
          settle(attempt.succeed(result, call))
        }
      } catch (error) {
        settle(attempt.fail(error))
      }
      // Interrupted while the function runs: abort its signal, cancel its statements, then the
      // engine rolls back.
      return Effect.suspend(() => {
        if (settled) return Effect.void
        settled = true
        clearTimeout(timer)
        attempt.closed = true
        attempt.abort(call.callerSignal?.aborted ? call.callerSignal.reason : interrupted())
        return attempt.stop
      })
    }))
