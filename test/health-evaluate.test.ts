/** Judging health is pure: every boundary of every ladder, without a database. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as Health from "../src/Health.js"

type Figures = Record<Health.HealthFigure, number | null>
const figureNames = Object.keys(Health.figureDefinitions) as Array<Health.HealthFigure>

const healthyFigures = (): Figures => ({
  connectionPoolUsage: 10,
  poolWaiting: 0,
  serverConnectionUsage: 10,
  avgQueryTime: 5,
  cacheHitRatio: 99.5,
  idleInTransactionSeconds: 0,
  longestTransactionSeconds: 0.5,
  blockedSeconds: 0,
  deadlocks: 0,
  wraparoundPercent: 3,
  replicationLagSeconds: 0,
  probeLatency: 1
})

const snapshot = (figures: Partial<Figures> = {}, extra: Partial<Health.HealthSnapshot> = {}): Health.HealthSnapshot => ({
  reachable: true,
  pool: { total: 10, idle: 1, inUse: 9, waiting: 2, max: 10 },
  figures: { ...healthyFigures(), ...figures },
  activeConnections: 3,
  idleConnections: 4,
  details: {
    settings: {
      shared_buffers: "128kB",
      idle_in_transaction_session_timeout: "0",
      deadlock_timeout: "1s",
      autovacuum: "on"
    },
    idleInTransaction: { count: 2, oldestPid: 4242, oldestSeconds: 45, application: "billing" },
    longestTransaction: { pid: 5151, seconds: 400, queryId: "-77", state: "active" },
    blocked: [{ pid: 6161, blockedBy: [7171], seconds: 40 }],
    wraparoundDatabase: "app",
    avgQueryTimeSource: "pg_stat_statements",
    avgQueryTimeWindow: "since the last check",
    topStatement: { queryId: "1234", calls: 10, meanMillis: 812 },
    cacheHitRatioWindow: "since the last check",
    topReadTable: { name: "public.events", blocksRead: 9000 },
    serverConnections: { used: 90, available: 97 },
    replication: { role: "primary", replicas: 1 }
  },
  unknown: [],
  ...extra
})

const t = Health.defaultThresholds
const step = 0.001

describe("default thresholds", () => {
  it("are the seed's for its three figures", () => {
    expect(t.degraded).toMatchObject({ connectionPoolUsage: 70, avgQueryTime: 100, cacheHitRatio: 90 })
    expect(t.unhealthy).toMatchObject({ connectionPoolUsage: 85, avgQueryTime: 250, cacheHitRatio: 80 })
    expect(t.critical).toMatchObject({ connectionPoolUsage: 95, avgQueryTime: 500, cacheHitRatio: 70 })
  })
})

describe("evaluateHealth boundaries", () => {
  for (const figure of figureNames) {
    const higherIsWorse = Health.figureDefinitions[figure].worse === "higher"
    const cases: Array<[number, Health.DatabaseHealthStatus]> = higherIsWorse
      ? [
        [t.degraded[figure] - step, "HEALTHY"],
        [t.degraded[figure], "DEGRADED"],
        [t.unhealthy[figure] - step, "DEGRADED"],
        [t.unhealthy[figure], "UNHEALTHY"],
        [t.critical[figure] - step, "UNHEALTHY"],
        [t.critical[figure], "CRITICAL"]
      ]
      : [
        [t.degraded[figure], "HEALTHY"],
        [t.degraded[figure] - step, "DEGRADED"],
        [t.unhealthy[figure], "DEGRADED"],
        [t.unhealthy[figure] - step, "UNHEALTHY"],
        [t.critical[figure], "UNHEALTHY"],
        [t.critical[figure] - step, "CRITICAL"]
      ]
    for (const [value, status] of cases) {
      it(`${figure} = ${value} is ${status}`, () => {
        const check = Health.evaluateHealth(snapshot({ [figure]: value }), t)
        expect(check.figures[figure].status).toBe(status)
        expect(check.status).toBe(status)
        if (status === "HEALTHY") {
          expect(check.recommendations).toEqual([])
          expect(check.message).toContain("HEALTHY")
        } else {
          expect(check.message).toContain(Health.figureDefinitions[figure].label)
          expect(check.recommendations).toHaveLength(1)
        }
      })
    }
  }

  it("the worst figure decides, and every breached figure gets its own recommendation", () => {
    const check = Health.evaluateHealth(snapshot({ connectionPoolUsage: 72, avgQueryTime: 600, deadlocks: 6 }))
    expect(check.status).toBe("CRITICAL")
    expect(check.message.startsWith("CRITICAL: average statement time 600ms")).toBe(true)
    expect(check.recommendations).toHaveLength(3)
  })

  it("recommendations name the session, the setting or the statement to act on", () => {
    const check = Health.evaluateHealth(
      snapshot({
        connectionPoolUsage: 96,
        avgQueryTime: 700,
        cacheHitRatio: 50,
        idleInTransactionSeconds: 45,
        longestTransactionSeconds: 400,
        blockedSeconds: 40,
        deadlocks: 3,
        wraparoundPercent: 80
      })
    )
    const text = check.recommendations.join("\n")
    expect(text).toContain("9 of 10 connections in use and 2 caller(s) waiting")
    expect(text).toContain("pid 5151")
    expect(text).toContain("query id 1234")
    expect(text).toContain("shared_buffers = 128kB")
    expect(text).toContain("public.events")
    expect(text).toContain("pid 4242 (billing)")
    expect(text).toContain("idle_in_transaction_session_timeout (now 0)")
    expect(text).toContain("pid 6161 has waited 40s for a lock held by pid 7171")
    expect(text).toContain("deadlock_timeout (1s)")
    expect(text).toContain("Database app is at 80%")
  })

  it("metrics keep the seed's shape", () => {
    const check = Health.evaluateHealth(snapshot(), t, new Date("2026-01-02T03:04:05.000Z"))
    expect(check.metrics).toEqual({
      connectionPoolUsage: 10,
      avgQueryTime: 5,
      cacheHitRatio: 99.5,
      activeConnections: 3,
      idleConnections: 4
    })
    expect(check.lastChecked).toBe("2026-01-02T03:04:05.000Z")
  })

  it("an unreachable server is CRITICAL and says why", () => {
    const check = Health.evaluateHealth(snapshot({}, { reachable: false, failure: "connect ECONNREFUSED 127.0.0.1:1" }))
    expect(check.status).toBe("CRITICAL")
    expect(check.message).toContain("ECONNREFUSED")
  })

  it("unknown figures never count as healthy values, and fixable unknowns become recommendations", () => {
    const check = Health.evaluateHealth(
      snapshot({ idleInTransactionSeconds: null, cacheHitRatio: null }, {
        activeConnections: null,
        idleConnections: null,
        unknown: [
          { figure: "sessions", reason: "3 session(s) ... GRANT pg_monitor TO app;", remedy: true },
          { figure: "cacheHitRatio", reason: "No block was read", remedy: false }
        ]
      })
    )
    expect(check.figures.idleInTransactionSeconds.status).toBe("UNKNOWN")
    expect(check.metrics.activeConnections).toBeNull()
    expect(check.message).toContain("unknown: sessions, cacheHitRatio")
    expect(check.recommendations).toEqual(["3 session(s) ... GRANT pg_monitor TO app;"])
  })
})

describe("thresholds", () => {
  it("custom values merge over the defaults", () => {
    const merged = Either.getOrThrow(Health.makeThresholds({ degraded: { avgQueryTime: 80 }, critical: { cacheHitRatio: 75 } }))
    expect(merged.degraded.avgQueryTime).toBe(80)
    expect(merged.critical.cacheHitRatio).toBe(75)
    expect(merged.unhealthy).toEqual(t.unhealthy)
  })

  it("accepts the seed README's custom example", () => {
    expect(Either.isRight(Health.makeThresholds({
      degraded: { connectionPoolUsage: 60, avgQueryTime: 80, cacheHitRatio: 92 },
      unhealthy: { connectionPoolUsage: 75, avgQueryTime: 200, cacheHitRatio: 85 },
      critical: { connectionPoolUsage: 90, avgQueryTime: 400, cacheHitRatio: 75 }
    }))).toBe(true)
  })

  const bad: Array<[string, unknown, string]> = [
    ["a ladder out of order (higher is worse)", { degraded: { avgQueryTime: 300 } }, "avgQueryTime"],
    ["a ladder out of order (lower is worse)", { critical: { cacheHitRatio: 85 } }, "cacheHitRatio"],
    ["a negative value", { degraded: { deadlocks: -1 } }, "degraded.deadlocks"],
    ["a percentage over 100", { critical: { connectionPoolUsage: 120 } }, "critical.connectionPoolUsage"],
    ["a string", { degraded: { avgQueryTime: "fast" } }, "degraded.avgQueryTime"],
    ["an unknown figure", { degraded: { cpu: 50 } }, "degraded.cpu"],
    ["an unknown level", { severe: {} }, "severe"],
    ["not an object", 42, "thresholds"]
  ]
  for (const [name, input, field] of bad) {
    it(`rejects ${name}, naming ${field}`, () => {
      const result = Health.makeThresholds(input)
      expect(Either.isLeft(result)).toBe(true)
      if (Either.isLeft(result)) {
        expect(result.left._tag).toBe("HealthThresholdsError")
        expect(result.left.field).toBe(field)
      }
    })
  }
})

describe("DatabaseHealth.layerTest", () => {
  // What an application would test: its own reaction to each status, with the real service swapped out.
  const shouldShedLoad = Effect.map(Health.performHealthCheck(), (check) =>
    Health.statusSeverity(check.status) >= Health.statusSeverity("UNHEALTHY"))

  it.effect("plays back scripted results in order and repeats the last", () =>
    Effect.gen(function*() {
      const decisions = yield* Effect.all([shouldShedLoad, shouldShedLoad, shouldShedLoad, shouldShedLoad])
      expect(decisions).toEqual([false, true, false, false])
      const check = yield* Health.performHealthCheck()
      expect(check.status).toBe("DEGRADED")
      expect(check.message).toBe("disk is slow")
    }).pipe(
      Effect.provide(Health.DatabaseHealth.layerTest([
        { status: "HEALTHY" },
        { status: "CRITICAL" },
        { status: "DEGRADED", message: "disk is slow" }
      ]))
    ))
})
