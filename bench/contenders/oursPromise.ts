/**
 * Ours through the Promise API (`effect-pg-resilience/promise`): the same engine as "ours", run by
 * `createDatabase`'s runtime, with each transaction an async function awaited by a Promise worker
 * loop, as a Promise application writes it. Next to "ours" in W1, the difference is the Promise
 * API's own cost per transaction (a fiber per statement, the Promise hand-offs, the body's deadline).
 */
import { createDatabase, type PromiseDatabase } from "../../dist/promise.js"
import { type Contender, type Op, runPromiseWorkers } from "./types.js"

/** The op as a Promise transaction, written the way the README's Promise section shows. */
export const oursPromiseTransaction = (db: PromiseDatabase, op: Op, onAttempt: () => void): Promise<unknown> => {
  switch (op.kind) {
    case "touch":
      return db.withTransaction(async (ctx) => {
        onAttempt()
        await ctx.sql`UPDATE w1_rows SET value = value + 1 WHERE id = ${op.id}`
        return ctx.sql<{ value: number }>`SELECT value FROM w1_rows WHERE id = ${op.id}`
      })
    case "transfer":
      return db.withTransaction(async (ctx) => {
        onAttempt()
        await ctx.sql`UPDATE w2_accounts SET balance = balance - ${op.amount} WHERE id = ${op.from}`
        await ctx.sql`UPDATE w2_accounts SET balance = balance + ${op.amount} WHERE id = ${op.to}`
      })
    case "increment":
      return db.withTransaction(async (ctx) => {
        onAttempt()
        const [row] = await ctx.sql<{ value: number }>`SELECT value FROM w3_counters WHERE id = ${op.counter}`
        await ctx.sql`UPDATE w3_counters SET value = ${row!.value + 1} WHERE id = ${op.counter}`
      }, { isolationLevel: "SERIALIZABLE" })
  }
}

/** Ours through the Promise API, as a contender. */
export const oursPromise: Contender = {
  name: "ours-promise",
  label: "ours (promise API)",
  retries: true,
  inProcess: true,
  open: async ({ url, poolSize }) => {
    const db = createDatabase({ url, maxConnections: poolSize })
    await db.runtime.runtime()
    return {
      run: (slice) => runPromiseWorkers(slice, (op, onAttempt) => oursPromiseTransaction(db, op, onAttempt)),
      close: () => db.close()
    }
  }
}
