/**
 * Raw node-postgres: a `Pool`, BEGIN/COMMIT/ROLLBACK by hand (the pattern of the node-postgres docs),
 * no retry; and the same with the retry loop applications write by hand around it.
 */
import Pg from "pg"
import { statements as S } from "../schema.js"
import { type Contender, type Op, runPromiseWorkers } from "./types.js"

/** The node-postgres docs' transaction: BEGIN, the body, COMMIT; ROLLBACK and rethrow on error. */
const inTransaction = async (pool: Pg.Pool, begin: string, body: (client: Pg.PoolClient) => Promise<unknown>) => {
  const client = await pool.connect()
  try {
    await client.query(begin)
    await body(client)
    await client.query("COMMIT")
  } catch (error) {
    await client.query("ROLLBACK")
    throw error
  } finally {
    client.release()
  }
}

/** One op as raw SQL on a pool. */
export const pgTransaction = (pool: Pg.Pool, op: Op, onAttempt: () => void): Promise<unknown> => {
  switch (op.kind) {
    case "touch":
      return inTransaction(pool, "BEGIN", async (client) => {
        onAttempt()
        await client.query(S.touchUpdate, [op.id])
        return client.query(S.touchSelect, [op.id])
      })
    case "transfer":
      return inTransaction(pool, "BEGIN", async (client) => {
        onAttempt()
        await client.query(S.debit, [op.from, op.amount])
        await client.query(S.credit, [op.to, op.amount])
      })
    case "increment":
      return inTransaction(pool, "BEGIN ISOLATION LEVEL SERIALIZABLE", async (client) => {
        onAttempt()
        const { rows } = await client.query<{ value: number }>(S.counterRead, [op.counter])
        await client.query(S.counterWrite, [op.counter, rows[0]!.value + 1])
      })
  }
}

const retryable = (error: unknown) => {
  const code = (error as { code?: unknown } | null)?.code
  return code === "40001" || code === "40P01"
}

/**
 * The retry loop people write around an ORM or driver transaction (Prisma, Knex, Drizzle users):
 * retry 40001/40P01 up to 3 times with exponential backoff from 25 ms and full jitter (our default
 * backoff too; we allow 30 retries).
 */
export const withRetry = async <A>(attempt: () => Promise<A>, maxRetries = 3, baseMs = 25): Promise<A> => {
  for (let retry = 0;; retry++) {
    try {
      return await attempt()
    } catch (error) {
      if (retry >= maxRetries || !retryable(error)) throw error
      await new Promise((resolve) => setTimeout(resolve, Math.random() * baseMs * 2 ** retry))
    }
  }
}

const openPool = (url: string, poolSize: number) => {
  const pool = new Pg.Pool({ connectionString: url, max: poolSize })
  pool.on("error", () => {})
  return pool
}

/** Raw pg, as a contender. */
export const rawPg: Contender = {
  name: "pg",
  label: "pg (BEGIN/COMMIT by hand)",
  retries: false,
  inProcess: true,
  open: async ({ url, poolSize }) => {
    const pool = openPool(url, poolSize)
    return {
      run: (slice) => runPromiseWorkers(slice, (op, onAttempt) => pgTransaction(pool, op, onAttempt)),
      close: () => pool.end()
    }
  }
}

/** Raw pg with a hand-written retry loop, as a contender. */
export const pgRetry: Contender = {
  name: "pg-retry",
  label: "pg + hand-written retry loop",
  retries: true,
  inProcess: true,
  open: async ({ url, poolSize }) => {
    const pool = openPool(url, poolSize)
    return {
      run: (slice) =>
        runPromiseWorkers(slice, (op, onAttempt) => withRetry(() => pgTransaction(pool, op, onAttempt))),
      close: () => pool.end()
    }
  }
}
