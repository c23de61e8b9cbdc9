/**
 * Health checks an on-call engineer can trust, on a PostgreSQL of this file's own (the run's major
 * version, via ControlledServer): 20 connection slots, pg_stat_statements preloaded, prepared
 * transactions enabled, two databases, and a real role without pg_monitor. Each test reproduces a
 * case where the check used to mislead (a false CRITICAL, a blind HEALTHY, one database only) or a
 * check check_postgres has (prepared transactions, slots, sequences, tables).
 */
import { layer } from "@effect/vitest"
import { Context, Effect, Either, Fiber, Layer, Redacted, type Scope } from "effect"
import { randomBytes } from "node:crypto"
import Pg from "pg"
import { expect } from "vitest"
import * as Database from "../src/Database.js"
import * as Health from "../src/Health.js"
import * as ControlledServer from "./support/ControlledServer.js"

interface HealthServer {
  readonly server: ControlledServer.ControlledServer
  /** Superuser URL of a database. */
  readonly urlOf: (database: string) => string
  /** URL of a database as the restricted role (no pg_monitor, no pg_read_all_stats). */
  readonly restrictedUrlOf: (database: string) => string
  readonly restrictedRole: string
}

class Server extends Context.Tag("test/HealthServer")<Server, HealthServer>() {}

const MAX_CONNECTIONS = 20
const RESERVED = 3

const ServerLive = Layer.scoped(
  Server,
  Effect.gen(function*() {
    const server = yield* ControlledServer.make({
      max_connections: String(MAX_CONNECTIONS),
      superuser_reserved_connections: String(RESERVED),
      shared_preload_libraries: "pg_stat_statements",
      max_prepared_transactions: "5",
      // archive_command is set with ALTER SYSTEM (a -c flag would override it), so that a test can change it.
      archive_mode: "on"
    })
    const role = `watcher_${randomBytes(3).toString("hex")}`
    const password = randomBytes(9).toString("hex")
    yield* server.query("ALTER SYSTEM SET archive_command = 'true'")
    yield* server.query("SELECT pg_reload_conf()")
    yield* server.query("CREATE DATABASE app")
    yield* server.query("CREATE DATABASE other")
    yield* server.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`)
    const urlOf = (database: string) => {
      const url = new URL(server.url)
      url.pathname = `/${database}`
      return url.toString()
    }
    yield* Effect.promise(async () => {
      const app = await connect(urlOf("app"))
      await app.query("CREATE EXTENSION pg_stat_statements").finally(() => app.end())
    })
    return {
      server,
      urlOf,
      restrictedUrlOf: (database: string) => {
        const url = new URL(urlOf(database))
        url.username = role
        url.password = password
        return url.toString()
      },
      restrictedRole: role
    }
  })
)

const connect = async (url: string, options: Omit<Pg.ClientConfig, "connectionString"> = {}) => {
  const client = new Pg.Client({ ...options, connectionString: url })
  client.on("error", () => {})
  await client.connect()
  return client
}

/** A raw session, closed with the scope. */
const session = (url: string, options: Omit<Pg.ClientConfig, "connectionString"> = {}): Effect.Effect<Pg.Client, never, Scope.Scope> =>
  Effect.acquireRelease(Effect.promise(() => connect(url, options)), (c) => Effect.promise(() => c.end().catch(() => {})))

const sql = (client: Pg.Client, text: string) => Effect.promise(() => client.query(text))

/** The backend pid of a raw client (node-postgres keeps it from the server's BackendKeyData). */
const pidOf = (client: Pg.Client) => (client as unknown as { processID: number }).processID

/** A service of its own, as each `pg-resilience health` run has: its first check is its only one. */
const healthOn = (url: string, options: Health.DatabaseHealthOptions = {}) =>
  Health.DatabaseHealth.layer({ probeTimeout: "5 seconds", ...options }).pipe(
    Layer.provide(Database.layer({ url: Redacted.make(url), connectTimeout: "5 seconds" })),
    Layer.orDie
  )

const checkOnce = (url: string, options: Health.DatabaseHealthOptions = {}) =>
  Effect.provide(Health.performHealthCheck(), healthOn(url, options))

/** Thresholds where a second is enough to count (so that tests need not wait 30 s). */
const quick = (degraded: Partial<Health.LevelThresholds>): Health.HealthThresholdsInput => ({ degraded })

layer(ServerLive, { timeout: "240 seconds", excludeTestServices: true })("health on a server of its own", (it) => {
  it.effect("without pg_monitor, background processes are not counted as client connections (no false CRITICAL)", () =>
    Effect.gen(function*() {
      const { restrictedUrlOf, urlOf } = yield* Server
      // 11 real sessions (hidden from the role), 5 of them in another database, and the probe: 12 of
      // the 17 slots for ordinary sessions.
      const open = 11
      yield* Effect.forEach(Array.from({ length: open }), (_, i) => session(urlOf(i < 5 ? "other" : "app")))
      const check = yield* checkOnce(restrictedUrlOf("app"))
      const available = MAX_CONNECTIONS - RESERVED
      expect(check.details.serverConnections).toEqual({ used: open + 1, available })
      expect(check.figures.serverConnectionUsage.value).toBeCloseTo(((open + 1) / available) * 100, 1)
      expect(check.figures.serverConnectionUsage.status).toBe("DEGRADED")
    }).pipe(Effect.scoped))

  it.effect("a one-shot check judges now: a slow statement earlier is history, and the window is named", () =>
    Effect.gen(function*() {
      const { urlOf } = yield* Server
      const app = yield* session(urlOf("app"))
      yield* sql(app, "SELECT pg_stat_statements_reset()")
      yield* sql(app, "SELECT pg_sleep(0.6)")
      yield* sql(app, "SELECT pg_sleep(0.6)")
      const check = yield* checkOnce(urlOf("app"))
      expect(check.details.avgQueryTimeSource).toBe("pg_stat_statements")
      expect(check.figures.avgQueryTime.status).not.toBe("CRITICAL")
      expect(check.figures.avgQueryTime.value ?? 0).toBeLessThan(100)
      expect(check.status).toBe("HEALTHY")
      expect(check.details.window?.description).toMatch(/^two samples [\d.]+ s apart \(first check\)$/)
      expect(check.details.window?.seconds).toBeGreaterThanOrEqual(0.9)
      // What does run in the window counts: a statement that ends between the two samples.
      const during = yield* Effect.fork(Effect.promise(() => app.query("SELECT pg_sleep(1.5)")))
      const busy = yield* checkOnce(urlOf("app"), { firstCheckWindow: "3 seconds" })
      yield* Fiber.join(during)
      expect(busy.figures.avgQueryTime.value ?? 0).toBeGreaterThanOrEqual(1000)
    }).pipe(Effect.scoped))

  it.effect("without pg_read_all_stats, other roles' statements (our probes among them) stay out of the average", () =>
    Effect.gen(function*() {
      const { restrictedRole, restrictedUrlOf, urlOf } = yield* Server
      const admin = yield* session(urlOf("app"))
      const own = yield* session(restrictedUrlOf("app"))
      yield* Effect.scoped(Effect.gen(function*() {
        const health = yield* Layer.build(healthOn(restrictedUrlOf("app"), { firstCheckWindow: 0 }))
        const check = Effect.provide(Health.performHealthCheck(), health)
        yield* check // baseline
        // The role's own slow statements...
        yield* sql(own, "SELECT pg_sleep(0.5)")
        yield* sql(own, "SELECT pg_sleep(0.5)")
        // ...and, hidden from it, another role's: a slower one and a monitor's many cheap probes.
        yield* sql(admin, "SELECT pg_sleep(0.8)")
        const superuserHealth = yield* Layer.build(healthOn(urlOf("app"), { firstCheckWindow: 0 }))
        yield* Effect.repeatN(Effect.provide(Health.performHealthCheck(), superuserHealth), 9)
        const result = yield* check
        expect(result.details.avgQueryTimeSource).toBe("pg_stat_statements")
        expect(result.figures.avgQueryTime.value).toBeGreaterThanOrEqual(500)
        expect(result.figures.avgQueryTime.value).toBeLessThan(600)
        expect(result.figures.avgQueryTime.status).toBe("CRITICAL")
        const advice = result.recommendations.find((r) => r.startsWith("Statements take"))!
        expect(advice).toMatch(/query id -?\d+ \(mean 5\d\d ms over 2 calls\)/)
        expect(advice).not.toContain("query id null")
        expect(result.recommendations.join(" ")).toContain(`GRANT pg_read_all_stats TO ${restrictedRole}`)
      }))
    }).pipe(Effect.scoped))

  it.effect("a session it cannot see, idle in transaction, makes the verdict UNKNOWN, not HEALTHY", () =>
    Effect.gen(function*() {
      const { restrictedRole, restrictedUrlOf, urlOf } = yield* Server
      const other = yield* session(urlOf("app"), { application_name: "forgotten" })
      yield* sql(other, "BEGIN; SELECT 1")
      const check = yield* checkOnce(restrictedUrlOf("app"))
      expect(check.figures.idleInTransactionSeconds.status).toBe("UNKNOWN")
      expect(check.status).toBe("UNKNOWN")
      expect(check.message).toMatch(/^UNKNOWN: could not assess .*oldest session idle in transaction/)
      expect(check.recommendations.join(" ")).toContain(`GRANT pg_monitor TO ${restrictedRole}`)
      // The same role told to ignore what it cannot see: HEALTHY, as asked.
      const ignoring = yield* checkOnce(restrictedUrlOf("app"), {
        thresholds: {
          whenUnknown: { idleInTransactionSeconds: "ignore", longestTransactionSeconds: "ignore", blockedSeconds: "ignore" }
        }
      })
      expect(ignoring.status).toBe("HEALTHY")
      yield* sql(other, "ROLLBACK")
    }).pipe(Effect.scoped))

  it.effect("server-wide figures see the other databases of the server, and name the database", () =>
    Effect.gen(function*() {
      const { urlOf } = yield* Server
      const idle = yield* session(urlOf("other"), { application_name: "elsewhere" })
      const holder = yield* session(urlOf("other"))
      const waiter = yield* session(urlOf("other"))
      yield* sql(idle, "BEGIN; SELECT 1")
      yield* sql(holder, "CREATE TABLE IF NOT EXISTS hot (id int PRIMARY KEY); INSERT INTO hot VALUES (1) ON CONFLICT DO NOTHING")
      yield* sql(holder, "BEGIN; UPDATE hot SET id = 1 WHERE id = 1")
      const waiting = waiter.query("UPDATE hot SET id = 1 WHERE id = 1").catch(() => undefined)
      yield* Effect.sleep("1500 millis")
      const check = yield* checkOnce(urlOf("app"), {
        thresholds: quick({ idleInTransactionSeconds: 1, longestTransactionSeconds: 1, blockedSeconds: 1 })
      })
      expect(check.figures.idleInTransactionSeconds.value).toBeGreaterThanOrEqual(1)
      expect(check.figures.idleInTransactionSeconds.status).toBe("DEGRADED")
      expect(check.details.idleInTransaction?.database).toBe("other")
      expect(check.details.longestTransaction?.database).toBe("other")
      expect(check.figures.blockedSeconds.status).toBe("DEGRADED")
      expect(check.details.blocked?.[0]).toMatchObject({ pid: pidOf(waiter), database: "other" })
      expect(check.recommendations.join("\n")).toContain("in database other")
      yield* sql(holder, "ROLLBACK")
      yield* Effect.promise(() => waiting)
      yield* sql(idle, "ROLLBACK")
    }).pipe(Effect.scoped))

  it.effect("an idle transaction, a blocked session and a real deadlock show up in their figures", () =>
    Effect.gen(function*() {
      const { urlOf } = yield* Server
      const admin = yield* session(urlOf("app"))
      yield* sql(admin, "CREATE TABLE IF NOT EXISTS pair (id int PRIMARY KEY, n int)")
      yield* sql(admin, "INSERT INTO pair VALUES (1, 0), (2, 0) ON CONFLICT DO NOTHING")
      const health = yield* Layer.build(healthOn(urlOf("app"), {
        thresholds: quick({ idleInTransactionSeconds: 1, blockedSeconds: 1, longestTransactionSeconds: 1 })
      }))
      const check = Effect.provide(Health.performHealthCheck(), health)
      yield* check // baseline for the deadlock counter
      const holder = yield* session(urlOf("app"), { application_name: "holder" })
      const waiter = yield* session(urlOf("app"))
      yield* sql(holder, "BEGIN; UPDATE pair SET n = n + 1 WHERE id = 1")
      const blocked = waiter.query("UPDATE pair SET n = n + 1 WHERE id = 1").catch(() => undefined)
      yield* Effect.sleep("1200 millis")
      const seen = yield* check
      expect(seen.details.idleInTransaction).toMatchObject({ count: 1, oldestPid: pidOf(holder), aborted: false, locks: 3, holdsHorizon: true })
      expect(seen.figures.idleInTransactionSeconds.value).toBeGreaterThanOrEqual(1)
      expect(seen.figures.idleInTransactionSeconds.status).toBe("DEGRADED")
      expect(seen.details.blocked).toEqual([{ pid: pidOf(waiter), blockedBy: [pidOf(holder)], seconds: expect.any(Number), database: "app" }])
      expect(seen.figures.blockedSeconds.status).toBe("DEGRADED")
      const text = seen.recommendations.join("\n")
      expect(text).toContain(`pid ${pidOf(holder)} (holder) in database app`)
      expect(text).toContain("it holds 3 lock(s) and keeps VACUUM from removing dead rows")
      expect(text).toContain(`pid ${pidOf(waiter)} in database app has waited`)
      expect(text).toContain(`held by pid ${pidOf(holder)}`)
      yield* sql(holder, "ROLLBACK")
      yield* Effect.promise(() => blocked)

      // A real deadlock between the two sessions.
      yield* sql(holder, "BEGIN; UPDATE pair SET n = n + 1 WHERE id = 1")
      yield* sql(waiter, "BEGIN; UPDATE pair SET n = n + 1 WHERE id = 2")
      const a = holder.query("UPDATE pair SET n = n + 1 WHERE id = 2").then(() => "ok", (e: { code?: string }) => e.code)
      yield* Effect.sleep("100 millis")
      const b = waiter.query("UPDATE pair SET n = n + 1 WHERE id = 1").then(() => "ok", (e: { code?: string }) => e.code)
      const outcomes = yield* Effect.promise(() => Promise.all([a, b]))
      expect(outcomes.sort()).toEqual(["40P01", "ok"])
      yield* Effect.promise(() => Promise.all([holder.query("ROLLBACK"), waiter.query("ROLLBACK")]))
      // Backends publish their counters lazily: ask both to publish now.
      for (const client of [holder, waiter]) {
        yield* sql(client, "SELECT pg_stat_force_next_flush()")
        yield* sql(client, "SELECT 1")
      }
      const after = yield* check
      expect(after.figures.deadlocks.value).toBe(1)
      expect(after.figures.deadlocks.status).toBe("DEGRADED")
      expect(after.recommendations.join(" ")).toContain("consistent order")
    }).pipe(Effect.scoped))

  it.effect("an aborted transaction left idle is said to hold no locks and no snapshot", () =>
    Effect.gen(function*() {
      const { urlOf } = yield* Server
      const failed = yield* session(urlOf("app"))
      yield* sql(failed, "BEGIN")
      yield* Effect.promise(() => failed.query("SELECT 1/0").catch(() => undefined))
      yield* Effect.sleep("1200 millis")
      const check = yield* checkOnce(urlOf("app"), { thresholds: quick({ idleInTransactionSeconds: 1 }) })
      const advice = check.recommendations.find((r) => r.includes("idle in transaction"))!
      expect(advice).toContain(`pid ${pidOf(failed)}`)
      expect(advice).not.toContain("its locks and snapshot")
      expect(advice).toContain("holds no locks and no snapshot")
      expect(check.details.idleInTransaction).toMatchObject({ oldestPid: pidOf(failed), aborted: true, locks: 0 })
      yield* sql(failed, "ROLLBACK")
    }).pipe(Effect.scoped))

  it.effect("a prepared transaction left behind is a figure with its age, named for ROLLBACK PREPARED", () =>
    Effect.gen(function*() {
      const { urlOf } = yield* Server
      const client = yield* session(urlOf("app"))
      const gid = `h12-${randomBytes(3).toString("hex")}`
      yield* sql(client, "CREATE TABLE IF NOT EXISTS ledger (id int PRIMARY KEY)")
      yield* sql(client, `BEGIN; INSERT INTO ledger VALUES (${Date.now() % 100000}); PREPARE TRANSACTION '${gid}'`)
      yield* Effect.addFinalizer(() => Effect.promise(() => client.query(`ROLLBACK PREPARED '${gid}'`).catch(() => undefined)))
      yield* Effect.sleep("1200 millis")
      const check = yield* checkOnce(urlOf("app"), { thresholds: quick({ preparedTransactionSeconds: 1 }) })
      expect(check.figures.preparedTransactionSeconds.value).toBeGreaterThanOrEqual(1)
      expect(check.figures.preparedTransactionSeconds.status).toBe("DEGRADED")
      expect(check.details.preparedTransactions).toMatchObject({ count: 1, oldest: { gid, database: "app" } })
      expect(check.recommendations.join(" ")).toContain(`ROLLBACK PREPARED '${gid}'`)
    }).pipe(Effect.scoped))

  it.effect("an inactive replication slot is counted, with the WAL it keeps", () =>
    Effect.gen(function*() {
      const { urlOf } = yield* Server
      const admin = yield* session(urlOf("app"))
      const slot = `h12_${randomBytes(3).toString("hex")}`
      yield* sql(admin, `SELECT pg_create_physical_replication_slot('${slot}', true)`)
      yield* Effect.addFinalizer(() => Effect.promise(() => admin.query(`SELECT pg_drop_replication_slot('${slot}')`).catch(() => undefined)))
      yield* sql(admin, "CREATE TABLE IF NOT EXISTS filler AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 20000) g")
      yield* sql(admin, "SELECT pg_switch_wal()")
      const check = yield* checkOnce(urlOf("app"), { thresholds: quick({ replicationSlotRetainedBytes: 1024 * 1024 }) })
      expect(check.figures.inactiveReplicationSlots.value).toBe(1)
      expect(check.figures.inactiveReplicationSlots.status).toBe("DEGRADED")
      expect(check.details.replicationSlots?.inactiveNames).toEqual([slot])
      expect(check.figures.replicationSlotRetainedBytes.value).toBeGreaterThan(1024 * 1024)
      expect(check.figures.replicationSlotRetainedBytes.status).toBe("DEGRADED")
      expect(check.recommendations.join(" ")).toContain(`Replication slot ${slot} (inactive)`)
      // Never analyzed (autoanalyze has not come round yet): it would count as overdue since the
      // server's start in the table figures of the tests below.
      yield* sql(admin, "DROP TABLE filler")
    }).pipe(Effect.scoped))

  it.effect("a sequence near its maximum (or its integer column's) is DEGRADED and named; hidden from the role, UNKNOWN", () =>
    Effect.gen(function*() {
      const { restrictedRole, restrictedUrlOf, urlOf } = yield* Server
      const admin = yield* session(urlOf("other"))
      yield* sql(admin, "CREATE TABLE IF NOT EXISTS orders (id serial PRIMARY KEY)")
      yield* sql(admin, "SELECT setval('orders_id_seq', 1700000000)") // 79% of 2^31
      const serial = yield* checkOnce(urlOf("other"))
      expect(serial.figures.sequenceUsedPercent.value).toBeCloseTo(79.16, 1)
      expect(serial.figures.sequenceUsedPercent.status).toBe("DEGRADED")
      expect(serial.details.sequences?.worst?.name).toBe("public.orders_id_seq")
      // A role that may not read the sequence cannot call it healthy.
      const blind = yield* checkOnce(restrictedUrlOf("other"))
      expect(blind.details.sequences).toMatchObject({ count: 1, hidden: 1 })
      expect(blind.figures.sequenceUsedPercent).toMatchObject({ value: null, status: "UNKNOWN" })
      expect(blind.recommendations.join(" ")).toContain(`GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO ${restrictedRole}`)
      yield* sql(admin, `GRANT SELECT ON orders_id_seq TO ${restrictedRole}`)
      const granted = yield* checkOnce(restrictedUrlOf("other"))
      expect(granted.figures.sequenceUsedPercent).toMatchObject({ status: "DEGRADED" })
      expect(granted.details.sequences?.hidden).toBe(0)
      // A bigint sequence behind an integer column runs out with the column.
      yield* sql(admin, "CREATE TABLE IF NOT EXISTS events (id integer)")
      yield* sql(admin, "CREATE SEQUENCE IF NOT EXISTS events_id_seq AS bigint OWNED BY events.id")
      yield* sql(admin, "SELECT setval('events_id_seq', 1932735283)") // 90% of the integer range
      const column = yield* checkOnce(urlOf("other"))
      expect(column.details.sequences?.worst).toMatchObject({ name: "public.events_id_seq", columnBound: true, limit: 2147483647 })
      expect(column.figures.sequenceUsedPercent.status).toBe("UNHEALTHY")
      expect(column.recommendations.join(" ")).toContain("Sequence public.events_id_seq has used 90% of its range (bounded by its column's type")
      // Nor does a sequence an integer column only takes its DEFAULT from (no OWNED BY).
      yield* sql(admin, "CREATE SEQUENCE IF NOT EXISTS legacy_seq AS bigint")
      yield* sql(admin, "CREATE TABLE IF NOT EXISTS legacy (id integer DEFAULT nextval('legacy_seq'))")
      yield* sql(admin, "SELECT setval('legacy_seq', 2040109465)") // 95% of the integer range
      const byDefault = yield* checkOnce(urlOf("other"))
      expect(byDefault.details.sequences?.worst).toMatchObject({ name: "public.legacy_seq", columnBound: true, limit: 2147483647 })
      expect(byDefault.figures.sequenceUsedPercent.status).toBe("CRITICAL")
      yield* sql(admin, "DROP TABLE events, orders, legacy; DROP SEQUENCE legacy_seq")
    }).pipe(Effect.scoped))

  it.effect("dead tuples, an overdue vacuum and analyze, and table XID age are figures of the expensive pass", () =>
    Effect.gen(function*() {
      const { urlOf } = yield* Server
      const admin = yield* session(urlOf("app"))
      yield* sql(admin, "DROP TABLE IF EXISTS churn")
      yield* sql(admin, "CREATE TABLE churn WITH (autovacuum_enabled = false) AS SELECT g AS id FROM generate_series(1, 20000) g")
      // Counters are published lazily: the insert's must land before VACUUM counts the live rows.
      yield* sql(admin, "SELECT pg_stat_force_next_flush()")
      yield* sql(admin, "VACUUM ANALYZE churn")
      yield* sql(admin, "DELETE FROM churn WHERE id % 5 <> 0") // 80% of the rows dead, past both thresholds
      yield* sql(admin, "SELECT pg_stat_force_next_flush()")
      yield* sql(admin, "SELECT 1")
      yield* Effect.sleep("1500 millis")
      const check = yield* checkOnce(urlOf("app"), { thresholds: quick({ vacuumOverdueSeconds: 1, analyzeOverdueSeconds: 1 }) })
      expect(check.details.tables?.deadTuples).toMatchObject({ name: "public.churn", percent: 80 })
      expect(check.figures.deadTuplePercent.status).toBe("CRITICAL")
      expect(check.details.tables?.vacuum?.name).toBe("public.churn")
      expect(check.figures.vacuumOverdueSeconds.status).toBe("DEGRADED")
      expect(check.details.tables?.analyze?.name).toBe("public.churn")
      expect(check.figures.analyzeOverdueSeconds.status).toBe("DEGRADED")
      expect(check.recommendations.join(" ")).toContain("Table public.churn is 80% dead rows")
      yield* sql(admin, "DROP TABLE churn")
    }).pipe(Effect.scoped))

  it.effect("a table past its thresholds that was never vacuumed nor analyzed is overdue since the server start (or the statistics reset), not 0 s", () =>
    Effect.gen(function*() {
      const { server, urlOf } = yield* Server
      yield* server.query("DROP DATABASE IF EXISTS nevervac")
      yield* server.query("CREATE DATABASE nevervac")
      const admin = yield* session(urlOf("nevervac"))
      // Autovacuum (and autoanalyze) off for this table: nothing will vacuum or analyze it.
      yield* sql(admin, "CREATE TABLE neglected (id int, note text) WITH (autovacuum_enabled = off)")
      yield* sql(admin, "INSERT INTO neglected SELECT g, 'x' FROM generate_series(1, 5000) g")
      yield* sql(admin, "UPDATE neglected SET note = 'y' WHERE id % 2 = 0") // 2,500 dead rows, past 50 + 20% of 0 (never analyzed)
      // The same load on a table autovacuum looks after: autovacuum's next job, not an overdue one.
      yield* sql(admin, "CREATE TABLE fresh (id int, note text)")
      yield* sql(admin, "INSERT INTO fresh SELECT g, 'x' FROM generate_series(1, 5000) g")
      yield* sql(admin, "UPDATE fresh SET note = 'y' WHERE id % 2 = 0")
      yield* sql(admin, "SELECT pg_stat_force_next_flush()")
      yield* sql(admin, "SELECT 1")
      const [stats] = (yield* sql(admin, `SELECT n_dead_tup::int AS dead, last_vacuum, last_autovacuum, last_analyze, last_autoanalyze
        FROM pg_stat_user_tables WHERE relname = 'neglected'`)).rows as Array<Record<string, unknown>>
      expect(stats).toMatchObject({ last_vacuum: null, last_autovacuum: null, last_analyze: null, last_autoanalyze: null })
      expect(stats?.dead).toBeGreaterThan(50)
      yield* Effect.sleep("1100 millis")
      const thresholds = quick({ vacuumOverdueSeconds: 1, analyzeOverdueSeconds: 1 })
      const check = yield* checkOnce(urlOf("nevervac"), { thresholds })
      // What used to be reported: 0 s, HEALTHY (the table was only counted in neverVacuumed).
      expect(check.figures.vacuumOverdueSeconds.value).toBeGreaterThan(0)
      expect(check.figures.analyzeOverdueSeconds.value).toBeGreaterThan(0)
      expect(check.details.tables?.vacuum).toMatchObject({ name: "public.neglected", never: true, since: expect.stringMatching(/^(server start|statistics reset)$/) })
      expect(check.details.tables?.analyze).toMatchObject({ name: "public.neglected", never: true })
      expect(check.details.tables?.neverVacuumed).toBeGreaterThanOrEqual(1)
      expect(check.figures.vacuumOverdueSeconds.status).toBe("DEGRADED")
      expect(check.figures.analyzeOverdueSeconds.status).toBe("DEGRADED")
      // At least as long as the server has run (or its statistics since their reset): a lower bound.
      const [since] = (yield* sql(admin, `SELECT extract(epoch FROM now() - greatest(pg_postmaster_start_time(),
        (SELECT stats_reset FROM pg_stat_database WHERE datname = current_database())))::float8 AS seconds`)).rows as Array<{ seconds: number }>
      expect(check.figures.vacuumOverdueSeconds.value!).toBeLessThanOrEqual(since!.seconds + 0.01)
      expect(check.figures.vacuumOverdueSeconds.value!).toBeGreaterThan(since!.seconds - 30)
      const text = check.recommendations.join(" ")
      expect(text).toContain("Table public.neglected is past its autovacuum threshold, never vacuumed since the")
      expect(text).toContain("Table public.neglected has changed past its autoanalyze threshold and has never been analyzed since the")

      yield* sql(admin, "VACUUM ANALYZE neglected")
      const done = yield* checkOnce(urlOf("nevervac"), { thresholds })
      expect(done.details.tables?.vacuum).toBeUndefined()
      expect(done.details.tables?.analyze).toBeUndefined()
      expect(done.figures.vacuumOverdueSeconds).toMatchObject({ value: 0, status: "HEALTHY" })
      expect(done.figures.analyzeOverdueSeconds).toMatchObject({ value: 0, status: "HEALTHY" })
      // `fresh`, past its thresholds and never vacuumed with autovacuum on, is counted, not timed
      // from the server's start (that would be a false alarm for every table just created and loaded).
      const [fresh] = (yield* sql(admin, "SELECT last_autovacuum FROM pg_stat_user_tables WHERE relname = 'fresh'")).rows as Array<{ last_autovacuum: unknown }>
      if (fresh?.last_autovacuum === null) expect(done.details.tables?.neverVacuumed).toBe(1)
      yield* Effect.promise(() => admin.end())
      yield* server.query("DROP DATABASE nevervac")
    }).pipe(Effect.scoped))

  it.effect("per-table XID age names the table that holds its database's freezing back", () =>
    Effect.gen(function*() {
      const { server, urlOf } = yield* Server
      yield* server.query("DROP DATABASE IF EXISTS xidage")
      yield* server.query("CREATE DATABASE xidage")
      const admin = yield* session(urlOf("xidage"))
      yield* sql(admin, "CREATE TABLE laggard (id int); INSERT INTO laggard VALUES (1)")
      // 40,000 transaction IDs go by; then every table but the laggard is frozen.
      yield* sql(admin, "DO $$ BEGIN FOR i IN 1..40000 LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$")
      const others = yield* sql(admin, `SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'm') AND c.relname <> 'laggard'`)
      for (const row of others.rows as Array<{ name: string }>) yield* sql(admin, `VACUUM (FREEZE) ${row.name}`)
      // Of autovacuum_freeze_max_age (200 million): 40,000 is 0.02%.
      const thresholds = quick({ tableXidAgePercent: 0.015 })
      const check = yield* checkOnce(urlOf("xidage"), { thresholds })
      expect(check.details.tables?.xid?.name).toBe("public.laggard")
      expect(check.figures.tableXidAgePercent.value).toBeGreaterThanOrEqual(0.02)
      expect(check.figures.tableXidAgePercent.status).toBe("DEGRADED")
      expect(check.recommendations.join(" ")).toContain("Table public.laggard is at 0")
      yield* sql(admin, "VACUUM (FREEZE) laggard")
      const frozen = yield* checkOnce(urlOf("xidage"), { thresholds })
      expect(frozen.details.tables?.xid?.name).not.toBe("public.laggard")
      expect(frozen.figures.tableXidAgePercent.status).toBe("HEALTHY")
    }).pipe(Effect.scoped))

  it.effect("WAL archiving that fails is a figure (failures in the window, the file named) until it archives again", () =>
    Effect.gen(function*() {
      const { server, urlOf } = yield* Server
      const archiveCommand = (command: string) =>
        Effect.zipRight(server.query(`ALTER SYSTEM SET archive_command = '${command}'`), server.query("SELECT pg_reload_conf()"))
      const archiver = server.query<{ failed: number; failing: boolean }>(
        "SELECT failed_count::int AS failed, coalesce(last_failed_time > coalesce(last_archived_time, '-infinity'), false) AS failing FROM pg_stat_archiver"
      )
      const until = (ok: (row: { failed: number; failing: boolean }) => boolean) =>
        Effect.gen(function*() {
          for (let i = 0; i < 150; i++) {
            const [row] = yield* archiver
            if (row && ok(row)) return row
            yield* Effect.sleep("100 millis")
          }
          return yield* Effect.die(new Error("the archiver never got there"))
        })
      yield* Effect.addFinalizer(() => Effect.ignore(archiveCommand("true")))
      const health = yield* Layer.build(healthOn(urlOf("app"), { firstCheckWindow: 0 }))
      const check = Effect.provide(Health.performHealthCheck(), health)
      const [start] = yield* archiver
      yield* check // baseline
      yield* archiveCommand("false")
      yield* server.query("CREATE TABLE IF NOT EXISTS archived (n int); INSERT INTO archived VALUES (1)")
      yield* server.query("SELECT pg_switch_wal()")
      yield* until((row) => row.failed > start!.failed && row.failing)
      const failing = yield* check
      expect(failing.figures.archiveFailures.value).toBeGreaterThanOrEqual(1)
      expect(failing.figures.archiveFailures.status).not.toBe("HEALTHY")
      expect(failing.details.archiver).toMatchObject({ failingNow: true, lastFailedWal: expect.stringMatching(/^[0-9A-F]{24}$/) })
      expect(failing.recommendations.join(" ")).toContain(`last failed file ${failing.details.archiver?.lastFailedWal}`)
      // A one-shot check sees it too: the last attempt failed, whatever its window holds.
      const oneShot = yield* checkOnce(urlOf("app"))
      expect(oneShot.figures.archiveFailures.value).toBeGreaterThanOrEqual(1)
      expect(oneShot.status).not.toBe("HEALTHY")

      yield* archiveCommand("true")
      yield* until((row) => !row.failing)
      yield* check // the window up to the repair still holds failures
      const repaired = yield* check
      expect(repaired.figures.archiveFailures.value).toBe(0)
      expect(repaired.details.archiver?.failingNow).toBe(false)
      expect(repaired.figures.archiveFailures.status).toBe("HEALTHY")
    }).pipe(Effect.scoped))

  it.effect("the expensive pass runs on its own cadence; growth is measured between two of its passes", () =>
    Effect.gen(function*() {
      const { urlOf } = yield* Server
      const admin = yield* session(urlOf("app"))
      const slow = yield* Layer.build(healthOn(urlOf("app"), { firstCheckWindow: 0, expensiveInterval: "1 hour" }))
      const first = yield* Effect.provide(Health.performHealthCheck(), slow)
      yield* sql(admin, "CREATE TABLE IF NOT EXISTS grow AS SELECT g, repeat('y', 500) AS pad FROM generate_series(1, 20000) g")
      const second = yield* Effect.provide(Health.performHealthCheck(), slow)
      // Not due yet: the same pass is reported, not a new one.
      expect(second.details.expensive?.measuredAt).toBe(first.details.expensive?.measuredAt)
      expect(second.details.databaseSize?.bytes).toBe(first.details.databaseSize?.bytes)
      expect(second.figures.databaseGrowthBytesPerHour.value).toBeNull()

      const every = yield* Layer.build(healthOn(urlOf("app"), { firstCheckWindow: 0, expensiveInterval: 0 }))
      const before = yield* Effect.provide(Health.performHealthCheck(), every)
      yield* sql(admin, "INSERT INTO grow SELECT g, repeat('z', 500) FROM generate_series(1, 20000) g")
      const after = yield* Effect.provide(Health.performHealthCheck(), every)
      expect(after.details.databaseSize!.bytes).toBeGreaterThan(before.details.databaseSize!.bytes)
      expect(after.figures.databaseGrowthBytesPerHour.value).toBeGreaterThan(0)
      expect(after.details.databaseSize?.secondsApart).toBeGreaterThan(0)
      yield* sql(admin, "DROP TABLE grow")
    }).pipe(Effect.scoped))

  it.effect("invalid options are typed errors naming the option, before anything is measured", () =>
    Effect.gen(function*() {
      const { urlOf } = yield* Server
      const attempt = (options: unknown) =>
        Effect.flip(Effect.provide(
          Health.performHealthCheck(),
          Health.DatabaseHealth.layer(options as Health.DatabaseHealthOptions).pipe(Layer.provide(Database.layer({ url: Redacted.make(urlOf("app")) })))
        ))
      const typo = yield* attempt({ probeTimout: "1 second" })
      expect(typo).toMatchObject({ _tag: "HealthConfigError", field: "probeTimout" })
      const window = yield* attempt({ firstCheckWindow: "forever" })
      expect(window).toMatchObject({ _tag: "HealthConfigError", field: "firstCheckWindow" })
      const replicas = yield* attempt({ expectedReplicas: -1 })
      expect(replicas).toMatchObject({ _tag: "HealthConfigError", field: "expectedReplicas" })
      const thresholds = yield* attempt({ thresholds: { degraded: { cpu: 1 } } })
      expect(thresholds).toMatchObject({ _tag: "HealthThresholdsError", field: "degraded.cpu" })
      expect(Either.isRight(Health.makeThresholds({ whenUnknown: { sequenceUsedPercent: "ignore" } }))).toBe(true)
    }))
})
