/**
 * Drizzle on node-postgres: `drizzle({ client: pool })`, `db.transaction(fn, { isolationLevel })`.
 * Drizzle does not retry.
 */
import { eq, sql } from "drizzle-orm"
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres"
import { integer, pgTable } from "drizzle-orm/pg-core"
import Pg from "pg"
import { type Contender, type Op, runPromiseWorkers } from "./types.js"

const w1Rows = pgTable("w1_rows", { id: integer("id").primaryKey(), value: integer("value").notNull() })
const w2Accounts = pgTable("w2_accounts", { id: integer("id").primaryKey(), balance: integer("balance").notNull() })
const w3Counters = pgTable("w3_counters", { id: integer("id").primaryKey(), value: integer("value").notNull() })

const transaction = (db: NodePgDatabase, op: Op, onAttempt: () => void): Promise<unknown> => {
  switch (op.kind) {
    case "touch":
      return db.transaction(async (tx) => {
        onAttempt()
        await tx.update(w1Rows).set({ value: sql`${w1Rows.value} + 1` }).where(eq(w1Rows.id, op.id))
        return tx.select({ value: w1Rows.value }).from(w1Rows).where(eq(w1Rows.id, op.id))
      })
    case "transfer":
      return db.transaction(async (tx) => {
        onAttempt()
        await tx.update(w2Accounts).set({ balance: sql`${w2Accounts.balance} - ${op.amount}` })
          .where(eq(w2Accounts.id, op.from))
        await tx.update(w2Accounts).set({ balance: sql`${w2Accounts.balance} + ${op.amount}` })
          .where(eq(w2Accounts.id, op.to))
      })
    case "increment":
      return db.transaction(async (tx) => {
        onAttempt()
        const [row] = await tx.select({ value: w3Counters.value }).from(w3Counters).where(eq(w3Counters.id, op.counter))
        await tx.update(w3Counters).set({ value: row!.value + 1 }).where(eq(w3Counters.id, op.counter))
      }, { isolationLevel: "serializable" })
  }
}

/** Drizzle, as a contender. */
export const drizzleOrm: Contender = {
  name: "drizzle",
  label: "Drizzle transaction",
  retries: false,
  inProcess: true,
  open: async ({ url, poolSize }) => {
    const pool = new Pg.Pool({ connectionString: url, max: poolSize })
    pool.on("error", () => {})
    const db = drizzle({ client: pool })
    return {
      run: (slice) => runPromiseWorkers(slice, (op, onAttempt) => transaction(db, op, onAttempt)),
      close: () => pool.end()
    }
  }
}
