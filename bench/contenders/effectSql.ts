/**
 * Bare @effect/sql-pg: `PgClient.layer` and `sql.withTransaction`, as its docs show. It has no
 * isolation-level option, so SERIALIZABLE is set with a first statement; it does not retry.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { makeRuntime } from "./effectRuntime.js"
import { type Contender, type Op, runEffectWorkers } from "./types.js"

const transaction = (op: Op, onAttempt: () => void) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    switch (op.kind) {
      case "touch":
        return yield* sql.withTransaction(Effect.gen(function*() {
          onAttempt()
          yield* sql`UPDATE w1_rows SET value = value + 1 WHERE id = ${op.id}`
          return yield* sql<{ value: number }>`SELECT value FROM w1_rows WHERE id = ${op.id}`
        }))
      case "transfer":
        return yield* sql.withTransaction(Effect.gen(function*() {
          onAttempt()
          yield* sql`UPDATE w2_accounts SET balance = balance - ${op.amount} WHERE id = ${op.from}`
          yield* sql`UPDATE w2_accounts SET balance = balance + ${op.amount} WHERE id = ${op.to}`
        }))
      case "increment":
        return yield* sql.withTransaction(Effect.gen(function*() {
          onAttempt()
          yield* sql`SET TRANSACTION ISOLATION LEVEL SERIALIZABLE`
          const rows = yield* sql<{ value: number }>`SELECT value FROM w3_counters WHERE id = ${op.counter}`
          yield* sql`UPDATE w3_counters SET value = ${rows[0]!.value + 1} WHERE id = ${op.counter}`
        }))
    }
  })

/** Bare @effect/sql-pg, as a contender. */
export const effectSql: Contender = {
  name: "effect-sql",
  label: "@effect/sql-pg withTransaction",
  retries: false,
  inProcess: true,
  open: async ({ url, poolSize }) => {
    const runtime = await makeRuntime(PgClient.layer({ url: Redacted.make(url), maxConnections: poolSize }))
    return {
      run: (slice) => runEffectWorkers(runtime, slice, transaction),
      close: () => runtime.dispose()
    }
  }
}
