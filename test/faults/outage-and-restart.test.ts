/**
 * Fault suite: the server is down when the application starts, restarts under load, and has its
 * backends killed under load. Every scenario runs on a PostgreSQL of its own (the run's major
 * version) that it stops and starts for real.
 */
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Effect, Fiber, Layer, Redacted, Ref } from "effect"
import * as Database from "../../src/Database.js"
import { isDatabaseError } from "../../src/Errors.js"
import * as Transaction from "../../src/Transaction.js"
import * as Bank from "../support/Bank.js"
import * as ControlledServer from "../support/ControlledServer.js"
import * as FaultProxy from "../support/FaultProxy.js"

const app = (url: string, config: Omit<Database.DatabaseConfigInput, "url"> = {}) =>
  Layer.build(Database.layer({ url: Redacted.make(url), applicationName: "fault-app", ...config }))

/** Sessions idle in transaction and locks held by the application's sessions, seen by a superuser. */
const serverLeftovers = (server: ControlledServer.ControlledServer) =>
  Effect.map(
    server.query<{ idle_in_tx: number; locks: number }>(`
      SELECT
        (SELECT count(*)::int FROM pg_stat_activity
          WHERE application_name = 'fault-app' AND state LIKE 'idle in transaction%') AS idle_in_tx,
        (SELECT count(*)::int FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE a.application_name = 'fault-app') AS locks`),
    (rows) => rows[0]!
  )

describe("Faults: the server down, restarted, its backends killed", () => {
  it.live("down at the first transaction: withTransaction works again at the first try once the server is up", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* ControlledServer.make()
      yield* server.stop("fast")
      const context = yield* app(server.url, { maxConnections: 4, connectTimeout: "1 second" })
      const sql = Effect.runSync(Effect.provide(SqlClient.SqlClient, context))
      const tx = Transaction.withTransaction(sql<{ n: number }>`SELECT 42 AS n`).pipe(Effect.provide(context))
      // The ordinary start-up order of Kubernetes or docker-compose: the app is up first.
      for (let i = 0; i < 5; i++) {
        const error = yield* Effect.flip(tx)
        expect(error._tag).toBe("ConnectionError")
      }
      yield* server.start
      // The very first transaction after the server is reachable commits, and every later one.
      const first = yield* tx
      expect(first[0]!.n).toBe(42)
      for (let i = 0; i < 20; i++) expect((yield* tx)[0]!.n).toBe(42)
      expect((yield* sql<{ n: number }>`SELECT 1 AS n`)[0]!.n).toBe(1)
    })), 120_000)

  it.live("refused connections at start (a proxy that refuses): the first transaction after it listens commits", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* ControlledServer.make()
      const proxy = yield* FaultProxy.make({ host: "127.0.0.1", port: server.port })
      yield* proxy.setMode("refuse")
      const context = yield* app(proxy.via(server.url), { maxConnections: 4, connectTimeout: "1 second" })
      const tx = Effect.flatMap(SqlClient.SqlClient, (sql) => Transaction.withTransaction(sql<{ n: number }>`SELECT 7 AS n`))
        .pipe(Effect.provide(context))
      for (let i = 0; i < 40; i++) expect((yield* Effect.flip(tx))._tag).toBe("ConnectionError")
      yield* proxy.setMode("pass")
      expect((yield* tx)[0]!.n).toBe(7)
    })), 120_000)

  it.live("a fast restart under 16 writers: commits resume soon after the server is back, and nothing is left behind", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* ControlledServer.make()
      const context = yield* app(server.url, { maxConnections: 8, connectTimeout: "2 seconds" })
      const sql = Effect.runSync(Effect.provide(SqlClient.SqlClient, context))
      const db = Effect.runSync(Effect.provide(Database.Database, context))
      yield* Bank.setup.pipe(Effect.provide(context))
      const commits = yield* Ref.make<Array<number>>([])
      const failures = yield* Ref.make<Array<string>>([])
      let running = true
      const writer = Effect.gen(function*() {
        while (running) {
          const { effect } = Bank.randomTransfer({ timeout: "3 seconds" })
          const exit = yield* Effect.exit(effect.pipe(Effect.provide(context)))
          if (exit._tag === "Success") yield* Ref.update(commits, (c) => [...c, Date.now()])
          else {
            yield* Ref.update(failures, (f) => [...f, String(exit.cause._tag === "Fail" && isDatabaseError(exit.cause.error) ? exit.cause.error._tag : exit.cause._tag)])
            yield* Effect.sleep("20 millis")
          }
        }
      })
      const writers = yield* Effect.fork(Effect.all(Array.from({ length: 16 }, () => writer), { concurrency: "unbounded" }))
      yield* Effect.sleep("1500 millis")
      const before = (yield* Ref.get(commits)).length
      yield* server.stop("fast")
      yield* Effect.sleep("1 second")
      yield* server.start
      const back = Date.now()
      yield* Effect.sleep("2 seconds")
      running = false
      yield* Fiber.join(writers)
      const after = (yield* Ref.get(commits)).filter((t) => t >= back)
      expect(before).toBeGreaterThan(0)
      expect(after.length).toBeGreaterThan(0)
      const firstCommitMillis = Math.min(...after) - back
      console.log(`restart (PostgreSQL ${server.major}): first commit ${firstCommitMillis} ms after the server was back; ${before} commits before, ${after.length} after; failures seen by callers: ${JSON.stringify(Bank.countBy(yield* Ref.get(failures)))}`)
      expect(firstCommitMillis).toBeLessThan(1500)
      // Every failure a caller saw was typed, and of the kinds a restart explains.
      for (const tag of yield* Ref.get(failures)) expect(["ConnectionError", "CommitOutcomeUnknown", "TransactionTimeout"]).toContain(tag)
      const books = yield* Bank.books(sql)
      expect(books.total).toBe(Bank.ACCOUNTS * Bank.OPENING)
      expect(books.unbalanced).toBe(0)
      expect(books.duplicateKeys).toBe(0)
      expect((yield* db.poolStats).inUse).toBe(0)
      expect(yield* serverLeftovers(server)).toEqual({ idle_in_tx: 0, locks: 0 })
    })), 120_000)

  it.live("backend kills under 16 writers: books exact, no key twice, every failure typed and every unknown outcome checked", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* ControlledServer.make()
      const context = yield* app(server.url, { maxConnections: 8, connectTimeout: "2 seconds" })
      const sql = Effect.runSync(Effect.provide(SqlClient.SqlClient, context))
      const db = Effect.runSync(Effect.provide(Database.Database, context))
      yield* Bank.setup.pipe(Effect.provide(context))
      const failures: Array<{ tag: string; key: string }> = []
      let commits = 0
      let running = true
      const writer = Effect.gen(function*() {
        while (running) {
          const { effect, key } = Bank.randomTransfer()
          const exit = yield* Effect.exit(effect.pipe(Effect.provide(context)))
          if (exit._tag === "Success") commits++
          else {
            const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
            failures.push({ tag: isDatabaseError(error) ? error._tag : `untyped ${exit.cause._tag}`, key })
          }
        }
      })
      const writers = yield* Effect.fork(Effect.all(Array.from({ length: 16 }, () => writer), { concurrency: "unbounded" }))
      let kills = 0
      const admin = yield* server.session
      // At least 8 s of kills, and on until 50 (a slow machine reconnects slower), at most 60 s.
      const started = Date.now()
      while (Date.now() - started < 8_000 || (kills < 50 && Date.now() - started < 60_000)) {
        yield* Effect.sleep("100 millis")
        const killed = yield* Effect.promise(() =>
          admin.query<{ n: number }>(`
            SELECT count(pg_terminate_backend(pid))::int AS n FROM (
              SELECT pid FROM pg_stat_activity WHERE application_name = 'fault-app' ORDER BY random() LIMIT 1) victim`)
        )
        kills += killed.rows[0]!.n
      }
      running = false
      yield* Fiber.join(writers)
      // Each unknown outcome is checked against what the server really did.
      let unknownCommitted = 0
      for (const failure of failures.filter((f) => f.tag === "CommitOutcomeUnknown")) {
        unknownCommitted += yield* Bank.committed(sql, failure.key)
      }
      const books = yield* Bank.books(sql)
      console.log(`kills (PostgreSQL ${server.major}): ${kills} backends killed; ${commits} commits; failures seen by callers: ${JSON.stringify(Bank.countBy(failures.map((f) => f.tag)))}; of the unknown outcomes ${unknownCommitted} had committed`)
      expect(kills).toBeGreaterThanOrEqual(50)
      expect(commits).toBeGreaterThan(100)
      for (const failure of failures) expect(["ConnectionError", "CommitOutcomeUnknown"]).toContain(failure.tag)
      expect(books.total).toBe(Bank.ACCOUNTS * Bank.OPENING)
      expect(books.unbalanced).toBe(0)
      expect(books.duplicateKeys).toBe(0)
      // What committed is exactly the successes plus the unknown outcomes that did commit.
      expect(books.transfers).toBe(commits + unknownCommitted)
      expect((yield* db.poolStats).inUse).toBe(0)
      expect(yield* serverLeftovers(server)).toEqual({ idle_in_tx: 0, locks: 0 })
    })), 120_000)
})
