/**
 * Fault suite: PgBouncer (Debian's 1.18) in transaction mode between the application and a server
 * of the test's own. Transactions keep their guarantees through it, a cancel request on a timeout
 * does not bring it down (1.18 dies on a half-closed cancel socket, its bug #801), and the backend
 * pid reported is the server's, not PgBouncer's cancel key.
 */
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { type Context, Deferred, Effect, Layer, Redacted } from "effect"
import * as Database from "../../src/Database.js"
import { isDatabaseError } from "../../src/Errors.js"
import * as Transaction from "../../src/Transaction.js"
import * as Bank from "../support/Bank.js"
import * as ControlledServer from "../support/ControlledServer.js"
import * as PgBouncer from "../support/PgBouncer.js"

type App = Context.Context<Database.Database | SqlClient.SqlClient>

const setup = Effect.gen(function*() {
  const server = yield* ControlledServer.make({ deadlock_timeout: "100ms" })
  const bouncer = yield* PgBouncer.make(server)
  const context: App = yield* Layer.build(
    Database.layer({ url: Redacted.make(bouncer.url), maxConnections: 8, cancelGrace: "1 second", applicationName: "fault-app" })
  )
  const run = <A, E>(effect: Effect.Effect<A, E, Database.Database | SqlClient.SqlClient>) => Effect.provide(effect, context)
  const sql = yield* run(SqlClient.SqlClient)
  return { server, bouncer, run, sql }
})

describe("Faults: PgBouncer in transaction mode", () => {
  it.live("isolation levels are applied, and the server's backend pid is reported", () =>
    Effect.scoped(Effect.gen(function*() {
      const { bouncer, run, sql } = yield* setup
      const levels = ["READ UNCOMMITTED", "READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"] as const
      for (let round = 0; round < 5; round++) {
        const seen = yield* run(Effect.forEach(levels, (level) =>
          Transaction.withTransaction(
            Effect.gen(function*() {
              const tx = yield* Transaction.CurrentTransaction
              const [row] = yield* sql<{ level: string; pid: number }>`
                SELECT current_setting('transaction_isolation') AS level, pg_backend_pid() AS pid`
              return { level: row!.level, pid: row!.pid, reported: tx.backendPid }
            }),
            { isolationLevel: level }
          ), { concurrency: "unbounded" }))
        expect(seen.map((s) => s.level)).toEqual(levels.map((l) => l.toLowerCase()))
        for (const s of seen) expect(s.reported).toBe(s.pid)
      }
      expect(bouncer.alive()).toBe(true)
    })), 120_000)

  it.live("SET LOCAL limits never leak to the next client of the server connection", () =>
    Effect.scoped(Effect.gen(function*() {
      const { run, sql } = yield* setup
      const outside = sql<{ st: string; idle: string }>`
        SELECT current_setting('statement_timeout') AS st,
               current_setting('idle_in_transaction_session_timeout') AS idle`
      const results = yield* run(Effect.all(
        Array.from({ length: 60 }, (_, i) =>
          i % 2 === 0
            ? Effect.as(Transaction.withTransaction(sql`SELECT pg_sleep(0.005)`, { timeout: "1 second" }), undefined)
            : Effect.map(outside, (rows) => rows[0]!)),
        { concurrency: 8 }
      ))
      const plain = results.filter((r) => r !== undefined)
      expect(plain).toHaveLength(30)
      for (const row of plain) expect(row).toEqual({ st: "0", idle: "0" })
    })), 120_000)

  it.live("a real deadlock is retried and both transactions commit", () =>
    Effect.scoped(Effect.gen(function*() {
      const { run, sql } = yield* setup
      yield* sql.unsafe("CREATE TABLE pair (id int PRIMARY KEY, n int NOT NULL); INSERT INTO pair VALUES (1, 0), (2, 0)")
      const firstLocked = yield* Deferred.make<void>()
      const secondLocked = yield* Deferred.make<void>()
      let attempts = 0
      const move = (first: number, second: number, mine: Deferred.Deferred<void>, theirs: Deferred.Deferred<void>) =>
        Transaction.withTransaction(Effect.gen(function*() {
          attempts++
          yield* sql`UPDATE pair SET n = n + 1 WHERE id = ${first}`
          yield* Deferred.succeed(mine, undefined)
          yield* Deferred.await(theirs)
          yield* sql`UPDATE pair SET n = n + 1 WHERE id = ${second}`
        }))
      yield* run(Effect.all([move(1, 2, firstLocked, secondLocked), move(2, 1, secondLocked, firstLocked)], {
        concurrency: "unbounded"
      }))
      expect(attempts).toBe(3)
      const rows = yield* sql<{ n: number }>`SELECT n FROM pair ORDER BY id`
      expect(rows.map((r) => r.n)).toEqual([2, 2])
    })), 120_000)

  it.live("timeouts cancel the statement through PgBouncer without harming it", () =>
    Effect.scoped(Effect.gen(function*() {
      const { bouncer, run, server, sql } = yield* setup
      const started = Date.now()
      const outcomes = yield* run(Effect.forEach(
        Array.from({ length: 20 }),
        () =>
          Transaction.withTransaction(sql`SELECT pg_sleep(10)`, { timeout: "300 millis" }).pipe(
            Effect.flip,
            Effect.map((e) => (isDatabaseError(e) ? e._tag : "other"))
          ),
        { concurrency: 4 }
      ))
      expect(outcomes.every((o) => o === "TransactionTimeout")).toBe(true)
      // Five rounds of four, each ended by a cancel well before its 10 s sleep.
      expect(Date.now() - started).toBeLessThan(5 * 1800)
      expect(bouncer.alive()).toBe(true)
      expect(bouncer.log()).not.toMatch(/bad client state/)
      // PgBouncer serves new work, and no sleep is left on the server.
      expect((yield* sql<{ n: number }>`SELECT 1 AS n`)[0]!.n).toBe(1)
      let sleeping = -1
      for (let i = 0; i < 40 && sleeping !== 0; i++) {
        sleeping = (yield* server.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(10)%' AND state = 'active'"
        ))[0]!.n
        if (sleeping !== 0) yield* Effect.sleep("50 millis")
      }
      expect(sleeping).toBe(0)
    })), 120_000)

  it.live("interruption: a failing sibling in Effect.all rolls back 8 transactions; nothing commits, nothing is left on the server", () =>
    Effect.scoped(Effect.gen(function*() {
      const { run, server, sql } = yield* setup
      yield* sql.unsafe("CREATE TABLE marks (id int NOT NULL)")
      const busy = (i: number) =>
        Transaction.withTransaction(Effect.gen(function*() {
          yield* sql`INSERT INTO marks VALUES (${i})`
          yield* sql`SELECT pg_sleep(0.3)`
        }))
      const sibling = Effect.sleep("100 millis").pipe(Effect.zipRight(Effect.fail("sibling failed" as const)))
      const error = yield* run(Effect.flip(Effect.all([...Array.from({ length: 8 }, (_, i) => busy(i)), sibling], { concurrency: "unbounded" })))
      expect(error).toBe("sibling failed")
      // Once Effect.all has returned, no transaction of it commits later.
      yield* Effect.sleep("600 millis")
      expect((yield* server.query<{ n: number }>("SELECT count(*)::int AS n FROM marks"))[0]!.n).toBe(0)
      const [left] = yield* server.query<{ idle: number; sleeping: number }>(`
        SELECT count(*) FILTER (WHERE state LIKE 'idle in transaction%')::int AS idle,
               count(*) FILTER (WHERE query LIKE 'SELECT pg_sleep(0.3)%' AND state = 'active')::int AS sleeping
        FROM pg_stat_activity WHERE backend_type = 'client backend'`)
      expect(left).toEqual({ idle: 0, sleeping: 0 })
    })), 120_000)

  it.live("a failing statement rolls the whole transaction back; a nested transaction rolls back only its savepoint", () =>
    Effect.scoped(Effect.gen(function*() {
      const { run, server, sql } = yield* setup
      yield* sql.unsafe("CREATE TABLE items (id int PRIMARY KEY)")
      const failed = yield* run(Effect.flip(Transaction.withTransaction(Effect.gen(function*() {
        yield* sql`INSERT INTO items VALUES (1)`
        yield* sql`INSERT INTO items VALUES (1)`
      }))))
      expect(failed._tag).toBe("ConstraintViolation")
      yield* run(Transaction.withTransaction(Effect.gen(function*() {
        yield* sql`INSERT INTO items VALUES (2)`
        const inner = yield* Effect.flip(Transaction.withTransaction(Effect.gen(function*() {
          yield* sql`INSERT INTO items VALUES (3)`
          yield* sql`INSERT INTO items VALUES (2)`
        })))
        expect(inner._tag).toBe("ConstraintViolation")
        yield* sql`INSERT INTO items VALUES (4)`
      })))
      const rows = yield* server.query<{ id: number }>("SELECT id FROM items ORDER BY id")
      expect(rows.map((r) => r.id)).toEqual([2, 4])
    })), 120_000)

  it.live("8 writers moving money at SERIALIZABLE through PgBouncer: serialization failures retried, the books exact", () =>
    Effect.scoped(Effect.gen(function*() {
      const { run, sql } = yield* setup
      yield* run(Bank.setup)
      let attempts = 0
      // Read, then write what was read: only SERIALIZABLE (and its retries) keeps this correct.
      const transfer = (source: number, target: number, amount: number) =>
        Transaction.withTransactionRetry(Effect.gen(function*() {
          attempts++
          const rows = yield* sql<{ id: number; balance: string }>`
            SELECT id, balance::text FROM accounts WHERE id IN (${source}, ${target})`
          const balance = (id: number) => Number(rows.find((r) => r.id === id)!.balance)
          yield* sql`UPDATE accounts SET balance = ${balance(source) - amount} WHERE id = ${source}`
          yield* sql`UPDATE accounts SET balance = ${balance(target) + amount} WHERE id = ${target}`
          yield* sql`INSERT INTO ledger (key, source, target, amount) VALUES (gen_random_uuid(), ${source}, ${target}, ${amount})`
        }), { isolationLevel: "SERIALIZABLE" })
      let commits = 0
      const failures: Array<string> = []
      const writer = Effect.forEach(Array.from({ length: 25 }), () => {
        const source = 1 + Math.floor(Math.random() * Bank.ACCOUNTS)
        const target = 1 + ((source + Math.floor(Math.random() * (Bank.ACCOUNTS - 1))) % Bank.ACCOUNTS)
        return run(transfer(source, target, 1 + Math.floor(Math.random() * 100))).pipe(
          Effect.match({ onSuccess: () => void commits++, onFailure: (e) => void failures.push(isDatabaseError(e) ? e._tag : "other") })
        )
      }, { discard: true })
      yield* Effect.all(Array.from({ length: 8 }, () => writer), { concurrency: "unbounded", discard: true })
      const books = yield* Bank.books(sql)
      console.log(`PgBouncer SERIALIZABLE: ${commits} commits in ${attempts} attempts; failures ${JSON.stringify(failures)}`)
      expect(failures).toEqual([])
      expect(commits).toBe(200)
      expect(attempts).toBeGreaterThan(200) // real conflicts happened and were retried
      expect(books).toEqual({ total: Bank.ACCOUNTS * Bank.OPENING, unbalanced: 0, duplicateKeys: 0, transfers: 200 })
    })), 120_000)
})
