/**
 * The one failure the Promise API adds to the `DatabaseError` union (the database object was closed),
 * and how a failed effect becomes the value a Promise rejects with.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

export class DatabaseClosedError extends Schema.TaggedError<DatabaseClosedError>()("DatabaseClosedError", {
  /** What was asked of the closed database (`withTransaction`, `query`, ...). */
  operation: Schema.String
}) {
  override get message(): string {
    return `The database is closed: ${this.operation} was not run and nothing was sent`
  }
}

/** The failure a transaction body ends with when the call's deadline fires while the body still runs. */
export class DeadlinePassed {
  readonly _tag = "DeadlinePassed"
}

/** The value a Promise caller sees for a failed effect: the error itself, never a wrapper. */
export const thrown = (cause: Cause.Cause<unknown>, onInterrupt: () => unknown): unknown => {
  const failure = Cause.failureOption(cause)
  // `Effect.fail` inside a span hands on a proxy of the error: the caller gets the error itself.
  if (Option.isSome(failure)) return Cause.originalError(failure.value)
  if (Cause.isInterruptedOnly(cause)) return onInterrupt()
  return Cause.originalError(Cause.squash(cause))
}
