/**
 * Ours: `Database.layer` and `withTransaction` with its full defaults (30 s deadline with server-side
 * limits, deadlock/serialization retry with backoff, classification, spans, logs and metrics).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Database from "../../dist/Database.js"
import { withTransaction } from "../../dist/Transaction.js"
import { makeRuntime } from "./effectRuntime.js"
import { type Contender, type Op, runEffectWorkers } from "./types.js"

/** Our transaction for each op, written the way the README shows. */
export const oursTransaction = (op: Op, onAttempt: () => void) => {
  switch (op.kind) {
    case "touch":
      return Effect.gen(function*() {
        onAttempt()
        const sql = yield* SqlClient.SqlClient
        yield* sql`UPDATE w1_rows SET value = value + 1 WHERE id = ${op.id}`
        return yield* sql<{ value: number }>`SELECT value FROM w1_rows WHERE id = ${op.id}`
      }).pipe(withTransaction())
    case "transfer":
      return Effect.gen(function*() {
        onAttempt()
        const sql = yield* SqlClient.SqlClient
        yield* sql`UPDATE w2_accounts SET balance = balance - ${op.amount} WHERE id = ${op.from}`
        yield* sql`UPDATE w2_accounts SET balance = balance + ${op.amount} WHERE id = ${op.to}`
      }).pipe(withTransaction())
    case "increment":
      return Effect.gen(function*() {
        onAttempt()
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<{ value: number }>`SELECT value FROM w3_counters WHERE id = ${op.counter}`
        yield* sql`UPDATE w3_counters SET value = ${rows[0]!.value + 1} WHERE id = ${op.counter}`
      }).pipe(withTransaction({ isolationLevel: "SERIALIZABLE" }))
  }
}

/** Ours, as a contender. */
export const ours: Contender = {
  name: "ours",
  label: "ours (withTransaction)",
  retries: true,
  inProcess: true,
  open: async ({ url, poolSize }) => {
    const runtime = await makeRuntime(Database.layer({ url: Redacted.make(url), maxConnections: poolSize }))
    return {
      run: (slice) => runEffectWorkers(runtime, slice, oursTransaction),
      close: () => runtime.dispose()
    }
  }
}
