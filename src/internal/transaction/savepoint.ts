/**
 * A transaction call inside another one: a savepoint, released on success, rolled back to (and
 * released) on failure, so that the outer transaction goes on as if the inner one never ran.
 *
 * @internal
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { classifyDatabaseError, type Refined, refineCause } from "../../Classify.js"
import type { PgConnection } from "../pgConnection.js"
import { registryOptions } from "./attempt.js"
import { type TransactionConfigInput, TransactionConfigError } from "./config.js"
import { CurrentTransaction, type TransactionInfo } from "./context.js"
import { TransactionState } from "./state.js"

export const savepoint = <A, E, R>(
  body: Effect.Effect<A, E, R>,
  input: TransactionConfigInput,
  conn: PgConnection,
  parent: TransactionInfo | undefined,
  parentDepth: number
): Effect.Effect<A, Refined<E>, Exclude<R, CurrentTransaction | TransactionState>> => {
  // Asking a nested call for what its outer transaction is not is a programmer's error: a defect.
  if (parent && input.isolationLevel !== undefined && input.isolationLevel !== parent.isolationLevel) {
    return Effect.die(
      new TransactionConfigError({
        field: "isolationLevel",
        reason:
          `cannot be ${input.isolationLevel} in a nested transaction: the outer transaction runs ${parent.isolationLevel}`
      })
    )
  }
  if (parent && input.readOnly !== undefined && input.readOnly !== parent.readOnly) {
    return Effect.die(
      new TransactionConfigError({
        field: "readOnly",
        reason: `cannot differ from the outer transaction's (${String(parent.readOnly)}) in a nested transaction`
      })
    )
  }
  const depth = parentDepth + 1
  const name = `effect_pgr_${depth}`
  return Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const options = yield* registryOptions
      const classify = (error: unknown) => classifyDatabaseError(error, options)
      yield* restore(conn.executeRaw(`SAVEPOINT ${name}`, [])).pipe(Effect.mapError(classify))
      const info: TransactionInfo | undefined = parent && { ...parent, depth }
      let inner = restore(body).pipe(Effect.provideService(SqlClient.TransactionConnection, [conn, depth] as const))
      if (info) {
        inner = inner.pipe(
          Effect.provideService(CurrentTransaction, info),
          Effect.provideService(TransactionState, { conn, info })
        )
      }
      const result = yield* Effect.exit(inner as Effect.Effect<A, E, Exclude<R, CurrentTransaction | TransactionState>>)
      if (Exit.isSuccess(result)) {
        yield* conn.executeRaw(`RELEASE SAVEPOINT ${name}`, []).pipe(Effect.mapError(classify))
        return result.value
      }
      yield* conn.executeRaw(`ROLLBACK TO SAVEPOINT ${name}; RELEASE SAVEPOINT ${name}`, []).pipe(
        Effect.mapError(classify)
      )
      return yield* Effect.failCause(refineCause(result.cause, options))
    })
  )
}
