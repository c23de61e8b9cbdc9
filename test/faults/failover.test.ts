/**
 * Fault suite: failover. A primary and a streaming standby made with the machine's PostgreSQL
 * binaries (`initdb`, `pg_basebackup -R`, random ports); the application connects through a libpq
 * multi-host URL with `target_session_attrs=read-write`. Under a transfer load the primary is stopped
 * and the standby promoted with `pg_ctl promote`: the pool must find the new primary on its own, every
 * failure a caller sees must be typed, and the books must balance on the new primary (no committed
 * transfer lost, none applied twice).
 */
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Effect, Fiber, Layer, Redacted } from "effect"
import * as Database from "../../src/Database.js"
import { isDatabaseError } from "../../src/Errors.js"
import * as Transaction from "../../src/Transaction.js"
import * as Bank from "../support/Bank.js"
import { eventually } from "../support/eventually.js"
import * as Standby from "../support/Standby.js"

/** The primary's URL with the standby as a second host, as libpq writes it. */
const multiHostUrl = (primary: Standby.Node, standby: Standby.Node, attrs: string) => {
  const url = new URL(primary.url)
  const hosts = `127.0.0.1:${primary.port},127.0.0.1:${standby.port}`
  return `postgres://${url.username}:${url.password}@${hosts}${url.pathname}?target_session_attrs=${attrs}`
}

/** Polls until `done`, for at most 20 s. */
const waitFor = <A>(label: string, probe: Effect.Effect<A>, done: (a: A) => boolean) =>
  eventually(probe, done, "20 seconds", label)

describe("Faults: failover to a promoted standby", () => {
  it.live("a read-write pool skips the standby, then finds it once promoted, without a restart", () =>
    Effect.scoped(Effect.gen(function*() {
      const primary = yield* Standby.make()
      const standby = yield* primary.standby({ mode: "streaming" })
      // The standby is listed first: a read-write pool must skip it.
      const context = yield* Layer.build(Database.layer({
        url: Redacted.make(multiHostUrl(standby, primary, "read-write")),
        maxConnections: 2,
        connectTimeout: "2 seconds",
        applicationName: "failover-app"
      }))
      const sql = yield* Effect.provide(SqlClient.SqlClient, context)
      const db = yield* Effect.provide(Database.Database, context)
      const whereAmI = sql<{ port: number; standby: boolean }>`
        SELECT current_setting('port')::int AS port, pg_is_in_recovery() AS standby`
      const first = yield* Transaction.withTransaction(whereAmI).pipe(Effect.provide(context))
      expect(first[0]).toEqual({ port: primary.port, standby: false })
      // A standby-only pool on the same servers goes the other way.
      const readers = yield* Layer.build(Database.layer({
        url: Redacted.make(multiHostUrl(primary, standby, "standby")),
        maxConnections: 1,
        applicationName: "failover-reader"
      }))
      const read = yield* Effect.flatMap(SqlClient.SqlClient, (s) => s<{ port: number }>`SELECT current_setting('port')::int AS port`)
        .pipe(Effect.provide(readers))
      expect(read[0]!.port).toBe(standby.port)

      yield* primary.stop
      // While no server is writable, the failure is typed.
      const during = yield* Effect.flip(Transaction.withTransaction(whereAmI, { timeout: "1 second" }).pipe(Effect.provide(context)))
      expect(isDatabaseError(during)).toBe(true)
      expect(["ConnectionError", "TransactionTimeout"]).toContain(during._tag)
      yield* standby.promote
      const after = yield* Transaction.withTransaction(whereAmI).pipe(Effect.provide(context))
      expect(after[0]).toEqual({ port: standby.port, standby: false })
      expect((yield* db.poolStats).inUse).toBe(0)
    })), 120_000)

  it.live("a transfer load through stop and promote: commits resume on the new primary, every failure typed, the books exact", () =>
    Effect.scoped(Effect.gen(function*() {
      const primary = yield* Standby.make()
      const standby = yield* primary.standby({ mode: "streaming" })
      const context = yield* Layer.build(Database.layer({
        url: Redacted.make(multiHostUrl(primary, standby, "read-write")),
        maxConnections: 8,
        connectTimeout: "2 seconds",
        applicationName: "failover-app"
      }))
      const sql = yield* Effect.provide(SqlClient.SqlClient, context)
      const db = yield* Effect.provide(Database.Database, context)
      yield* Bank.setup.pipe(Effect.provide(context))
      yield* waitFor(
        "the standby to replay the accounts",
        standby.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'accounts'"),
        (rows) => rows[0]?.n === 1
      )

      const successes: Array<{ key: string; at: number }> = []
      const failures: Array<{ tag: string; key: string }> = []
      let running = true
      // Six writers with the default retries, two with none: those see the switch as typed failures.
      const writer = (options?: Transaction.TransactionConfigInput) => Effect.gen(function*() {
        while (running) {
          const { effect, key } = Bank.randomTransfer(options)
          const exit = yield* Effect.exit(effect.pipe(Effect.provide(context)))
          if (exit._tag === "Success") successes.push({ key, at: Date.now() })
          else {
            const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
            failures.push({ tag: isDatabaseError(error) ? error._tag : `untyped ${exit.cause._tag}`, key })
          }
        }
      })
      const writers = yield* Effect.fork(Effect.all(
        Array.from({ length: 8 }, (_, i) => writer(i < 2 ? { maxRetries: 0 } : undefined)),
        { concurrency: "unbounded" }
      ))
      yield* Effect.sleep("1500 millis")
      const beforeStop = successes.length

      const stopStarted = Date.now()
      yield* primary.stop
      const stopped = Date.now()
      // As a failover manager would, after noticing: 2 s with no writable server.
      yield* Effect.sleep("2 seconds")
      const promoteStarted = Date.now()
      yield* standby.promote
      const promoted = Date.now()
      yield* waitFor("a commit on the new primary", Effect.sync(() => successes.some((s) => s.at > promoted)), (x) => x)
      yield* Effect.sleep("1500 millis")
      running = false
      yield* Fiber.join(writers)

      const firstAfter = successes.find((s) => s.at > stopped)!
      let unknownCommitted = 0
      for (const failure of failures.filter((f) => f.tag === "CommitOutcomeUnknown")) {
        unknownCommitted += yield* Bank.committed(sql, failure.key)
      }
      const [landed] = yield* sql<{ n: number }>`
        SELECT count(DISTINCT key)::int AS n FROM ledger WHERE key = ANY(${successes.map((s) => s.key)}::uuid[])`
      const [onNew] = yield* sql<{ port: number; standby: boolean }>`
        SELECT current_setting('port')::int AS port, pg_is_in_recovery() AS standby`
      const books = yield* Bank.books(sql)
      console.log(
        `failover (PostgreSQL ${primary.major}): ${beforeStop} commits before the stop; stop took ${stopped - stopStarted} ms, ` +
          `2 s without a primary, promote ${promoted - promoteStarted} ms; first commit on the new primary ${firstAfter.at - stopStarted} ms after the stop began ` +
          `(${firstAfter.at - promoteStarted} ms after promote began); ${successes.length} commits in all; failures seen by callers: ` +
          `${JSON.stringify(Bank.countBy(failures.map((f) => f.tag)))}; of the unknown outcomes ${unknownCommitted} had committed`
      )
      expect(onNew).toEqual({ port: standby.port, standby: false })
      expect(beforeStop).toBeGreaterThan(20)
      expect(successes.filter((s) => s.at > promoted).length).toBeGreaterThan(20)
      // The writers without retries met the switch: every failure they saw is a typed member of the union.
      expect(failures.length).toBeGreaterThan(0)
      for (const failure of failures) expect(failure.tag).not.toMatch(/^untyped/)
      // No committed transfer lost: every call that succeeded is in the new primary's ledger.
      expect(landed!.n).toBe(successes.length)
      expect(books.total).toBe(Bank.ACCOUNTS * Bank.OPENING)
      expect(books.unbalanced).toBe(0)
      expect(books.duplicateKeys).toBe(0)
      expect(books.transfers).toBe(successes.length + unknownCommitted)
      expect((yield* db.poolStats).inUse).toBe(0)
    })), 180_000)

  it.live("a pooled connection on a server turned read-only is discarded, not reused; withTransactionRetry carries the work to the new primary", () =>
    Effect.scoped(Effect.gen(function*() {
      const primary = yield* Standby.make()
      const standby = yield* primary.standby({ mode: "streaming" })
      const context = yield* Layer.build(Database.layer({
        url: Redacted.make(multiHostUrl(primary, standby, "read-write")),
        maxConnections: 1, // one pooled connection: a reused one would be that very one
        applicationName: "failover-app"
      }))
      const sql = yield* Effect.provide(SqlClient.SqlClient, context)
      yield* primary.query("CREATE TABLE notes (port int NOT NULL)")
      yield* waitFor("the standby to replay the table", standby.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'notes'"), (rows) => rows[0]?.n === 1)
      const write = Transaction.withTransactionRetry(
        sql<{ port: number }>`INSERT INTO notes VALUES (current_setting('port')::int) RETURNING port`
      ).pipe(Effect.provide(context))
      expect((yield* write)[0]!.port).toBe(primary.port)
      // A write the caller made read-only fails with 25006 on a writable primary: its own mistake,
      // typed, and the connection is kept.
      const pidBefore = (yield* sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`)[0]!.pid
      const own = yield* Effect.flip(Transaction.withTransaction(sql`INSERT INTO notes VALUES (0)`, { readOnly: true })
        .pipe(Effect.provide(context)))
      expect(own._tag).toBe("QueryError")
      expect((yield* sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`)[0]!.pid).toBe(pidBefore)

      // The old primary turns read-only (as a demoted or disk-full server does); the standby is promoted.
      yield* primary.query("ALTER SYSTEM SET default_transaction_read_only = on")
      yield* primary.query("SELECT pg_reload_conf()")
      yield* standby.promote
      const moved = yield* write
      expect(moved[0]!.port).toBe(standby.port)
      // The pooled connection to the read-only server was closed, not handed out again.
      const onOld = yield* waitFor("the discarded connection to close", primary.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'failover-app'"), (rows) => rows[0]?.n === 0)
      expect(onOld[0]!.n).toBe(0)
      expect((yield* sql<{ port: number }>`SELECT current_setting('port')::int AS port`)[0]!.port).toBe(standby.port)
      // Nothing of the failed attempt was saved on the old primary.
      expect((yield* primary.query<{ n: number }>("SELECT count(*)::int AS n FROM notes"))[0]!.n).toBe(1)
    })), 120_000)

  it.live("one host, no target_session_attrs: a connection whose server turned read-only under it is closed, not reused", () =>
    Effect.scoped(Effect.gen(function*() {
      const primary = yield* Standby.make()
      const context = yield* Layer.build(Database.layer({
        url: Redacted.make(primary.url),
        maxConnections: 1,
        applicationName: "failover-app"
      }))
      const sql = yield* Effect.provide(SqlClient.SqlClient, context)
      yield* primary.query("CREATE TABLE notes (n int NOT NULL)")
      const pid = sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.pipe(Effect.map((rows) => rows[0]!.pid))
      const write = Transaction.withTransaction(sql`INSERT INTO notes VALUES (1)`).pipe(Effect.provide(context))
      yield* write
      const before = yield* pid
      // The caller's own read-only transaction: its mistake, typed, the connection kept.
      const own = yield* Effect.flip(Transaction.withTransaction(sql`INSERT INTO notes VALUES (2)`, { readOnly: true })
        .pipe(Effect.provide(context)))
      expect(own._tag).toBe("QueryError")
      expect(yield* pid).toBe(before)
      // The server turns read-only under the pooled session (a primary demoted behind its address).
      yield* primary.query("ALTER SYSTEM SET default_transaction_read_only = on")
      yield* primary.query("SELECT pg_reload_conf()")
      // pg_reload_conf only signals the postmaster: once a new session sees the setting, the
      // postmaster has reloaded and signalled every backend, the pooled one included.
      yield* waitFor(
        "the reload",
        primary.query<{ ro: string }>("SELECT current_setting('default_transaction_read_only') AS ro"),
        (rows) => rows[0]?.ro === "on"
      )
      const demoted = yield* Effect.flip(write)
      expect(demoted._tag).toBe("ConnectionError")
      // That connection is gone; the next one starts read-only, so a write there is refused as such
      // (no retry loop against a server that is read-only from the start).
      const after = yield* pid
      expect(after).not.toBe(before)
      const refused = yield* Effect.flip(Transaction.withTransactionRetry(sql`INSERT INTO notes VALUES (3)`).pipe(Effect.provide(context)))
      expect(refused._tag).toBe("QueryError")
      expect(yield* pid).toBe(after)
      expect((yield* primary.query<{ n: number }>("SELECT count(*)::int AS n FROM notes"))[0]!.n).toBe(1)
    })), 120_000)
})
