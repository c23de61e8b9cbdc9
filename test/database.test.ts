import { layer } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import * as Reactivity from "@effect/experimental/Reactivity"
import { Deferred, Effect, Exit, Fiber, Option, String as Str } from "effect"
import { execFileSync } from "node:child_process"
import { expect } from "vitest"
import * as Database from "../src/Database.js"
import * as Transaction from "../src/Transaction.js"
import { eventually } from "./support/eventually.js"
import { TestDatabase } from "./support/TestDatabase.js"

const MAX = 3

/** Holds `n` pool clients (each in an open transaction) until `release` completes. */
const holdClients = (n: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const release = yield* Deferred.make<void>()
    const held = yield* Deferred.make<void>()
    let count = 0
    const fibers = yield* Effect.forEach(
      Array.from({ length: n }),
      () =>
        sql.withTransaction(
          Effect.gen(function*() {
            yield* sql`SELECT 1`
            if (++count === n) yield* Deferred.succeed(held, undefined)
            yield* Deferred.await(release)
          })
        ).pipe(Effect.fork)
    )
    yield* Deferred.await(held)
    return {
      release: Effect.zipRight(Deferred.succeed(release, undefined), Fiber.joinAll(fibers))
    }
  })

layer(TestDatabase.layerWith({ maxConnections: MAX, connectTimeout: "4 seconds" }), { timeout: "60 seconds", excludeTestServices: true })(
  "Database pool",
  (it) => {
    it.effect("pool statistics move as connections are taken and returned", () =>
      Effect.gen(function*() {
        const db = yield* Database.Database
        yield* SqlClient.SqlClient.pipe(Effect.flatMap((sql) => sql`SELECT 1`))
        const before = yield* db.poolStats
        expect(before.inUse).toBe(0)
        expect(before.max).toBe(MAX)
        const holders = yield* holdClients(MAX)
        const full = yield* db.poolStats
        expect(full).toMatchObject({ total: MAX, idle: 0, inUse: MAX, waiting: 0 })
        const sql = yield* SqlClient.SqlClient
        const queued = yield* Effect.fork(sql`SELECT 1 AS one`)
        yield* Effect.yieldNow()
        yield* Effect.sleep("50 millis")
        expect((yield* db.poolStats).waiting).toBe(1)
        yield* holders.release
        expect(yield* Fiber.join(queued)).toEqual([{ one: 1 }])
        const after = yield* db.poolStats
        expect(after).toMatchObject({ inUse: 0, waiting: 0, idle: MAX, total: MAX })
      }))

    it.effect("pooled connections have TCP keep-alive on, so a connection whose network went away is noticed while idle", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const [row] = yield* sql<{ port: number }>`SELECT inet_client_port() AS port`
        // The kernel's view of this client's socket: a keep-alive timer runs on it.
        const sockets = execFileSync("ss", ["-tnoH", "state", "established", `( sport = :${row!.port} )`], { encoding: "utf8" })
        expect(sockets).toMatch(/timer:\(keepalive,/)
      }))

    it.effect("interrupting 50 queued reservations leaks no client, and the pool can end", () =>
      Effect.gen(function*() {
        const test = yield* TestDatabase
        // A pool of our own, so that this test can end it.
        const db = yield* Database.make({ url: test.url, maxConnections: MAX, connectTimeout: "10 seconds" }).pipe(
          Effect.provide(Reactivity.layer)
        )
        const sql = db.sql
        const holders = yield* holdClients(MAX).pipe(Effect.provideService(SqlClient.SqlClient, sql))
        // 25 raw reservations and 25 stock sql.withTransaction calls, all queued behind the full pool.
        const started = Date.now()
        const queued = yield* Effect.forEach(
          Array.from({ length: 50 }),
          (_, i) =>
            (i % 2 === 0
              ? Effect.scoped(Effect.flatMap(sql.reserve, (conn) => conn.execute("SELECT 1", [], undefined)))
              : sql.withTransaction(sql`SELECT 1`)).pipe(Effect.fork)
        )
        yield* Effect.sleep("100 millis")
        expect((yield* db.poolStats).waiting).toBe(50)
        yield* Fiber.interruptAll(queued)
        for (const fiber of queued) expect(Exit.isInterrupted(yield* Fiber.await(fiber))).toBe(true)
        // Interruption is not deferred until the pool's connect timeout (10 s here): it comes first.
        expect(Date.now() - started).toBeLessThan(10_000)
        yield* holders.release
        // Every abandoned waiter hands its client straight back.
        yield* Effect.sleep("100 millis")
        const stats = yield* db.poolStats
        expect(stats.waiting).toBe(0)
        expect(stats.inUse).toBe(0)
        // Every client is usable: MAX concurrent transactions each get one.
        const pids = yield* Effect.forEach(
          Array.from({ length: MAX }),
          () =>
            sql.withTransaction(
              Effect.zipLeft(sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`, Effect.sleep("50 millis"))
            ),
          { concurrency: "unbounded" }
        )
        expect(new Set(pids.map((rows) => rows[0]!.pid)).size).toBe(MAX)
        // And the pool ends: nothing is left checked out.
        const ended = yield* Effect.promise(() => db.pool.end()).pipe(Effect.timeoutOption("3 seconds"))
        expect(Option.isSome(ended)).toBe(true)
      }).pipe(Effect.scoped))

    it.effect("a waiter gives up after connectTimeout instead of queueing forever", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const holders = yield* holdClients(MAX)
        const started = Date.now()
        const error = yield* Effect.flip(sql`SELECT 1`)
        const waited = Date.now() - started
        yield* holders.release
        expect(error._tag).toBe("SqlError")
        expect(String((error.cause as Error).message)).toContain("timeout")
        // Not before connectTimeout (a lower bound cannot flake); how late is the benchmark's question.
        expect(waited).toBeGreaterThanOrEqual(3900)
      }))

    it.effect("an interrupted statement is cancelled on the server even when the pool is full", () =>
      Effect.gen(function*() {
        const db = yield* Database.Database
        const sql = yield* SqlClient.SqlClient
        const holders = yield* holdClients(MAX - 1)
        const exit = yield* sql`SELECT pg_sleep(30)`.pipe(Effect.timeout("300 millis"), Effect.exit)
        expect(Exit.isFailure(exit)).toBe(true)
        // The cancel goes over its own socket, not through the (full) pool: the server has no
        // sleeping statement left (a cancel queued behind the pool would find it still running).
        const sleeping = yield* sql<{ n: number }>`
          SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'`
        expect(sleeping[0]!.n).toBe(0)
        yield* holders.release
        expect((yield* db.poolStats).inUse).toBe(0)
      }))

    it.effect("server version and observed statement latency are available", () =>
      Effect.gen(function*() {
        const db = yield* Database.Database
        const test = yield* TestDatabase
        const version = yield* db.serverVersion
        expect(version.major).toBeGreaterThanOrEqual(test.embedded ? 18 : 13)
        expect(version.text).toMatch(/^\d+/)
        const before = yield* db.statementStats
        const sql = yield* SqlClient.SqlClient
        yield* sql`SELECT 1`
        const after = yield* db.statementStats
        expect(after.count).toBe(before.count + 1)
        expect(after.totalMillis).toBeGreaterThan(before.totalMillis)
      }))

    it.effect("the probe connection works while the application pool is full", () =>
      Effect.gen(function*() {
        const db = yield* Database.Database
        const holders = yield* holdClients(MAX)
        const rows = yield* db.withProbeConnection((client) =>
          Effect.promise(() => client.query("SELECT current_setting('application_name') AS name"))
        ).pipe(Effect.timeout("2 seconds"))
        yield* holders.release
        expect(rows.rows[0].name).toBe("effect-pg-resilience probe")
      }))

    it.effect("PgClient is served from the same pool and keeps its config redacted", () =>
      Effect.gen(function*() {
        const pg = yield* PgClient.PgClient
        const rows = yield* pg<{ name: string }>`SELECT current_setting('application_name') AS name`
        expect(rows[0]!.name).toBe("effect-pg-resilience")
        expect(String(pg.config.url)).toBe("<redacted>")
      }))

    it.effect("make returns the service; the layer provides its client as SqlClient and PgClient", () =>
      Effect.gen(function*() {
        const db = yield* Database.Database
        expect(yield* SqlClient.SqlClient).toBe(db.sql)
        expect(yield* PgClient.PgClient).toBe(db.sql)
        expect(db.config.maxConnections).toBe(MAX)
      }))
  }
)

/** Sessions of this database with the given application_name, seen from a connection outside the pool. */
const sessionsNamed = (name: string) =>
  Effect.flatMap(TestDatabase, (test) =>
    Effect.scoped(Effect.flatMap(test.connect(), (client) =>
      Effect.promise(() =>
        client.query<{ pid: number }>(
          "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1",
          [name]
        )
      ))).pipe(Effect.map((result) => result.rows.map((row) => row.pid))))


layer(
  TestDatabase.layerWith({
    minConnections: 3,
    maxConnections: 5,
    applicationName: "warm-up-test",
    transformQueryNames: Str.camelToSnake,
    transformResultNames: Str.snakeToCamel
  }),
  { timeout: "60 seconds", excludeTestServices: true }
)("Database pool options of its own", (it) => {
  it.effect("minConnections are opened when the layer is built, before any statement", () =>
    Effect.gen(function*() {
      // No statement has run on this pool: the connections are the warm-up's.
      expect((yield* eventually(sessionsNamed("warm-up-test"), (pids) => pids.length >= 3)).length).toBe(3)
      const db = yield* Database.Database
      expect(yield* db.poolStats).toMatchObject({ total: 3, idle: 3, inUse: 0 })
    }))

  it.effect("the name transforms apply to statements run by Transaction.withTransaction", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`CREATE TABLE people (person_id serial PRIMARY KEY, first_name text NOT NULL)`
      const rows = yield* Transaction.withTransaction(
        Effect.zipRight(
          sql`INSERT INTO people ${sql.insert({ firstName: "Ada" })}`,
          sql`SELECT person_id, first_name FROM people`
        )
      )
      expect(rows).toEqual([{ personId: 1, firstName: "Ada" }])
    }))
})
