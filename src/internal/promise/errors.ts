/**
 * The one failure the Promise API adds to the `DatabaseError` union: the database object was closed.
 *
 * @internal
 */
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
