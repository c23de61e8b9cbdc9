/**
 * Slonik: `createPool` and `pool.transaction`, with its defaults — including its built-in retry of
 * transaction-rollback errors (class 40, up to `transactionRetryLimit` = 5, no backoff) and its
 * `DISCARD ALL` when a connection goes back to the pool. Slonik has no isolation-level option, so
 * SERIALIZABLE is set with a first statement.
 */
import { createPool, sql } from "slonik"
import { type Contender, type Op, runPromiseWorkers } from "./types.js"

type Pool = Awaited<ReturnType<typeof createPool>>

const transaction = (pool: Pool, op: Op, onAttempt: () => void): Promise<unknown> => {
  switch (op.kind) {
    case "touch":
      return pool.transaction(async (tx) => {
        onAttempt()
        await tx.query(sql.unsafe`UPDATE w1_rows SET value = value + 1 WHERE id = ${op.id}`)
        return tx.one(sql.unsafe`SELECT value FROM w1_rows WHERE id = ${op.id}`)
      })
    case "transfer":
      return pool.transaction(async (tx) => {
        onAttempt()
        await tx.query(sql.unsafe`UPDATE w2_accounts SET balance = balance - ${op.amount} WHERE id = ${op.from}`)
        await tx.query(sql.unsafe`UPDATE w2_accounts SET balance = balance + ${op.amount} WHERE id = ${op.to}`)
      })
    case "increment":
      return pool.transaction(async (tx) => {
        onAttempt()
        await tx.query(sql.unsafe`SET TRANSACTION ISOLATION LEVEL SERIALIZABLE`)
        const value = await tx.oneFirst(sql.unsafe`SELECT value FROM w3_counters WHERE id = ${op.counter}`)
        await tx.query(sql.unsafe`UPDATE w3_counters SET value = ${Number(value) + 1} WHERE id = ${op.counter}`)
      })
  }
}

/** Slonik, as a contender. */
export const slonik: Contender = {
  name: "slonik",
  label: "Slonik transaction (built-in retry)",
  retries: true,
  inProcess: true,
  open: async ({ url, poolSize }) => {
    const pool = await createPool(url, { maximumPoolSize: poolSize })
    return {
      run: (slice) => runPromiseWorkers(slice, (op, onAttempt) => transaction(pool, op, onAttempt)),
      close: () => pool.end()
    }
  }
}
