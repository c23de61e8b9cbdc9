/**
 * Kysely on node-postgres: `PostgresDialect` over a `pg.Pool`, `db.transaction().execute(...)` with
 * `setIsolationLevel` for SERIALIZABLE. Kysely does not retry.
 */
import { Kysely, PostgresDialect } from "kysely"
import Pg from "pg"
import { type Contender, type Op, runPromiseWorkers } from "./types.js"

interface Tables {
  w1_rows: { id: number; value: number }
  w2_accounts: { id: number; balance: number }
  w3_counters: { id: number; value: number }
}

const transaction = (db: Kysely<Tables>, op: Op, onAttempt: () => void): Promise<unknown> => {
  switch (op.kind) {
    case "touch":
      return db.transaction().execute(async (trx) => {
        onAttempt()
        await trx.updateTable("w1_rows").set((eb) => ({ value: eb("value", "+", 1) })).where("id", "=", op.id).execute()
        return trx.selectFrom("w1_rows").select("value").where("id", "=", op.id).executeTakeFirstOrThrow()
      })
    case "transfer":
      return db.transaction().execute(async (trx) => {
        onAttempt()
        await trx.updateTable("w2_accounts").set((eb) => ({ balance: eb("balance", "-", op.amount) }))
          .where("id", "=", op.from).execute()
        await trx.updateTable("w2_accounts").set((eb) => ({ balance: eb("balance", "+", op.amount) }))
          .where("id", "=", op.to).execute()
      })
    case "increment":
      return db.transaction().setIsolationLevel("serializable").execute(async (trx) => {
        onAttempt()
        const row = await trx.selectFrom("w3_counters").select("value").where("id", "=", op.counter)
          .executeTakeFirstOrThrow()
        await trx.updateTable("w3_counters").set({ value: row.value + 1 }).where("id", "=", op.counter).execute()
      })
  }
}

/** Kysely, as a contender. */
export const kysely: Contender = {
  name: "kysely",
  label: "Kysely transaction",
  retries: false,
  inProcess: true,
  open: async ({ url, poolSize }) => {
    const pool = new Pg.Pool({ connectionString: url, max: poolSize })
    pool.on("error", () => {})
    const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) })
    return {
      run: (slice) => runPromiseWorkers(slice, (op, onAttempt) => transaction(db, op, onAttempt)),
      close: () => db.destroy()
    }
  }
}
