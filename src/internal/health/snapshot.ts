/**
 * From what the probe read to a `HealthSnapshot`: the windowed-delta arithmetic (counters between
 * two samples, resets noticed), the server-wide session figures, replication, and the expensive
 * figures carried between their own passes. Pure: every rule is testable without a database.
 *
 * @internal
 */
import type { PoolStats, StatementStats } from "../../Database.js"
import type { HealthDetails, HealthSnapshot, UnknownFigure } from "./model.js"
import { type HealthFigure, noFigures } from "./figures.js"
import type { CheapSample } from "./probe.js"
import { type ExpensiveState, expensiveFigures } from "./expensive.js"
import { type ConsoleReading, poolerFigures } from "./pooler.js"
import { replicationFigures } from "./replication.js"

/** Cumulative counters of one sample, and when it was read (milliseconds, any monotonic origin). */
export interface Counters {
  readonly at: number
  readonly hit: number
  readonly read: number
  readonly deadlocks: number
  readonly reset: string | null
  readonly statements: { readonly calls: number; readonly totalMillis: number; readonly hiddenCalls: number } | undefined
  readonly observedCount: number
  readonly observedMillis: number
  readonly archiveFailed: number | undefined
  readonly archiveReset: string | null
}

/** The counters of a sample. */
export const countersOf = (sample: CheapSample, observed: StatementStats, at: number): Counters => ({
  at,
  hit: sample.raw.stats?.hit ?? 0,
  read: sample.raw.stats?.read ?? 0,
  deadlocks: sample.raw.stats?.deadlocks ?? 0,
  reset: sample.raw.stats?.reset ?? null,
  statements: typeof sample.statements === "object"
    ? { calls: sample.statements.calls, totalMillis: sample.statements.total_ms, hiddenCalls: sample.statements.hidden_calls }
    : undefined,
  observedCount: observed.count,
  observedMillis: observed.totalMillis,
  archiveFailed: sample.raw.archiver?.failed,
  archiveReset: sample.raw.archiver?.reset ?? null
})

/** What the windowed figures are measured against. */
export type Baseline =
  | { readonly kind: "first check"; readonly counters: Counters }
  | { readonly kind: "previous check"; readonly counters: Counters }
  | { readonly kind: "none" }

/** Everything `buildSnapshot` needs. */
export interface SnapshotInput {
  readonly pool: PoolStats
  readonly sample: CheapSample
  readonly counters: Counters
  readonly baseline: Baseline
  readonly expensive: ExpensiveState | undefined
  /** Description of the expensive cadence, e.g. "every 5m". */
  readonly expensiveCadence: string
  /** Replicas a primary should have streaming (option). */
  readonly expectedReplicas: number
  /** What the pooler's admin console answered, when one is configured. */
  readonly pooler?: ConsoleReading | undefined
}

/** Fewer block accesses than this in a window leave the cache hit ratio unknown. */
export const minimumBlockAccesses = 500

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits

const seconds = (millis: number) => `${round(millis / 1000, 1)} s`

const monitoringHint = (role: string) =>
  `Grant the monitoring role so that every session is visible: GRANT pg_monitor TO ${role}; ` +
  "(see sql/grant-monitoring.sql, or sql/monitoring-functions.sql where pg_monitor cannot be granted)."

/** A counter's change over the window: `undefined` without a baseline; since the reset when it restarted. */
const delta = (now: number, before: number | undefined, reset: boolean): { value: number; sinceReset: boolean } | undefined =>
  before === undefined ? undefined : reset || now < before ? { value: now, sinceReset: true } : { value: now - before, sinceReset: false }

/** Builds the snapshot of one check. */
export const buildSnapshot = (input: SnapshotInput): HealthSnapshot => {
  const { baseline, counters, pool, sample } = input
  const raw = sample.raw
  const figures = noFigures()
  const unknown: Array<UnknownFigure> = []
  const partial: Array<HealthFigure> = []
  const before = baseline.kind === "none" ? undefined : baseline.counters
  const elapsed = before ? counters.at - before.at : 0
  const windowText = baseline.kind === "first check"
    ? `two samples ${seconds(elapsed)} apart (first check)`
    : baseline.kind === "previous check"
    ? `since the last check, ${seconds(elapsed)} ago`
    : "none: the first check sets the baseline"

  figures.connectionPoolUsage = pool.max > 0 ? round((pool.inUse / pool.max) * 100) : 0
  figures.poolWaiting = pool.waiting
  figures.probeLatency = round(sample.latencyMillis)

  const available = raw.maxConnections - raw.superuserReserved - raw.reserved
  figures.serverConnectionUsage = available > 0 ? round((raw.sessions.clientBackends / available) * 100) : null

  // Cache hit ratio and deadlocks: pg_stat_database over the window; a reset is noticed.
  const statsReset = before !== undefined && (before.reset !== counters.reset || counters.hit < before.hit || counters.read < before.read)
  const hit = delta(counters.hit, before?.hit, statsReset)
  const read = delta(counters.read, before?.read, statsReset)
  const statsWindow = statsReset ? "since the statistics reset" : windowText
  if (hit && read) {
    const accesses = hit.value + read.value
    figures.cacheHitRatio = accesses >= minimumBlockAccesses ? round((hit.value / accesses) * 100) : null
    if (figures.cacheHitRatio === null) {
      unknown.push({
        figure: "cacheHitRatio",
        reason: `Only ${accesses} block accesses in the window (${statsWindow}; fewer than ${minimumBlockAccesses}): too few to judge the cache.`,
        remedy: false
      })
    }
    figures.deadlocks = delta(counters.deadlocks, before?.deadlocks, statsReset)!.value
  } else {
    unknown.push({
      figure: "cacheHitRatio",
      reason: "The cache hit ratio and deadlocks are measured over a window from the second sample on (this check sets the baseline).",
      remedy: false
    })
  }

  // Average statement time: pg_stat_statements when usable, else this application's own statements.
  let avgQueryTimeSource: "pg_stat_statements" | "observed" | "none" = "none"
  let avgQueryTimeWindow = windowText
  const statements = counters.statements
  if (statements !== undefined) {
    avgQueryTimeSource = "pg_stat_statements"
    if (before?.statements !== undefined) {
      const restarted = statements.calls < before.statements.calls
      const calls = restarted ? statements.calls : statements.calls - before.statements.calls
      const millis = restarted ? statements.totalMillis : statements.totalMillis - before.statements.totalMillis
      const hidden = restarted ? statements.hiddenCalls : Math.max(0, statements.hiddenCalls - before.statements.hiddenCalls)
      if (restarted) avgQueryTimeWindow = "since pg_stat_statements was reset"
      figures.avgQueryTime = calls > 0 ? round(millis / calls) : null
      if (hidden > 0) {
        unknown.push({
          figure: "avgQueryTime (other roles)",
          reason: `${hidden} statement call(s) of other roles in the window are hidden from role ${raw.role} ` +
            "(pg_stat_statements shows <insufficient privilege>), so the average leaves them out, as it must leave out " +
            `other monitors' probes it cannot recognise: GRANT pg_read_all_stats TO ${raw.role}; (part of pg_monitor).`,
          remedy: true
        })
      }
    }
  } else {
    unknown.push({
      figure: "avgQueryTime (server-wide)",
      reason: sample.statements === undefined
        ? "pg_stat_statements is not installed: add it to shared_preload_libraries and CREATE EXTENSION pg_stat_statements for server-wide statement times (this check uses the application's own statement times meanwhile)."
        : `pg_stat_statements is installed but not usable (${String(sample.statements)}): add it to shared_preload_libraries and restart (this check uses the application's own statement times meanwhile).`,
      remedy: true
    })
    if (before !== undefined) {
      avgQueryTimeSource = "observed"
      const count = counters.observedCount - before.observedCount
      const millis = counters.observedMillis - before.observedMillis
      figures.avgQueryTime = count > 0 ? round(millis / count) : null
    }
  }
  if (figures.avgQueryTime === null) {
    unknown.push({
      figure: "avgQueryTime",
      reason: `No statement ran in the window (${avgQueryTimeWindow}): the average statement time has no data.`,
      remedy: false
    })
  }

  // Sessions, server-wide. Hidden ones make a figure a lower bound, or unknown when nothing is seen.
  const s = raw.sessions
  const hidden = s.hidden > 0
  const bounded = (figure: HealthFigure, value: number | undefined) => {
    if (value !== undefined) {
      figures[figure] = round(value)
      if (hidden) partial.push(figure)
    } else figures[figure] = hidden ? null : 0
  }
  bounded("idleInTransactionSeconds", raw.oldestIdleInTransaction?.seconds)
  bounded("longestTransactionSeconds", raw.longestTransaction?.seconds)
  bounded("blockedSeconds", raw.blocked.length > 0 ? Math.max(...raw.blocked.map((b) => b.seconds)) : undefined)
  if (hidden) {
    unknown.push({
      figure: "sessions",
      reason: `${s.hidden} session(s) on the server are hidden from role ${raw.role}. ${monitoringHint(raw.role)}`,
      remedy: true
    })
  }
  figures.wraparoundPercent = raw.wraparound?.percent ?? null

  const replication = replicationFigures(raw, input.expectedReplicas, figures, unknown, partial)

  // Slots, prepared transactions, the archiver.
  figures.inactiveReplicationSlots = raw.slots.inactive
  figures.replicationSlotRetainedBytes = raw.slots.worst?.retainedBytes ?? 0
  figures.preparedTransactionSeconds = raw.prepared.oldest ? round(raw.prepared.oldest.seconds) : 0
  const archiver = raw.archiver
  let archiveFailedInWindow: number | null = null
  if (archiver === null) {
    unknown.push({ figure: "archiveFailures", reason: "pg_stat_archiver answered nothing.", remedy: false })
  } else {
    const archiveReset = before !== undefined && before.archiveReset !== counters.archiveReset
    archiveFailedInWindow = delta(archiver.failed, before?.archiveFailed, archiveReset)?.value ?? null
    figures.archiveFailures = Math.max(archiveFailedInWindow ?? 0, archiver.failingNow ? 1 : 0)
  }

  const pooler = poolerFigures(
    { clientPid: sample.clientPid ?? null, backendPid: raw.backendPid, console: input.pooler },
    figures,
    unknown
  )

  const expensive = expensiveFigures(input.expensive, input.expensiveCadence, raw.role, figures, unknown, partial)

  const details: HealthDetails = {
    serverVersion: raw.version,
    database: raw.database,
    role: raw.role,
    inRecovery: raw.inRecovery,
    window: { seconds: round(elapsed / 1000, 3), description: windowText },
    serverConnections: { used: s.clientBackends, available },
    visibleSessions: { active: s.active, idle: s.idle, hidden: s.hidden },
    hiddenServerSessions: s.hidden,
    ...(raw.pgStatStatementsSchema !== null ? { pgStatStatementsSchema: raw.pgStatStatementsSchema } : {}),
    avgQueryTimeSource,
    avgQueryTimeWindow,
    cacheHitRatioWindow: statsWindow,
    idleInTransaction: {
      count: s.idleInTransaction,
      ...(raw.oldestIdleInTransaction
        ? {
          oldestPid: raw.oldestIdleInTransaction.pid,
          oldestSeconds: raw.oldestIdleInTransaction.seconds,
          application: raw.oldestIdleInTransaction.application,
          database: raw.oldestIdleInTransaction.database,
          aborted: raw.oldestIdleInTransaction.aborted,
          locks: raw.oldestIdleInTransaction.locks,
          holdsHorizon: raw.oldestIdleInTransaction.horizon
        }
        : {})
    },
    ...(raw.longestTransaction
      ? {
        longestTransaction: {
          pid: raw.longestTransaction.pid,
          seconds: raw.longestTransaction.seconds,
          queryId: raw.longestTransaction.queryId,
          state: raw.longestTransaction.state,
          database: raw.longestTransaction.database
        }
      }
      : {}),
    blocked: raw.blocked.map((b) => ({ pid: b.pid, blockedBy: b.blockedBy, seconds: b.seconds, database: b.database })),
    waitingForLocks: s.waiting,
    ...(raw.wraparound ? { wraparoundDatabase: raw.wraparound.database } : {}),
    replication,
    preparedTransactions: {
      count: raw.prepared.count,
      ...(raw.prepared.oldest ? { oldest: raw.prepared.oldest } : {})
    },
    replicationSlots: {
      count: raw.slots.count,
      inactive: raw.slots.inactive,
      inactiveNames: raw.slots.inactiveNames.slice(0, 5),
      ...(raw.slots.worst ? { worst: raw.slots.worst } : {})
    },
    ...(archiver
      ? {
        archiver: {
          failedInWindow: archiveFailedInWindow,
          failingNow: archiver.failingNow,
          lastFailedWal: archiver.lastFailedWal,
          lastFailedSecondsAgo: archiver.lastFailedSecondsAgo,
          lastArchivedSecondsAgo: archiver.lastArchivedSecondsAgo
        }
      }
      : {}),
    ...expensive,
    pooler,
    settings: Object.fromEntries(Object.entries(raw.settings).filter((e): e is [string, string] => e[1] !== null))
  }
  return {
    reachable: true,
    pool,
    figures,
    activeConnections: hidden ? null : s.active,
    idleConnections: hidden ? null : s.idle,
    details,
    unknown,
    partial
  }
}

