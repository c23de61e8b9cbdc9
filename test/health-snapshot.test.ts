/**
 * The windowed-delta arithmetic and the figures built from the probe's answers, without a database:
 * synthetic samples in, a snapshot out. (What the server answers is covered by the .db tests.)
 */
import { describe, expect, it } from "vitest"
import * as Health from "../src/Health.js"
import { nextExpensive } from "../src/internal/health/expensive.js"
import type { ConsoleReading, PoolRow } from "../src/internal/health/pooler.js"
import type { CheapSample } from "../src/internal/health/probe.js"
import { decode, RawExpensive, RawSnapshot, RowMismatch } from "../src/internal/health/rows.js"
import { type Baseline, buildSnapshot, countersOf } from "../src/internal/health/snapshot.js"

type Raw = typeof RawSnapshot.Type
type Expensive = typeof RawExpensive.Type

const raw = (over: Partial<Raw> = {}): Raw => ({
  versionNum: 150000,
  version: "15.20",
  database: "app",
  role: "app_user",
  backendPid: 4242,
  inRecovery: false,
  maxConnections: 100,
  superuserReserved: 3,
  reserved: 0,
  sessions: { clientBackends: 5, hidden: 0, active: 1, idle: 3, idleInTransaction: 0, waiting: 0 },
  oldestIdleInTransaction: null,
  longestTransaction: null,
  blocked: [],
  stats: { hit: 100_000, read: 1_000, deadlocks: 2, reset: "2026-01-01 00:00:00+00" },
  wraparound: { database: "app", percent: 3 },
  standby: null,
  replicas: { count: 0, streaming: 0, hidden: 0, lagSeconds: null, lagBytes: null, list: [] },
  slots: { count: 0, inactive: 0, inactiveNames: [], worst: null },
  prepared: { count: 0, oldest: null },
  archiver: {
    failed: 0,
    archived: 10,
    reset: "2026-01-01 00:00:00+00",
    lastFailedWal: null,
    lastFailedSecondsAgo: null,
    lastArchivedSecondsAgo: 30,
    failingNow: false
  },
  settings: { shared_buffers: "128MB" },
  pgStatStatementsSchema: "public",
  ...over
})

const sample = (over: Partial<Raw> = {}, statements: CheapSample["statements"] = { calls: 50, total_ms: 500, hidden_calls: 0 }): CheapSample => ({
  latencyMillis: 0.8,
  clientPid: 4242,
  raw: raw(over),
  statements
})

const expensive = (over: Partial<Expensive> = {}): Expensive => ({
  sequences: { count: 2, hidden: 0, worst: { name: "public.t_id_seq", percent: 10, limit: 2147483647, columnBound: true } },
  tables: 4,
  deadTuples: null,
  vacuum: null,
  neverVacuumed: 0,
  analyze: null,
  neverAnalyzed: 0,
  xid: { name: "pg_catalog.pg_class", percent: 1 },
  sizeBytes: 100 * 2 ** 20,
  ...over
})

const healthyExpensive = nextExpensive(undefined, expensive(), 0, "2026-01-01T00:00:00.000Z")

const observed = { count: 0, totalMillis: 0 }
const pool = { total: 2, idle: 2, inUse: 0, waiting: 0, max: 2 }

/** A check: `before` a window earlier (ms), then `after`. */
const judge = (
  before: CheapSample | undefined,
  after: CheapSample,
  options: { kind?: "first check" | "previous check"; windowMillis?: number; expectedReplicas?: number; expensive?: Parameters<typeof buildSnapshot>[0]["expensive"]; pooler?: ConsoleReading } = {}
) => {
  const windowMillis = options.windowMillis ?? 1000
  const baseline: Baseline = before === undefined
    ? { kind: "none" }
    : { kind: options.kind ?? "first check", counters: countersOf(before, observed, 10_000) }
  const snapshot = buildSnapshot({
    pool,
    sample: after,
    counters: countersOf(after, observed, 10_000 + windowMillis),
    baseline,
    expensive: "expensive" in options ? options.expensive : healthyExpensive,
    expensiveCadence: "every 5m",
    expectedReplicas: options.expectedReplicas ?? 0,
    pooler: options.pooler
  })
  return { snapshot, check: Health.evaluateHealth(snapshot) }
}

describe("windowed figures", () => {
  it("a first check judges the window between its two samples, not the history before it", () => {
    // Earlier in the day one statement took 1,001 ms; nothing has run since.
    const history = sample({}, { calls: 1, total_ms: 1001, hidden_calls: 0 })
    const { check, snapshot } = judge(history, history)
    expect(snapshot.figures.avgQueryTime).toBeNull()
    expect(check.figures.avgQueryTime.status).toBe("UNKNOWN")
    expect(check.status).toBe("HEALTHY")
    expect(snapshot.details.window).toEqual({ seconds: 1, description: "two samples 1 s apart (first check)" })
    expect(snapshot.details.avgQueryTimeWindow).toBe("two samples 1 s apart (first check)")
  })

  it("statements, block reads and deadlocks in the window are what count", () => {
    const before = sample({}, { calls: 1, total_ms: 1001, hidden_calls: 0 })
    const after = sample(
      { stats: { hit: 100_900, read: 1_100, deadlocks: 3, reset: "2026-01-01 00:00:00+00" } },
      { calls: 5, total_ms: 1201, hidden_calls: 0 }
    )
    const { snapshot } = judge(before, after, { kind: "previous check", windowMillis: 60_000 })
    expect(snapshot.figures.avgQueryTime).toBe(50)
    expect(snapshot.figures.cacheHitRatio).toBe(90)
    expect(snapshot.figures.deadlocks).toBe(1)
    expect(snapshot.details.window?.description).toBe("since the last check, 60 s ago")
  })

  it("a statistics reset is noticed: counters since the reset, never a negative window", () => {
    const before = sample()
    const after = sample({ stats: { hit: 950, read: 50, deadlocks: 0, reset: "2026-01-02 00:00:00+00" } })
    const { snapshot } = judge(before, after, { kind: "previous check" })
    expect(snapshot.figures.cacheHitRatio).toBe(95)
    expect(snapshot.figures.deadlocks).toBe(0)
    expect(snapshot.details.cacheHitRatioWindow).toBe("since the statistics reset")
  })

  it("too few block accesses leave the cache hit ratio unknown, and that does not count against the verdict", () => {
    const { check } = judge(sample(), sample({ stats: { hit: 100_010, read: 1_001, deadlocks: 2, reset: "2026-01-01 00:00:00+00" } }))
    expect(check.figures.cacheHitRatio.value).toBeNull()
    expect(check.status).toBe("HEALTHY")
  })

  it("statements of other roles, hidden from this one, stay out of the average and say what would reveal them", () => {
    const before = sample({}, { calls: 10, total_ms: 100, hidden_calls: 1000 })
    // One visible slow statement; many hidden ones (another monitor's probes, for all we know).
    const after = sample({}, { calls: 11, total_ms: 1101, hidden_calls: 1400 })
    const { check, snapshot } = judge(before, after)
    expect(snapshot.figures.avgQueryTime).toBe(1001)
    expect(check.figures.avgQueryTime.status).toBe("CRITICAL")
    const hidden = snapshot.unknown.find((u) => u.figure === "avgQueryTime (other roles)")
    expect(hidden?.reason).toContain("400 statement call(s) of other roles")
    expect(hidden?.reason).toContain("GRANT pg_read_all_stats TO app_user")
    expect(check.recommendations).toContain(hidden!.reason)
  })

  it("pg_stat_statements reset between samples: the calls since the reset", () => {
    const { snapshot } = judge(sample({}, { calls: 500, total_ms: 5000, hidden_calls: 0 }), sample({}, { calls: 2, total_ms: 40, hidden_calls: 0 }))
    expect(snapshot.figures.avgQueryTime).toBe(20)
    expect(snapshot.details.avgQueryTimeWindow).toBe("since pg_stat_statements was reset")
  })

  it("without a baseline (firstCheckWindow 0) the windowed figures are unknown, not zero", () => {
    const { snapshot, check } = judge(undefined, sample())
    expect(snapshot.figures.deadlocks).toBeNull()
    expect(snapshot.figures.cacheHitRatio).toBeNull()
    expect(check.status).toBe("HEALTHY")
  })

  it("archive failures: those in the window, and at least 1 while the last attempt failed", () => {
    const archiver = raw().archiver!
    const failing = sample({ archiver: { ...archiver, failed: 4, failingNow: true, lastFailedWal: "0000000100000000000000A1" } })
    expect(judge(sample({ archiver: { ...archiver, failed: 4 } }), failing).snapshot.figures.archiveFailures).toBe(1)
    expect(judge(sample(), failing).snapshot.figures.archiveFailures).toBe(4)
    expect(judge(sample(), sample({ archiver: { ...archiver, failed: 4 } })).snapshot.figures.archiveFailures).toBe(4)
    expect(judge(sample({ archiver: { ...archiver, failed: 4 } }), sample({ archiver: { ...archiver, failed: 4 } })).snapshot.figures.archiveFailures).toBe(0)
  })
})

describe("sessions, server-wide", () => {
  it("connections count every client session of the server against the slots left for them", () => {
    const { snapshot } = judge(sample(), sample({ sessions: { clientBackends: 32, hidden: 30, active: 0, idle: 1, idleInTransaction: 0, waiting: 0 } }))
    expect(snapshot.figures.serverConnectionUsage).toBe(Math.round((32 / 97) * 10000) / 100)
  })

  it("hidden sessions: unknown when nothing is visible, a lower bound when something is", () => {
    const hiddenSessions = { clientBackends: 5, hidden: 2, active: 0, idle: 2, idleInTransaction: 0, waiting: 0 }
    const blind = judge(sample(), sample({ sessions: hiddenSessions }))
    expect(blind.snapshot.figures.idleInTransactionSeconds).toBeNull()
    expect(blind.snapshot.activeConnections).toBeNull()
    expect(blind.check.status).toBe("UNKNOWN")
    expect(blind.check.recommendations.join(" ")).toContain("GRANT pg_monitor TO app_user")
    const seen = judge(sample(), sample({
      sessions: hiddenSessions,
      oldestIdleInTransaction: { pid: 7, seconds: 40, application: "billing", database: "other", aborted: false, locks: 1, horizon: true }
    }))
    expect(seen.snapshot.figures.idleInTransactionSeconds).toBe(40)
    expect(seen.snapshot.partial).toContain("idleInTransactionSeconds")
    expect(seen.check.figures.idleInTransactionSeconds.status).toBe("DEGRADED")
    expect(seen.snapshot.details.idleInTransaction?.database).toBe("other")
  })
})

describe("replication", () => {
  const standby = (over: Partial<NonNullable<Raw["standby"]>>): Partial<Raw> => ({
    inRecovery: true,
    replicas: null,
    standby: {
      receiver: { pid: 9, status: "streaming" },
      conninfoSet: true,
      paused: false,
      pauseState: "not paused",
      caughtUp: true,
      lagBytes: 0,
      replayAgeSeconds: 900,
      ...over
    }
  })

  it("a standby whose WAL receiver is not streaming is not HEALTHY, and its stale lag is not read as 0", () => {
    // The received position is stale and equals the replayed one: that used to read as "0 s behind".
    const { check, snapshot } = judge(sample(), sample(standby({ receiver: null, caughtUp: true })))
    expect(snapshot.figures.replicasDisconnected).toBe(1)
    expect(snapshot.figures.replicationLagSeconds).toBeNull()
    expect(check.status).toBe("UNHEALTHY")
    expect(check.recommendations.join(" ")).toContain("not streaming from its primary (WAL receiver: none)")
    expect(judge(sample(), sample(standby({ receiver: { pid: 9, status: "waiting" } }))).check.status).toBe("UNHEALTHY")
  })

  it("a streaming standby that has replayed all it received is 0 behind, however old its last transaction", () => {
    const { snapshot, check } = judge(sample(), sample(standby({})))
    expect(snapshot.figures.replicationLagSeconds).toBe(0)
    expect(snapshot.figures.replicasDisconnected).toBe(0)
    expect(check.status).toBe("HEALTHY")
  })

  it("a streaming standby behind (replay paused) is as far behind as its last replayed transaction", () => {
    const { snapshot, check } = judge(sample(), sample(standby({ caughtUp: false, paused: true, lagBytes: 2 * 2 ** 30, replayAgeSeconds: 70 })))
    expect(snapshot.figures.replicationLagSeconds).toBe(70)
    expect(snapshot.figures.replicationLagBytes).toBe(2 * 2 ** 30)
    expect(check.status).toBe("UNHEALTHY")
    expect(check.recommendations.join(" ")).toContain("replay is paused")
  })

  it("a primary with fewer streaming replicas than expected is not HEALTHY", () => {
    const { check } = judge(sample(), sample(), { expectedReplicas: 1 })
    expect(check.figures.replicasDisconnected.value).toBe(1)
    expect(check.status).toBe("UNHEALTHY")
    const streaming = sample({ replicas: { count: 1, streaming: 1, hidden: 0, lagSeconds: null, lagBytes: 0, list: [] } })
    expect(judge(sample(), streaming, { expectedReplicas: 1 }).check.status).toBe("HEALTHY")
  })

  it("replicas whose state is hidden are unknown, not caught up, and listed with nothing but their application name", () => {
    const hidden = sample({
      replicas: {
        count: 1,
        streaming: 0,
        hidden: 1,
        lagSeconds: null,
        lagBytes: null,
        list: [{ applicationName: "walreceiver", hidden: true, clientAddress: null, state: null, syncState: null, replayLagSeconds: null, lagBytes: null }]
      }
    })
    const { check } = judge(sample(), hidden)
    expect(check.figures.replicationLagSeconds.value).toBeNull()
    expect(check.status).toBe("UNKNOWN")
    expect(check.details.replication?.standbys).toEqual([{ hidden: true, applicationName: "walreceiver" }])
  })

  it("a primary lists each replica, and the lag recommendation names the one furthest behind", () => {
    const replica = (name: string, lagSeconds: number | null, lagBytes: number, state = "streaming") => ({
      applicationName: name,
      hidden: false,
      clientAddress: "10.0.0.7",
      state,
      syncState: "async",
      replayLagSeconds: lagSeconds,
      lagBytes
    })
    const behind = sample({
      replicas: {
        count: 3,
        streaming: 2,
        hidden: 0,
        lagSeconds: 75,
        lagBytes: 2 * 2 ** 30,
        list: [replica("eu-west", 75, 2 * 2 ** 30), replica("eu-east", 0.004, 4096), replica("backup", null, 0, "backup")]
      }
    })
    const { check } = judge(sample(), behind, { expectedReplicas: 3 })
    expect(check.details.replication?.standbys).toHaveLength(3)
    expect(check.details.replication?.standbys?.[0]).toEqual({
      hidden: false,
      applicationName: "eu-west",
      clientAddress: "10.0.0.7",
      state: "streaming",
      syncState: "async",
      replayLagSeconds: 75,
      lagBytes: 2 * 2 ** 30
    })
    const text = check.recommendations.join(" ")
    expect(text).toContain("Replica 'eu-west' at 10.0.0.7 (streaming, async, replay_lag 75s, 2 GiB not replayed) is 75s behind")
    expect(text).toContain("Replica 'eu-west' at 10.0.0.7 (streaming, async, replay_lag 75s, 2 GiB not replayed) is 2 GiB behind")
    expect(text).toContain("connected but not streaming: 'backup' at 10.0.0.7 (backup, async")
  })

  it("a standby whose replay is paused is not HEALTHY, though nothing is behind (an idle primary)", () => {
    const paused = judge(sample(), sample(standby({ paused: true, pauseState: "paused" })))
    expect(paused.snapshot.figures.replicationLagSeconds).toBe(0)
    expect(paused.snapshot.figures.replayPaused).toBe(1)
    expect(paused.check.figures.replayPaused.status).toBe("DEGRADED")
    expect(paused.check.status).toBe("DEGRADED")
    expect(paused.check.message).toContain("WAL replay paused")
    expect(paused.check.recommendations.join(" ")).toContain("SELECT pg_wal_replay_resume()")
    expect(paused.check.details.replication?.replayPauseState).toBe("paused")
    // A pause requested but not yet reached counts the same.
    expect(judge(sample(), sample(standby({ paused: true, pauseState: "pause requested" }))).snapshot.figures.replayPaused).toBe(1)
    const running = judge(sample(), sample(standby({})))
    expect(running.snapshot.figures.replayPaused).toBe(0)
    expect(running.check.status).toBe("HEALTHY")
    // On a primary there is no replay to pause.
    expect(judge(sample(), sample()).snapshot.figures.replayPaused).toBe(0)
    // In recovery without an answer about replay: unknown, and that counts.
    const silent = judge(sample(), sample({ inRecovery: true, standby: null, replicas: null }))
    expect(silent.snapshot.figures.replayPaused).toBeNull()
    expect(silent.check.figures.replayPaused.status).toBe("UNKNOWN")
  })
})

describe("the expensive figures", () => {
  it("a table past its thresholds that was never vacuumed or analyzed counts from the statistics' reset, not as 0 s", () => {
    const never = nextExpensive(undefined, expensive({
      vacuum: { name: "public.events", seconds: 4 * 86400, never: true, since: "statistics reset" },
      neverVacuumed: 1,
      analyze: { name: "public.events", seconds: 4 * 86400, never: true, since: "server start" },
      neverAnalyzed: 1
    }), 0, "2026-01-01T00:00:00.000Z")
    const { check } = judge(sample(), sample(), { expensive: never })
    expect(check.figures.vacuumOverdueSeconds).toMatchObject({ value: 4 * 86400, status: "UNHEALTHY" })
    expect(check.figures.analyzeOverdueSeconds).toMatchObject({ value: 4 * 86400, status: "UNHEALTHY" })
    expect(check.details.tables?.vacuum).toEqual({ name: "public.events", seconds: 4 * 86400, never: true, since: "statistics reset" })
    const text = check.recommendations.join(" ")
    expect(text).toContain("Table public.events is past its autovacuum threshold, never vacuumed since the statistics reset 4 d ago (at least that long)")
    expect(text).toContain("Table public.events has changed past its autoanalyze threshold and has never been analyzed since the server start 4 d ago")
    // A table that was vacuumed says when, and carries no `never`.
    const once = nextExpensive(undefined, expensive({ vacuum: { name: "public.t", seconds: 30, never: false, since: null } }), 0, "2026-01-01T00:00:00.000Z")
    expect(judge(sample(), sample(), { expensive: once }).check.details.tables?.vacuum).toEqual({ name: "public.t", seconds: 30 })
  })

  it("growth needs two passes: unknown (and ignored) on the first, the rate per hour after", () => {
    const first = nextExpensive(undefined, expensive(), 0, "2026-01-01T00:00:00.000Z")
    expect(first.growthBytesPerHour).toBeNull()
    const once = judge(sample(), sample(), { expensive: first })
    expect(once.check.figures.databaseGrowthBytesPerHour.status).toBe("UNKNOWN")
    expect(once.check.status).toBe("HEALTHY")
    const second = nextExpensive(first, expensive({ sizeBytes: 100 * 2 ** 20 + 2 ** 30 / 12 }), 300_000, "2026-01-01T00:05:00.000Z")
    expect(second.growthBytesPerHour).toBe(2 ** 30)
    expect(judge(sample(), sample(), { expensive: second }).check.figures.databaseGrowthBytesPerHour.status).toBe("DEGRADED")
  })

  it("a failed pass makes its figures unknown, and that counts", () => {
    const failed = nextExpensive(undefined, { failure: "canceling statement due to statement timeout" }, 0, "2026-01-01T00:00:00.000Z")
    const { check } = judge(sample(), sample(), { expensive: failed })
    expect(check.figures.sequenceUsedPercent.status).toBe("UNKNOWN")
    expect(check.status).toBe("UNKNOWN")
    expect(check.unknown.map((u) => u.reason).join(" ")).toContain("statement timeout")
  })

  it("sequences hidden from the role make the sequence figure a lower bound", () => {
    const state = nextExpensive(undefined, expensive({ sequences: { count: 3, hidden: 1, worst: { name: "public.a_seq", percent: 5, limit: 9e18, columnBound: false } } }), 0, "x")
    const { check } = judge(sample(), sample(), { expensive: state })
    expect(check.figures.sequenceUsedPercent).toMatchObject({ value: 5, status: "UNKNOWN", partial: true })
    expect(check.recommendations.join(" ")).toContain("GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO app_user")
  })
})

describe("a pooler in front", () => {
  const behind = (): CheapSample => ({ ...sample(), clientPid: 1_234_567 })
  const pool = (over: Partial<PoolRow>): PoolRow => ({
    database: "app",
    user: "app",
    cl_active: 3,
    cl_waiting: 0,
    sv_active: 2,
    sv_idle: 0,
    sv_used: 0,
    sv_tested: 0,
    sv_login: 0,
    maxwait: 0,
    maxwait_us: 0,
    pool_mode: "transaction",
    ...over
  })

  it("the same pid at start-up and from pg_backend_pid(): no pooler, and nothing said about one", () => {
    const { check, snapshot } = judge(sample(), sample())
    expect(snapshot.details.pooler).toEqual({ detected: false, via: [], clientPid: 4242, backendPid: 4242 })
    expect(check.figures.poolerClientsWaiting).toMatchObject({ value: null, status: "UNKNOWN" })
    expect(check.status).toBe("HEALTHY")
    expect(check.unknown.map((u) => u.figure)).not.toContain("pooler")
  })

  it("different pids: a pooler is detected, and the console that would show its queue is recommended", () => {
    const { check, snapshot } = judge(sample(), behind())
    expect(snapshot.details.pooler).toMatchObject({ detected: true, via: ["backend pid"], clientPid: 1_234_567, backendPid: 4242 })
    expect(check.status).toBe("HEALTHY")
    expect(check.recommendations.join(" ")).toContain("poolerAdminUrl")
  })

  it("the console's pools: waiting clients summed, the longest wait (seconds and microseconds) judged, the admin pool left out", () => {
    const pooler: ConsoleReading = {
      pools: [
        pool({ database: "pgbouncer", user: "pgbouncer", cl_waiting: 9, maxwait: 99, pool_mode: "statement" }),
        pool({ cl_waiting: 4, maxwait: 6, maxwait_us: 500_000 }),
        pool({ database: "reports", cl_waiting: 3, maxwait: 0, maxwait_us: 200_000 })
      ],
      databases: [{ name: "app", pool_size: 2, current_connections: 2 }]
    }
    const { check, snapshot } = judge(sample(), behind(), { pooler })
    expect(snapshot.figures.poolerClientsWaiting).toBe(7)
    expect(snapshot.figures.poolerMaxWaitSeconds).toBe(6.5)
    expect(check.figures.poolerMaxWaitSeconds.status).toBe("UNHEALTHY")
    expect(check.figures.poolerClientsWaiting.status).toBe("DEGRADED")
    expect(snapshot.details.pooler?.pools?.map((p) => [p.database, p.poolSize])).toEqual([["app", 2], ["reports", null]])
    expect(check.recommendations.join(" ")).toContain("7 client(s) wait in the pooler for a server connection (pool app/app: 2 server connection(s) active, 0 idle, pool_size 2; longest wait 6.5s)")
  })

  it("a console that did not answer: unknown, said with the reason, ignored by default", () => {
    const { check } = judge(sample(), behind(), { pooler: { failure: "ECONNREFUSED" } })
    expect(check.figures.poolerClientsWaiting.value).toBeNull()
    expect(check.status).toBe("HEALTHY")
    expect(check.recommendations.join(" ")).toContain("The pooler's admin console did not answer (ECONNREFUSED)")
  })
})

describe("the probe's answer is decoded, not cast", () => {
  it("a row of the wrong shape is a failure naming where", () => {
    expect(() => decode(RawSnapshot, "health probe", { ...raw(), sessions: { clientBackends: "five" } })).toThrow(RowMismatch)
    expect(() => decode(RawSnapshot, "health probe", { ...raw(), sessions: { clientBackends: "five" } })).toThrow(/sessions\.clientBackends/)
    expect(decode(RawSnapshot, "health probe", JSON.parse(JSON.stringify(raw())))).toEqual(raw())
  })
})
