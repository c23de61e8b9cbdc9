/**
 * The tables and the SQL every contender runs. Contenders with a query builder (Kysely, Drizzle)
 * or a tag (@effect/sql, Slonik) write the same statements in their own syntax; the raw ones and the
 * pgbench scripts use these texts.
 */

/** W1: rows touched by the uncontended workload. */
export const W1_ROWS = 1000
/** W2: hot accounts money moves between. */
export const W2_ACCOUNTS = 10
/** W2: starting balance of each account. */
export const W2_START_BALANCE = 1_000_000
/** W3: hot counters. */
export const W3_COUNTERS = 5

/** DDL and seed data, run once on a fresh database. */
export const setupStatements: ReadonlyArray<string> = [
  "CREATE TABLE w1_rows (id integer PRIMARY KEY, value integer NOT NULL)",
  `INSERT INTO w1_rows SELECT g, 0 FROM generate_series(1, ${W1_ROWS}) g`,
  "CREATE TABLE w2_accounts (id integer PRIMARY KEY, balance integer NOT NULL)",
  `INSERT INTO w2_accounts SELECT g, ${W2_START_BALANCE} FROM generate_series(1, ${W2_ACCOUNTS}) g`,
  "CREATE TABLE w3_counters (id integer PRIMARY KEY, value integer NOT NULL)",
  `INSERT INTO w3_counters SELECT g, 0 FROM generate_series(1, ${W3_COUNTERS}) g`,
  "VACUUM ANALYZE"
]

/** The statements of each transaction, with `$n` parameters, for the raw node-postgres contenders. */
export const statements = {
  touchUpdate: "UPDATE w1_rows SET value = value + 1 WHERE id = $1",
  touchSelect: "SELECT value FROM w1_rows WHERE id = $1",
  debit: "UPDATE w2_accounts SET balance = balance - $2 WHERE id = $1",
  credit: "UPDATE w2_accounts SET balance = balance + $2 WHERE id = $1",
  counterRead: "SELECT value FROM w3_counters WHERE id = $1",
  counterWrite: "UPDATE w3_counters SET value = $2 WHERE id = $1"
} as const

/** pgbench scripts doing the same transactions (pgbench draws the random arguments itself). */
export const pgbenchScripts = {
  touch: [
    `\\set id random(1, ${W1_ROWS})`,
    "BEGIN;",
    "UPDATE w1_rows SET value = value + 1 WHERE id = :id;",
    "SELECT value FROM w1_rows WHERE id = :id;",
    "END;"
  ].join("\n"),
  transfer: [
    `\\set a random(1, ${W2_ACCOUNTS})`,
    `\\set d random(1, ${W2_ACCOUNTS - 1})`,
    `\\set b 1 + (:a - 1 + :d) % ${W2_ACCOUNTS}`,
    "\\set amount random(1, 100)",
    "BEGIN;",
    "UPDATE w2_accounts SET balance = balance - :amount WHERE id = :a;",
    "UPDATE w2_accounts SET balance = balance + :amount WHERE id = :b;",
    "END;"
  ].join("\n"),
  increment: [
    `\\set c random(1, ${W3_COUNTERS})`,
    "BEGIN ISOLATION LEVEL SERIALIZABLE;",
    "SELECT value AS v FROM w3_counters WHERE id = :c \\gset",
    "UPDATE w3_counters SET value = :v + 1 WHERE id = :c;",
    "END;"
  ].join("\n")
} as const
