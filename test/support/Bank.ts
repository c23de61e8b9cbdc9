/**
 * The money-transfer workload of the fault suite: accounts whose total never changes, and a ledger
 * with one idempotency key per transfer. After any fault the books must balance exactly: the total
 * is unchanged, every balance equals its opening amount plus what the ledger moved, and no key was
 * committed twice.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import * as Transaction from "../../src/Transaction.js"

export const ACCOUNTS = 10
export const OPENING = 1_000_000

export const setup = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql.unsafe(`
    DROP TABLE IF EXISTS ledger, accounts;
    CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL);
    -- Not unique on purpose: a key committed twice must be seen, not prevented.
    CREATE TABLE ledger (key uuid NOT NULL, source int NOT NULL, target int NOT NULL, amount bigint NOT NULL);
    CREATE INDEX ON ledger (key);
    INSERT INTO accounts SELECT g, ${OPENING} FROM generate_series(1, ${ACCOUNTS}) g;
  `))

/**
 * One transfer: locks both accounts in id order (no deadlocks: this workload is about faults), moves
 * the money and writes the ledger row with its key.
 */
export const transfer = (key: string, source: number, target: number, amount: number, options?: Transaction.TransactionConfigInput) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Transaction.withTransactionRetry(
      Effect.gen(function*() {
        const [low, high] = source < target ? [source, target] : [target, source]
        yield* sql`SELECT id FROM accounts WHERE id IN (${low}, ${high}) ORDER BY id FOR UPDATE`
        yield* sql`UPDATE accounts SET balance = balance - ${amount} WHERE id = ${source}`
        yield* sql`UPDATE accounts SET balance = balance + ${amount} WHERE id = ${target}`
        yield* sql`INSERT INTO ledger (key, source, target, amount) VALUES (${key}, ${source}, ${target}, ${amount})`
      }),
      options
    ))

/** A random transfer with a fresh key. */
export const randomTransfer = (options?: Transaction.TransactionConfigInput) => {
  const source = 1 + Math.floor(Math.random() * ACCOUNTS)
  const target = 1 + ((source + Math.floor(Math.random() * (ACCOUNTS - 1))) % ACCOUNTS)
  const key = randomUUID()
  return { key, effect: transfer(key, source, target, 1 + Math.floor(Math.random() * 100), options) }
}

export interface Books {
  readonly total: number
  /** Accounts whose balance differs from opening + ledger movements. */
  readonly unbalanced: number
  /** Keys present more than once in the ledger. */
  readonly duplicateKeys: number
  readonly transfers: number
}

export const books = (sql: SqlClient.SqlClient) =>
  Effect.map(
    sql<{ total: string; unbalanced: number; duplicate_keys: number; transfers: number }>`
      SELECT
        (SELECT sum(balance) FROM accounts)::text AS total,
        (SELECT count(*)::int FROM accounts a WHERE a.balance <> ${OPENING}
           + coalesce((SELECT sum(amount) FROM ledger WHERE target = a.id), 0)
           - coalesce((SELECT sum(amount) FROM ledger WHERE source = a.id), 0)) AS unbalanced,
        (SELECT count(*)::int FROM (SELECT key FROM ledger GROUP BY key HAVING count(*) > 1) d) AS duplicate_keys,
        (SELECT count(*)::int FROM ledger) AS transfers`,
    ([row]): Books => ({
      total: Number(row!.total),
      unbalanced: row!.unbalanced,
      duplicateKeys: row!.duplicate_keys,
      transfers: row!.transfers
    })
  )

/** Whether the transfer with `key` was committed. */
export const committed = (sql: SqlClient.SqlClient, key: string) =>
  Effect.map(sql<{ n: number }>`SELECT count(*)::int AS n FROM ledger WHERE key = ${key}`, ([row]) => row!.n)

/** How many of each failure tag the callers saw, for the suite's printed figures. */
export const countBy = (tags: ReadonlyArray<string>): Record<string, number> =>
  tags.reduce<Record<string, number>>((acc, tag) => ({ ...acc, [tag]: (acc[tag] ?? 0) + 1 }), {})
