/** Health checks against a real server (the run's server: embedded PG 18, or PG 15 in CI). */
import { layer } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Deferred, Effect, Either, Exit, Fiber, Layer, Metric, Redacted, Ref, Scope } from "effect"
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
      const started = Date.now()
      const check = yield* checkWith(`postgres://nobody:zebra-pass-991@127.0.0.1:${port}/x`, { probeTimeout: "1 second" })
      expect(Date.now() - started).toBeLessThan(1500)
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
      expect(took).toBeGreaterThanOrEqual(790)
      expect(took).toBeLessThan(1500)
    }))

  it.effect("pool saturation moves the pool figure and the status through the ladder, without hanging", () =>
    Effect.gen(function*() {
      const ladder: Array<[number, Health.DatabaseHealthStatus]> = [[7, "DEGRADED"], [9, "UNHEALTHY"], [10, "CRITICAL"]]
      for (const [held, status] of ladder) {
        const release = yield* holdClients(held)
        const started = Date.now()
        const check = yield* Health.performHealthCheck()
        expect(Date.now() - started).toBeLessThan(1000)
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
      expect(slow.details.avgQueryTimeWindow).toBe("since the last check")
    }))

  it.effect("an idle transaction, a blocked session and a real deadlock show up in their figures", () =>
    Effect.gen(function*() {
      const test = yield* TestDatabase
      const sql = yield* SqlClient.SqlClient
      yield* sql`CREATE TABLE IF NOT EXISTS hot (id int PRIMARY KEY, n int)`
      yield* sql`INSERT INTO hot VALUES (1, 0), (2, 0) ON CONFLICT DO NOTHING`
      yield* Health.performHealthCheck() // baseline for the deadlock counter
      const holder = yield* test.connect({ application_name: "holder" })
      const waiter = yield* test.connect()
      yield* Effect.promise(() => holder.query("BEGIN; UPDATE hot SET n = n + 1 WHERE id = 1"))
      const holderPid = (yield* Effect.promise(() => holder.query("SELECT pg_backend_pid() AS pid"))).rows[0].pid
      const blocked = waiter.query("UPDATE hot SET n = n + 1 WHERE id = 1").catch(() => undefined)
      const waiterPid = (waiter as unknown as { processID: number }).processID
      yield* Effect.sleep("1200 millis")
      const check = yield* Effect.flatMap(
        Health.DatabaseHealth,
        (h) =>
          h.check(Either.getOrThrow(Health.makeThresholds({
            degraded: { idleInTransactionSeconds: 1, blockedSeconds: 1 }
          })))
      )
      expect(check.details.idleInTransaction?.count).toBe(1)
      expect(check.details.idleInTransaction?.oldestPid).toBe(holderPid)
      expect(check.figures.idleInTransactionSeconds.value).toBeGreaterThanOrEqual(1)
      expect(check.figures.idleInTransactionSeconds.status).toBe("DEGRADED")
      expect(check.details.blocked).toEqual([{ pid: waiterPid, blockedBy: [holderPid], seconds: expect.any(Number) }])
      expect(check.figures.blockedSeconds.status).toBe("DEGRADED")
      const text = check.recommendations.join("\n")
      expect(text).toContain(`pid ${holderPid} (holder)`)
      expect(text).toContain(`pid ${waiterPid} has waited`)
      expect(text).toContain(`held by pid ${holderPid}`)
      yield* Effect.promise(() => holder.query("ROLLBACK"))
      yield* Effect.promise(() => blocked)

      // A real deadlock between the two raw sessions.
      yield* Effect.promise(() => holder.query("BEGIN; UPDATE hot SET n = n + 1 WHERE id = 1"))
      yield* Effect.promise(() => waiter.query("BEGIN; UPDATE hot SET n = n + 1 WHERE id = 2"))
      const a = holder.query("UPDATE hot SET n = n + 1 WHERE id = 2").then(() => "ok", (e: { code?: string }) => e.code)
      yield* Effect.sleep("100 millis")
      const b = waiter.query("UPDATE hot SET n = n + 1 WHERE id = 1").then(() => "ok", (e: { code?: string }) => e.code)
      const outcomes = yield* Effect.promise(() => Promise.all([a, b]))
      expect(outcomes.sort()).toEqual(["40P01", "ok"])
      yield* Effect.promise(() => Promise.all([holder.query("ROLLBACK"), waiter.query("ROLLBACK")]))
      const after = yield* Health.performHealthCheck()
      expect(after.figures.deadlocks.value).toBe(1)
      expect(after.figures.deadlocks.status).toBe("DEGRADED")
      expect(after.recommendations.join(" ")).toContain("consistent order")
    }).pipe(Effect.scoped))

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
      expect(revealed.details.idleInTransaction?.count).toBe(1)
      expect(revealed.metrics.idleConnections).not.toBeNull()
      yield* Effect.promise(() => other.query("ROLLBACK"))
      yield* sql.unsafe(`DROP SCHEMA resilience_monitor CASCADE`)

      // sql/grant-monitoring.sql (pg_monitor) does the same without the function.
      yield* sql.unsafe(yield* Effect.promise(() => renderScript("grant-monitoring.sql", role)))
      const granted = yield* checkWith(url.toString())
      expect(granted.unknown.map((u) => u.figure)).not.toContain("sessions")
      expect(granted.metrics.activeConnections).not.toBeNull()
    }).pipe(Effect.scoped))

  it.effect("every figure is published as a gauge", () =>
    Effect.gen(function*() {
      const release = yield* holdClients(3)
      const check = yield* Health.performHealthCheck()
      yield* release
      expect((yield* Metric.value(Health.gauges.connectionPoolUsage)).value).toBe(30)
      expect((yield* Metric.value(Health.gauges.status)).value).toBe(Health.statusSeverity(check.status))
      expect((yield* Metric.value(Health.gauges.probeLatency)).value).toBe(check.figures.probeLatency.value)
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
