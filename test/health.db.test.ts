/** Health checks against a real server (the run's server: embedded PG 18, or PG 15 in CI). */
import { layer } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Deferred, Effect, Exit, Fiber, Layer, Metric, Redacted, Ref, Scope } from "effect"
import { randomBytes } from "node:crypto"
import { createServer, type Socket } from "node:net"
import { expect } from "vitest"
import * as Database from "../src/Database.js"
import * as EmbeddedPostgres from "../src/EmbeddedPostgres.js"
import * as Health from "../src/Health.js"
import * as HealthMonitor from "../src/HealthMonitor.js"
import { renderScript } from "../src/internal/sqlScripts.js"
import * as Transaction from "../src/Transaction.js"
import { TestDatabase } from "./support/TestDatabase.js"

const POOL = 10

const HealthLive = Health.DatabaseHealth.layer({ probeTimeout: "1 second" }).pipe(
  Layer.provideMerge(TestDatabase.layerWith({ maxConnections: POOL }))
)

/** Holds `n` pool clients in open transactions until the returned effect releases them. */
const holdClients = (n: number) =>
  Effect.gen(function*() {
    const release = yield* Deferred.make<void>()
    const held = yield* Ref.make(0)
    const fibers = yield* Effect.forEach(Array.from({ length: n }), () =>
      Transaction.withTransaction(Effect.zipRight(Ref.update(held, (k) => k + 1), Deferred.await(release))).pipe(
        Effect.fork
      ))
    while ((yield* Ref.get(held)) < n) yield* Effect.sleep("5 millis")
    return Effect.zipRight(Deferred.succeed(release, undefined), Fiber.joinAll(fibers))
  })

const checkWith = (url: string, options: Health.DatabaseHealthOptions = {}) =>
  Health.performHealthCheck().pipe(
    Effect.provide(Health.DatabaseHealth.layer(options).pipe(Layer.provide(Database.layer({ url, connectTimeout: "1 second" })))),
    Effect.orDie
  )

layer(HealthLive, { timeout: "120 seconds", excludeTestServices: true })("DatabaseHealth on a real server", (it) => {
  it.effect("an unreachable server is CRITICAL within the probe timeout", () =>
    Effect.gen(function*() {
      const port = yield* EmbeddedPostgres.freePort // nothing listens on it
      const check = yield* checkWith(`postgres://nobody:zebra-pass-991@127.0.0.1:${port}/x`, { probeTimeout: "1 second" })
      expect(check.status).toBe("CRITICAL")
      expect(check.message).toMatch(/ECONNREFUSED|refused/i)
      expect(JSON.stringify(check)).not.toContain("zebra-pass-991")
    }))

  it.effect("a hung server (accepts, never answers) is CRITICAL within the probe timeout", () =>
    Effect.gen(function*() {
      const sockets: Array<Socket> = []
      const server = createServer((socket) => {
        sockets.push(socket)
      })
      const port = yield* Effect.async<number>((resume) => {
        server.listen(0, "127.0.0.1", () => {
          const address = server.address()
          resume(Effect.succeed(typeof address === "object" && address ? address.port : 1))
        })
      })
      const started = Date.now()
      const check = yield* checkWith(`postgres://nobody@127.0.0.1:${port}/x`, { probeTimeout: "800 millis" })
      const took = Date.now() - started
      sockets.forEach((s) => s.destroy())
      server.close()
      expect(check.status).toBe("CRITICAL")
      expect(check.message).toContain("no answer within")
      // Ended by the probe timeout, not by the server (which never answers): not before it, and
      // long before anything else could have ended it (the test's own limit is 120 s).
      expect(took).toBeGreaterThanOrEqual(790)
      expect(took).toBeLessThan(10_000)
    }))

  it.effect("pool saturation moves the pool figure and the status through the ladder, without hanging", () =>
    Effect.gen(function*() {
      const ladder: Array<[number, Health.DatabaseHealthStatus]> = [[7, "DEGRADED"], [9, "UNHEALTHY"], [10, "CRITICAL"]]
      for (const [held, status] of ladder) {
        const release = yield* holdClients(held)
        // The probe has a connection of its own: a full pool is reported, not waited on (no hang).
        const check = yield* Health.performHealthCheck().pipe(Effect.timeout("10 seconds"))
        yield* release
        expect(check.metrics.connectionPoolUsage).toBe(held * 10)
        expect(check.figures.connectionPoolUsage.status).toBe(status)
        expect(check.status).toBe(status)
        expect(check.recommendations.join(" ")).toContain(`${held} of ${POOL} connections in use`)
      }
      const after = yield* Health.performHealthCheck()
      expect(after.metrics.connectionPoolUsage).toBe(0)
    }))

  it.effect("callers queued for the pool are counted", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const release = yield* holdClients(POOL)
      const waiters = yield* Effect.fork(Effect.all(Array.from({ length: 6 }, () => sql`SELECT 1`), { concurrency: "unbounded" }))
      yield* Effect.sleep("50 millis")
      const check = yield* Health.performHealthCheck()
      yield* release
      yield* Fiber.join(waiters)
      expect(check.figures.poolWaiting.value).toBe(6)
      expect(check.figures.poolWaiting.status).toBe("UNHEALTHY")
    }))

  it.effect("pg_sleep statements move avgQueryTime, from pg_stat_statements when it is loaded, else from our own timings", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const [{ preload }] = (yield* sql<{ preload: string }>`SELECT current_setting('shared_preload_libraries') AS preload`) as [
        { preload: string }
      ]
      yield* sql`CREATE EXTENSION IF NOT EXISTS pg_stat_statements`
      yield* Health.performHealthCheck()
      yield* sql`SELECT 1`
      const fast = yield* Health.performHealthCheck()
      yield* Effect.all(Array.from({ length: 4 }, () => sql`SELECT pg_sleep(0.15)`), { concurrency: 4 })
      const slow = yield* Health.performHealthCheck()
      const loaded = preload.includes("pg_stat_statements")
      expect(slow.details.avgQueryTimeSource).toBe(loaded ? "pg_stat_statements" : "observed")
      if (!loaded) expect(slow.recommendations.join(" ")).toContain("shared_preload_libraries")
      expect(fast.metrics.avgQueryTime ?? 0).toBeLessThan(50)
      expect(slow.metrics.avgQueryTime).toBeGreaterThanOrEqual(150)
      expect(slow.figures.avgQueryTime.status).toBe("DEGRADED")
      expect(slow.details.avgQueryTimeWindow).toMatch(/^since the last check, [\d.]+ s ago$/)
    }))

  it.effect("a role without pg_monitor gets unknowns, not false health; the SECURITY DEFINER script reveals them", () =>
    Effect.gen(function*() {
      const test = yield* TestDatabase
      const sql = yield* SqlClient.SqlClient
      const role = `app_${randomBytes(4).toString("hex")}`
      const password = randomBytes(9).toString("hex")
      yield* sql.unsafe(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`)
      yield* sql.unsafe(`GRANT CONNECT ON DATABASE ${test.name} TO ${role}`)
      yield* Effect.addFinalizer(() =>
        sql.unsafe(`DROP OWNED BY ${role}; DROP ROLE IF EXISTS ${role}`).pipe(Effect.ignore)
      )
      // A session of another role, idle in a transaction: exactly what a restricted role cannot see.
      const other = yield* test.connect()
      yield* Effect.promise(() => other.query("BEGIN; SELECT 1"))
      const url = new URL(Redacted.value(test.url))
      url.username = role
      url.password = password
      const restricted = yield* checkWith(url.toString())
      expect(restricted.metrics.activeConnections).toBeNull()
      expect(restricted.metrics.idleConnections).toBeNull()
      expect(restricted.figures.idleInTransactionSeconds.value).toBeNull()
      expect(restricted.figures.idleInTransactionSeconds.status).toBe("UNKNOWN")
      expect(restricted.unknown.map((u) => u.figure)).toContain("sessions")
      expect(restricted.recommendations.join(" ")).toContain(`GRANT pg_monitor TO ${role}`)

      // sql/monitoring-functions.sql, run by the superuser, lets the same role see every session.
      yield* sql.unsafe(yield* Effect.promise(() => renderScript("monitoring-functions.sql", role)))
      const revealed = yield* checkWith(url.toString())
      expect(revealed.unknown.map((u) => u.figure)).not.toContain("sessions")
      // Server-wide: other files' sessions on the run's server may be idle in transaction too.
      expect(revealed.details.idleInTransaction?.count).toBeGreaterThanOrEqual(1)
      expect(revealed.metrics.idleConnections).not.toBeNull()
      yield* Effect.promise(() => other.query("ROLLBACK"))
      yield* sql.unsafe(`DROP SCHEMA resilience_monitor CASCADE`)

      // sql/grant-monitoring.sql (pg_monitor) does the same without the function.
      yield* sql.unsafe(yield* Effect.promise(() => renderScript("grant-monitoring.sql", role)))
      const granted = yield* checkWith(url.toString())
      expect(granted.unknown.map((u) => u.figure)).not.toContain("sessions")
      expect(granted.metrics.activeConnections).not.toBeNull()
    }).pipe(Effect.scoped))

  it.effect("more sessions blocked than the snapshot describes: all counted, the 20 oldest listed oldest first", () =>
    Effect.gen(function*() {
      const test = yield* TestDatabase
      const sql = yield* SqlClient.SqlClient
      const table = `blocked_${randomBytes(4).toString("hex")}`
      yield* sql.unsafe(`CREATE TABLE ${table} (id int PRIMARY KEY, n int); INSERT INTO ${table} VALUES (1, 0)`)
      yield* Effect.addFinalizer(() => sql.unsafe(`DROP TABLE IF EXISTS ${table}`).pipe(Effect.ignore))
      const holder = yield* test.connect()
      const pidOf = async (client: { query: (text: string) => Promise<{ rows: Array<{ pid: number }> }> }) =>
        (await client.query("SELECT pg_backend_pid() AS pid")).rows[0]!.pid
      const holderPid = yield* Effect.promise(() => pidOf(holder))
      yield* Effect.promise(() => holder.query(`BEGIN; UPDATE ${table} SET n = n + 1 WHERE id = 1`))
      // 22 waiters queue behind the holder, one at a time, so that their waits start in order.
      const waiters: Array<{ readonly pid: number; readonly done: Promise<unknown> }> = []
      for (let i = 0; i < 22; i++) {
        const client = yield* test.connect()
        const pid = yield* Effect.promise(() => pidOf(client))
        const done = client.query(`UPDATE ${table} SET n = n + 1 WHERE id = 1`).catch(() => undefined)
        waiters.push({ pid, done })
        yield* Effect.sleep("15 millis")
      }
      for (let tries = 0; tries < 100; tries++) {
        const [row] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND pid = ANY(${waiters.map((w) => w.pid)})`
        if (row?.n === waiters.length) break
        yield* Effect.sleep("20 millis")
      }
      const check = yield* Health.performHealthCheck()
      yield* Effect.promise(() => holder.query("ROLLBACK"))
      yield* Effect.promise(() => Promise.all(waiters.map((w) => w.done)))

      // Server-wide: other files' sessions may be waiting too, so ours are a lower bound.
      expect(check.details.waitingForLocks).toBeGreaterThanOrEqual(22)
      const blocked = check.details.blocked ?? []
      expect(blocked).toHaveLength(20)
      // Oldest first.
      const seconds = blocked.map((b) => b.seconds)
      expect(seconds).toEqual([...seconds].sort((a, b) => b - a))
      // Ours are listed in the order they started waiting. The first waits for the holder; the
      // others queue for the row behind it, so each names the holder or a waiter ahead of it.
      const ours = blocked.filter((b) => waiters.some((w) => w.pid === b.pid))
      expect(ours.length).toBeGreaterThan(0)
      expect(ours.map((b) => b.pid)).toEqual(waiters.slice(0, ours.length).map((w) => w.pid))
      expect(ours[0]!.blockedBy).toEqual([holderPid])
      ours.forEach((b, i) => {
        expect(b.blockedBy.length).toBeGreaterThan(0)
        for (const pid of b.blockedBy) expect([holderPid, ...waiters.slice(0, i).map((w) => w.pid)]).toContain(pid)
        expect(b.database).toBe(test.name)
      })
    }).pipe(Effect.scoped))

  it.effect("every figure is published as a gauge in base units, unknown ones as NaN", () =>
    Effect.gen(function*() {
      const release = yield* holdClients(3)
      const check = yield* Health.performHealthCheck()
      yield* release
      // The pool figure: 30% of the pool as a ratio.
      expect((yield* Metric.value(Health.gauges.connectionPoolUsage)).value).toBe(0.3)
      expect((yield* Metric.value(Health.gauges.status)).value).toBe(Health.statusSeverity(check.status))
      for (const name of Object.keys(Health.figureDefinitions) as Array<Health.HealthFigure>) {
        const { gauge, unit } = Health.figureDefinitions[name]
        const value = check.figures[name].value
        const published = (yield* Metric.value(Health.gauges[name])).value
        if (value === null) expect(published, name).toBeNaN()
        else expect(published, name).toBeCloseTo(value * gauge.scale, 9)
        // Prometheus / OpenTelemetry base units: seconds, bytes, ratios 0-1.
        if (unit === "s" || unit === "ms") expect(gauge.name, name).toMatch(/_seconds$/)
        if (unit === "%") expect(gauge.name, name).toMatch(/_ratio$/)
        if (unit === "B") expect(gauge.name, name).toMatch(/_bytes$/)
        if (unit === "B/h") expect(gauge.name, name).toMatch(/_bytes_per_second$/)
      }
    }))

  it.effect("the monitor reports real status changes as they happen and stops with its scope", () =>
    Effect.gen(function*() {
      const health = yield* Health.DatabaseHealth
      const checks = yield* Ref.make(0)
      const counting = Layer.succeed(Health.DatabaseHealth, {
        ...health,
        check: (t) => Effect.zipRight(Ref.update(checks, (n) => n + 1), health.check(t))
      })
      const changes = yield* Ref.make<Array<string>>([])
      const scope = yield* Scope.make()
      yield* Layer.buildWithScope(
        HealthMonitor.HealthMonitor.layer({
          interval: "50 millis",
          onStatusChange: (check) => Ref.update(changes, (c) => [...c, check.status])
        }).pipe(Layer.provide(counting)),
        scope
      )
      const waitFor = (n: number) =>
        Effect.gen(function*() {
          while ((yield* Ref.get(changes)).length < n) yield* Effect.sleep("10 millis")
        }).pipe(Effect.timeout("5 seconds"))
      yield* waitFor(1)
      const release = yield* holdClients(POOL)
      yield* waitFor(2)
      yield* release
      yield* waitFor(3)
      expect((yield* Ref.get(changes)).slice(0, 3)).toEqual(["HEALTHY", "CRITICAL", "HEALTHY"])
      yield* Scope.close(scope, Exit.void)
      const after = yield* Ref.get(checks)
      yield* Effect.sleep("300 millis")
      expect(yield* Ref.get(checks)).toBe(after)
    }))
})
