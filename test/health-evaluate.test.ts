/** Judging health is pure: every boundary of every ladder, the unknown policy, the wording, without a database. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as Health from "../src/Health.js"

type Figures = Record<Health.HealthFigure, number | null>
const figureNames = Object.keys(Health.figureDefinitions) as Array<Health.HealthFigure>

/** Every figure at a healthy value (the lowest one for higher-is-worse, 100 for the cache). */
const healthyFigures = (): Figures =>
  Object.fromEntries(
    figureNames.map((name) => [name, Health.figureDefinitions[name].worse === "lower" ? 100 : 0])
  ) as Figures

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
      autovacuum: "on",
      max_slot_wal_keep_size: "-1"
    },
    idleInTransaction: {
      count: 2,
      oldestPid: 4242,
      oldestSeconds: 45,
      application: "billing",
      database: "payments",
      aborted: false,
      locks: 3,
      holdsHorizon: true
    },
    longestTransaction: { pid: 5151, seconds: 400, queryId: "-77", state: "active", database: "app" },
    blocked: [{ pid: 6161, blockedBy: [7171], seconds: 40, database: "app" }],
    wraparoundDatabase: "app",
    avgQueryTimeSource: "pg_stat_statements",
    avgQueryTimeWindow: "since the last check, 60 s ago",
    topStatement: { queryId: "1234", calls: 10, meanMillis: 812 },
    cacheHitRatioWindow: "since the last check, 60 s ago",
    topReadTable: { name: "public.events", blocksRead: 9000 },
    serverConnections: { used: 90, available: 97 },
    replication: { role: "primary", replicas: 1, streaming: 0, expected: 1 },
    preparedTransactions: { count: 1, oldest: { gid: "tm-42", database: "app", owner: "app_user", seconds: 400 } },
    replicationSlots: {
      count: 2,
      inactive: 1,
      inactiveNames: ["replica_b"],
      worst: { name: "replica_b", type: "physical", active: false, retainedBytes: 20 * 2 ** 30, walStatus: "extended" }
    },
    archiver: { failedInWindow: 3, failingNow: true, lastFailedWal: "000000010000000000000042", lastFailedSecondsAgo: 5, lastArchivedSecondsAgo: 600 },
    sequences: { count: 3, hidden: 0, worst: { name: "public.orders_id_seq", percent: 80, limit: 2147483647, columnBound: true } },
    tables: {
      count: 12,
      deadTuples: { name: "public.sessions", percent: 60, dead: 90000 },
      vacuum: { name: "public.sessions", seconds: 4 * 86400 },
      neverVacuumed: 0,
      analyze: { name: "public.orders", seconds: 2 * 86400 },
      neverAnalyzed: 0,
      xid: { name: "public.archive", percent: 80 }
    },
    databaseSize: { bytes: 50 * 2 ** 30, growthBytesPerHour: 2 * 2 ** 30, secondsApart: 300 },
    database: "app"
  },
  unknown: [],
  ...extra
})

const t = Health.defaultThresholds
const step = 0.001
const levels = ["degraded", "unhealthy", "critical"] as const
const levelStatus = { degraded: "DEGRADED", unhealthy: "UNHEALTHY", critical: "CRITICAL" } as const

/** The status a value should have: the highest level whose threshold it reaches. */
const expectedStatus = (figure: Health.HealthFigure, value: number): Health.DatabaseHealthStatus => {
  const higher = Health.figureDefinitions[figure].worse === "higher"
  const reached = levels.filter((level) => (higher ? value >= t[level][figure] : value < t[level][figure]))
  return reached.length === 0 ? "HEALTHY" : levelStatus[reached[reached.length - 1]!]
}

describe("default thresholds", () => {
  it("are the seed's for its three figures", () => {
    expect(t.degraded).toMatchObject({ connectionPoolUsage: 70, avgQueryTime: 100, cacheHitRatio: 90 })
    expect(t.unhealthy).toMatchObject({ connectionPoolUsage: 85, avgQueryTime: 250, cacheHitRatio: 80 })
    expect(t.critical).toMatchObject({ connectionPoolUsage: 95, avgQueryTime: 500, cacheHitRatio: 70 })
  })

  it("a sequence past 75% (an integer id column's classic outage) is DEGRADED", () => {
    expect(t.degraded.sequenceUsedPercent).toBe(75)
  })
})

describe("evaluateHealth: the ladder of every figure", () => {
  for (const figure of figureNames) {
    it(`${figure}: just below each threshold is the level under it, at the threshold its level`, () => {
      const higher = Health.figureDefinitions[figure].worse === "higher"
      for (const level of levels) {
        const limit = t[level][figure]
        for (const value of [limit, higher ? limit - step : limit + step, higher ? limit + step : limit - step]) {
          const check = Health.evaluateHealth(snapshot({ [figure]: value }), t)
          const status = expectedStatus(figure, value)
          expect(check.figures[figure].status, `${figure} = ${value}`).toBe(status)
          expect(check.status, `${figure} = ${value}`).toBe(status)
          if (status === "HEALTHY") {
            expect(check.recommendations).toEqual([])
            expect(check.message).toBe("HEALTHY: every figure is within its thresholds")
          } else {
            expect(check.message).toContain(Health.figureDefinitions[figure].label)
            expect(check.recommendations).toHaveLength(1)
          }
        }
      }
    })
  }

  it("the worst figure decides, and every breached figure gets its own recommendation", () => {
    const check = Health.evaluateHealth(snapshot({ connectionPoolUsage: 72, avgQueryTime: 600, deadlocks: 6 }))
    expect(check.status).toBe("CRITICAL")
    expect(check.message.startsWith("CRITICAL: average statement time 600ms")).toBe(true)
    expect(check.recommendations).toHaveLength(3)
  })

  it("recommendations name the session, its database, the setting, the table or the statement to act on", () => {
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
    expect(text).toContain("pid 5151 in database app")
    expect(text).toContain("query id 1234")
    expect(text).toContain("shared_buffers = 128kB")
    expect(text).toContain("public.events")
    expect(text).toContain("pid 4242 (billing) in database payments")
    expect(text).toContain("it holds 3 lock(s) and keeps VACUUM from removing dead rows")
    expect(text).toContain("idle_in_transaction_session_timeout (now 0)")
    expect(text).toContain("pid 6161 in database app has waited 40s for a lock held by pid 7171")
    expect(text).toContain("deadlock_timeout (1s)")
    expect(text).toContain("Database app is at 80%")
  })

  it("the new figures' recommendations name what to act on", () => {
    const check = Health.evaluateHealth(
      snapshot({
        preparedTransactionSeconds: 400,
        inactiveReplicationSlots: 1,
        replicationSlotRetainedBytes: 20 * 2 ** 30,
        replicasDisconnected: 1,
        archiveFailures: 3,
        sequenceUsedPercent: 80,
        deadTuplePercent: 60,
        vacuumOverdueSeconds: 4 * 86400,
        analyzeOverdueSeconds: 2 * 86400,
        tableXidAgePercent: 80,
        databaseGrowthBytesPerHour: 2 * 2 ** 30
      })
    )
    const text = check.recommendations.join("\n")
    expect(text).toContain("ROLLBACK PREPARED 'tm-42'")
    expect(text).toContain("(replica_b)")
    expect(text).toContain("pg_drop_replication_slot")
    expect(text).toContain("keeps 20 GiB of WAL")
    expect(text).toContain("1 of the 1 expected replica(s) are not streaming")
    expect(text).toContain("last failed file 000000010000000000000042")
    expect(text).toContain("Sequence public.orders_id_seq has used 80% of its range (bounded by its column's type at 2147483647)")
    expect(text).toContain("Table public.sessions is 60% dead rows")
    expect(text).toContain("Table public.sessions is past its autovacuum threshold, last vacuumed 4 d ago")
    expect(text).toContain("Table public.orders has changed past its autoanalyze threshold")
    expect(text).toContain("Table public.archive is at 80% of autovacuum_freeze_max_age")
    expect(text).toContain("Database app grows 2 GiB/h")
    expect(check.recommendations).toHaveLength(11)
  })

  it("an aborted transaction left idle is not said to hold locks or a snapshot", () => {
    const base = snapshot({ idleInTransactionSeconds: 45 })
    const aborted = Health.evaluateHealth({
      ...base,
      details: { ...base.details, idleInTransaction: { ...base.details.idleInTransaction!, aborted: true, locks: 0, holdsHorizon: false } }
    })
    const text = aborted.recommendations.join("\n")
    expect(text).toContain("holds no locks and no snapshot")
    expect(text).toContain("waits for a ROLLBACK")
    expect(text).not.toContain("its locks and snapshot")
    const savepoint = Health.evaluateHealth({
      ...base,
      details: { ...base.details, idleInTransaction: { ...base.details.idleInTransaction!, aborted: true, locks: 2 } }
    })
    expect(savepoint.recommendations.join("\n")).toContain("still holds 2 lock(s)")
  })

  it("metrics keep the seed's shape", () => {
    const check = Health.evaluateHealth(
      snapshot({ connectionPoolUsage: 10, avgQueryTime: 5, cacheHitRatio: 99.5 }),
      t,
      new Date("2026-01-02T03:04:05.000Z")
    )
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
})

describe("evaluateHealth: what it could not see", () => {
  const hidden = snapshot({ idleInTransactionSeconds: null, cacheHitRatio: null }, {
    activeConnections: null,
    idleConnections: null,
    unknown: [
      { figure: "sessions", reason: "3 session(s) ... GRANT pg_monitor TO app;", remedy: true },
      { figure: "cacheHitRatio", reason: "Only 12 block accesses", remedy: false }
    ]
  })

  it("an unknown that counts is never HEALTHY: the verdict is UNKNOWN, with the grant that reveals it", () => {
    const check = Health.evaluateHealth(hidden)
    expect(check.figures.idleInTransactionSeconds.status).toBe("UNKNOWN")
    expect(check.status).toBe("UNKNOWN")
    expect(check.message).toMatch(/^UNKNOWN: could not assess oldest session idle in transaction/)
    expect(check.message).toContain("unknown: sessions, cacheHitRatio")
    expect(check.recommendations).toEqual(["3 session(s) ... GRANT pg_monitor TO app;"])
  })

  it("an unknown with nothing to judge (too few block reads) does not count", () => {
    const check = Health.evaluateHealth(snapshot({ cacheHitRatio: null }))
    expect(check.figures.cacheHitRatio.status).toBe("UNKNOWN")
    expect(check.status).toBe("HEALTHY")
  })

  it("whenUnknown decides per figure: ignore, or a level of its own", () => {
    const ignoring = Either.getOrThrow(Health.makeThresholds({ whenUnknown: { idleInTransactionSeconds: "ignore" } }))
    expect(Health.evaluateHealth(hidden, ignoring).status).toBe("HEALTHY")
    const strict = Either.getOrThrow(Health.makeThresholds({ whenUnknown: { idleInTransactionSeconds: "CRITICAL" } }))
    expect(Health.evaluateHealth(hidden, strict).status).toBe("CRITICAL")
    const cache = Either.getOrThrow(Health.makeThresholds({ whenUnknown: { cacheHitRatio: "UNKNOWN", idleInTransactionSeconds: "ignore" } }))
    expect(Health.evaluateHealth(hidden, cache).status).toBe("UNKNOWN")
  })

  it("a known emergency outranks UNKNOWN, which outranks a known warning", () => {
    expect(Health.evaluateHealth({ ...hidden, figures: { ...hidden.figures, blockedSeconds: 40 } }).status).toBe("UNHEALTHY")
    const degraded = Health.evaluateHealth({ ...hidden, figures: { ...hidden.figures, blockedSeconds: 6 } })
    expect(degraded.status).toBe("UNKNOWN")
    expect(degraded.message).toContain("longest lock wait 6s (degraded at 5s)")
    expect(Health.statusSeverity("DEGRADED")).toBeLessThan(Health.statusSeverity("UNKNOWN"))
    expect(Health.statusSeverity("UNKNOWN")).toBeLessThan(Health.statusSeverity("UNHEALTHY"))
  })

  it("a lower bound (part of it hidden) proves a breach but never health", () => {
    const low = Health.evaluateHealth(snapshot({ longestTransactionSeconds: 5 }, { partial: ["longestTransactionSeconds"] }))
    expect(low.figures.longestTransactionSeconds).toMatchObject({ value: 5, status: "UNKNOWN", partial: true })
    expect(low.status).toBe("UNKNOWN")
    const high = Health.evaluateHealth(snapshot({ longestTransactionSeconds: 400 }, { partial: ["longestTransactionSeconds"] }))
    expect(high.figures.longestTransactionSeconds.status).toBe("UNHEALTHY")
    expect(high.status).toBe("UNHEALTHY")
  })
})

describe("thresholds", () => {
  it("custom values merge over the defaults", () => {
    const merged = Either.getOrThrow(Health.makeThresholds({ degraded: { avgQueryTime: 80 }, critical: { cacheHitRatio: 75 } }))
    expect(merged.degraded.avgQueryTime).toBe(80)
    expect(merged.critical.cacheHitRatio).toBe(75)
    expect(merged.unhealthy).toEqual(t.unhealthy)
  })

  it("an explicit undefined means the default", () => {
    const merged = Either.getOrThrow(Health.makeThresholds({ degraded: { avgQueryTime: undefined }, whenUnknown: undefined }))
    expect(merged.degraded.avgQueryTime).toBe(100)
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
    ["an unknown policy", { whenUnknown: { blockedSeconds: "panic" } }, "whenUnknown.blockedSeconds"],
    ["a policy for an unknown figure", { whenUnknown: { cpu: "ignore" } }, "whenUnknown.cpu"],
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
