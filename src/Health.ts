/**
 * Database health: measure, judge, recommend.
 *
 * Why: an operator should learn that the database is degrading before users do. Unlike PgHero,
 * check_postgres or postgres_exporter, this check also sees the application's own pool (usage and
 * waiters), and it never lies by omission: a figure it cannot see (missing privilege or extension)
 * is reported as unknown with the grant that would reveal it, never as healthy.
 *
 * Measuring talks to PostgreSQL through a dedicated probe connection with a hard timeout; judging
 * (`evaluateHealth`) is a pure function of a snapshot and thresholds.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as ParseResult from "effect/ParseResult"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import { classifyDatabaseError } from "./Classify.js"
import { Database, type PoolStats } from "./Database.js"
import {
  activityFunctionQuery,
  latencyQuery,
  query,
  type RawSnapshot,
  snapshotQuery,
  statementTotalsQuery,
  topReadTableQuery,
  topStatementQuery
} from "./internal/healthProbe.js"

// ---------------------------------------------------------------------------
// Status and thresholds
// ---------------------------------------------------------------------------

/**
 * The seed's four levels, worst last.
 *
 * @since 0.1.0
 */
export const DatabaseHealthStatus = {
  HEALTHY: "HEALTHY",
  DEGRADED: "DEGRADED",
  UNHEALTHY: "UNHEALTHY",
  CRITICAL: "CRITICAL"
} as const

/**
 * @since 0.1.0
 */
export type DatabaseHealthStatus = typeof DatabaseHealthStatus[keyof typeof DatabaseHealthStatus]

const severity: Record<DatabaseHealthStatus, number> = { HEALTHY: 0, DEGRADED: 1, UNHEALTHY: 2, CRITICAL: 3 }

/**
 * Orders statuses (for "worst of").
 *
 * @since 0.1.0
 */
export const statusSeverity = (status: DatabaseHealthStatus): number => severity[status]

/**
 * Every figure that has thresholds, its unit, and which direction is worse.
 *
 * @since 0.1.0
 */
export const figureDefinitions = {
  connectionPoolUsage: { label: "application pool usage", unit: "%", worse: "higher" },
  poolWaiting: { label: "callers waiting for a pooled connection", unit: "", worse: "higher" },
  serverConnectionUsage: { label: "server connection slots used", unit: "%", worse: "higher" },
  avgQueryTime: { label: "average statement time", unit: "ms", worse: "higher" },
  cacheHitRatio: { label: "cache hit ratio", unit: "%", worse: "lower" },
  idleInTransactionSeconds: { label: "oldest session idle in transaction", unit: "s", worse: "higher" },
  longestTransactionSeconds: { label: "longest running transaction", unit: "s", worse: "higher" },
  blockedSeconds: { label: "longest lock wait", unit: "s", worse: "higher" },
  deadlocks: { label: "deadlocks since the last check", unit: "", worse: "higher" },
  wraparoundPercent: { label: "transaction ID wraparound (of autovacuum_freeze_max_age)", unit: "%", worse: "higher" },
  replicationLagSeconds: { label: "replication lag", unit: "s", worse: "higher" },
  probeLatency: { label: "probe round trip", unit: "ms", worse: "higher" }
} as const

/**
 * @since 0.1.0
 */
export type HealthFigure = keyof typeof figureDefinitions

const figureNames = Object.keys(figureDefinitions) as ReadonlyArray<HealthFigure>

const Limit = Schema.Number.pipe(
  Schema.filter((n) => Number.isFinite(n) && n >= 0, { message: () => "must be a finite number >= 0" })
)
const Percent = Limit.pipe(Schema.filter((n) => n <= 100, { message: () => "must be a percentage (0-100)" }))

const LevelThresholds = Schema.Struct({
  connectionPoolUsage: Percent,
  poolWaiting: Limit,
  serverConnectionUsage: Percent,
  avgQueryTime: Limit,
  cacheHitRatio: Percent,
  idleInTransactionSeconds: Limit,
  longestTransactionSeconds: Limit,
  blockedSeconds: Limit,
  deadlocks: Limit,
  wraparoundPercent: Percent,
  replicationLagSeconds: Limit,
  probeLatency: Limit
})

/**
 * One level of the ladder: where a figure starts to count as that level.
 *
 * @since 0.1.0
 */
export type LevelThresholds = typeof LevelThresholds.Type

const orderedLadder = (t: { degraded: LevelThresholds; unhealthy: LevelThresholds; critical: LevelThresholds }) => {
  for (const name of figureNames) {
    const [d, u, c] = [t.degraded[name], t.unhealthy[name], t.critical[name]]
    const lowerIsWorse = figureDefinitions[name].worse === "lower"
    const ordered = lowerIsWorse ? d >= u && u >= c : d <= u && u <= c
    if (!ordered) {
      return {
        path: [name],
        message: lowerIsWorse
          ? `must not rise from degraded (${d}) to unhealthy (${u}) to critical (${c}): lower is worse`
          : `must not fall from degraded (${d}) to unhealthy (${u}) to critical (${c}): higher is worse`
      }
    }
  }
  return undefined
}

/**
 * Thresholds: the seed's three ladders (plus our extra figures), each ordered.
 *
 * @since 0.1.0
 */
export const HealthThresholds = Schema.Struct({
  degraded: LevelThresholds,
  unhealthy: LevelThresholds,
  critical: LevelThresholds
}).pipe(Schema.filter((t) => orderedLadder(t)))

/**
 * @since 0.1.0
 */
export type HealthThresholds = typeof HealthThresholds.Type

/**
 * The seed's defaults, and ours for the figures the seed did not have.
 *
 * @since 0.1.0
 */
export const defaultThresholds: HealthThresholds = {
  degraded: {
    connectionPoolUsage: 70,
    avgQueryTime: 100,
    cacheHitRatio: 90,
    poolWaiting: 1,
    serverConnectionUsage: 70,
    idleInTransactionSeconds: 30,
    longestTransactionSeconds: 60,
    blockedSeconds: 5,
    deadlocks: 1,
    wraparoundPercent: 50,
    replicationLagSeconds: 10,
    probeLatency: 100
  },
  unhealthy: {
    connectionPoolUsage: 85,
    avgQueryTime: 250,
    cacheHitRatio: 80,
    poolWaiting: 5,
    serverConnectionUsage: 85,
    idleInTransactionSeconds: 120,
    longestTransactionSeconds: 300,
    blockedSeconds: 30,
    deadlocks: 5,
    wraparoundPercent: 75,
    replicationLagSeconds: 60,
    probeLatency: 500
  },
  critical: {
    connectionPoolUsage: 95,
    avgQueryTime: 500,
    cacheHitRatio: 70,
    poolWaiting: 20,
    serverConnectionUsage: 95,
    idleInTransactionSeconds: 600,
    longestTransactionSeconds: 1800,
    blockedSeconds: 120,
    deadlocks: 20,
    wraparoundPercent: 90,
    replicationLagSeconds: 300,
    probeLatency: 2000
  }
}

/**
 * Custom thresholds as the seed takes them: any subset of any level; the rest keeps its default.
 *
 * @since 0.1.0
 */
export interface HealthThresholdsInput {
  readonly degraded?: Partial<LevelThresholds>
  readonly unhealthy?: Partial<LevelThresholds>
  readonly critical?: Partial<LevelThresholds>
}

/**
 * Invalid thresholds (a wrong value or a ladder out of order). `field` names it, e.g.
 * `degraded.cacheHitRatio` or `avgQueryTime`.
 *
 * @since 0.1.0
 */
export class HealthThresholdsError extends Schema.TaggedError<HealthThresholdsError>()("HealthThresholdsError", {
  field: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Invalid health thresholds: ${this.field} ${this.reason}`
  }
}

const levels = ["degraded", "unhealthy", "critical"] as const

/**
 * Merges custom thresholds over the defaults and validates them.
 *
 * @since 0.1.0
 */
export const makeThresholds = (input: HealthThresholdsInput | unknown = {}): Either.Either<HealthThresholds, HealthThresholdsError> => {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return Either.left(new HealthThresholdsError({ field: "thresholds", reason: "must be an object" }))
  }
  const given = input as Record<string, unknown>
  for (const key of Object.keys(given)) {
    if (!(levels as ReadonlyArray<string>).includes(key)) {
      return Either.left(new HealthThresholdsError({ field: key, reason: "is not a level (degraded, unhealthy, critical)" }))
    }
    const level = given[key]
    if (typeof level !== "object" || level === null) {
      return Either.left(new HealthThresholdsError({ field: key, reason: "must be an object" }))
    }
    for (const figure of Object.keys(level)) {
      if (!(figureNames as ReadonlyArray<string>).includes(figure)) {
        return Either.left(new HealthThresholdsError({ field: `${key}.${figure}`, reason: "is not a known figure" }))
      }
    }
  }
  const merged = Object.fromEntries(
    levels.map((level) => [level, { ...defaultThresholds[level], ...(given[level] as object | undefined) }])
  )
  return Either.mapLeft(Schema.decodeUnknownEither(HealthThresholds)(merged), (error) => {
    const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
    return new HealthThresholdsError({
      field: issue && issue.path.length > 0 ? issue.path.join(".") : "thresholds",
      reason: issue?.message ?? "are invalid"
    })
  })
}

// ---------------------------------------------------------------------------
// What a check measures (the snapshot) and what it reports
// ---------------------------------------------------------------------------

/**
 * Everything one probe measured. Figures it could not measure are `null`, with the reason in
 * `unknown`.
 *
 * @since 0.1.0
 */
export interface HealthSnapshot {
  readonly reachable: boolean
  /** Why the server could not be checked (unreachable, timed out), when `reachable` is false. */
  readonly failure?: string
  readonly pool: PoolStats
  readonly figures: Readonly<Record<HealthFigure, number | null>>
  readonly activeConnections: number | null
  readonly idleConnections: number | null
  readonly details: HealthDetails
  readonly unknown: ReadonlyArray<UnknownFigure>
}

/**
 * A figure that could not be measured, and why. `remedy` marks reasons that say how to fix it
 * (a grant, an extension); those also become recommendations.
 *
 * @since 0.1.0
 */
export interface UnknownFigure {
  readonly figure: string
  readonly reason: string
  readonly remedy: boolean
}

/**
 * What stands behind the figures: sources, windows, the sessions involved and the settings that a
 * recommendation refers to.
 *
 * @since 0.1.0
 */
export interface HealthDetails {
  readonly serverVersion?: string
  readonly database?: string
  readonly role?: string
  readonly inRecovery?: boolean
  readonly serverConnections?: { readonly used: number; readonly available: number }
  readonly visibleSessions?: { readonly active: number; readonly idle: number; readonly hidden: number }
  readonly hiddenServerSessions?: number
  /** Schema of pg_stat_statements when it is installed (Supabase: `extensions`). */
  readonly pgStatStatementsSchema?: string
  readonly avgQueryTimeSource?: "pg_stat_statements" | "observed" | "none"
  readonly avgQueryTimeWindow?: string
  readonly cacheHitRatioWindow?: string
  readonly idleInTransaction?: {
    readonly count: number
    readonly oldestPid?: number
    readonly oldestSeconds?: number
    readonly application?: string | null
  }
  readonly longestTransaction?: {
    readonly pid: number
    readonly seconds: number
    readonly queryId: string | null
    readonly state: string | null
  }
  readonly blocked?: ReadonlyArray<{ readonly pid: number; readonly blockedBy: ReadonlyArray<number>; readonly seconds: number }>
  readonly wraparoundDatabase?: string
  readonly replication?: { readonly role: "primary" | "standby"; readonly replicas: number }
  readonly settings?: Readonly<Record<string, string>>
  readonly topStatement?: { readonly queryId: string; readonly calls: number; readonly meanMillis: number }
  readonly topReadTable?: { readonly name: string; readonly blocksRead: number }
}

/**
 * One figure against its thresholds.
 *
 * @since 0.1.0
 */
export interface FigureReport {
  readonly value: number | null
  readonly unit: string
  readonly status: DatabaseHealthStatus | "UNKNOWN"
  readonly thresholds: { readonly degraded: number; readonly unhealthy: number; readonly critical: number }
}

/**
 * The result of a check: the seed's shape (`status`, `message`, `metrics`, `recommendations`,
 * `lastChecked`) plus every figure against its thresholds, the details and the unknowns.
 *
 * @since 0.1.0
 */
export interface DatabaseHealthCheck {
  readonly status: DatabaseHealthStatus
  readonly message: string
  readonly metrics: {
    readonly connectionPoolUsage: number
    readonly avgQueryTime: number | null
    readonly cacheHitRatio: number | null
    readonly activeConnections: number | null
    readonly idleConnections: number | null
  }
  readonly recommendations: ReadonlyArray<string>
  /** ISO 8601. */
  readonly lastChecked: string
  readonly figures: Readonly<Record<HealthFigure, FigureReport>>
  readonly pool: PoolStats
  readonly details: HealthDetails
  readonly unknown: ReadonlyArray<UnknownFigure>
}

const Status = Schema.Literal("HEALTHY", "DEGRADED", "UNHEALTHY", "CRITICAL")
const NullableNumber = Schema.NullOr(Schema.Number)
const FigureReportSchema = Schema.Struct({
  value: NullableNumber,
  unit: Schema.String,
  status: Schema.Literal("HEALTHY", "DEGRADED", "UNHEALTHY", "CRITICAL", "UNKNOWN"),
  thresholds: Schema.Struct({ degraded: Schema.Number, unhealthy: Schema.Number, critical: Schema.Number })
})

/**
 * The JSON form of a `DatabaseHealthCheck` (what `pg-resilience health --json` and `/health` emit),
 * for consumers that validate what they read.
 *
 * @since 0.1.0
 */
export const DatabaseHealthCheckJson = Schema.Struct({
  status: Status,
  message: Schema.String,
  metrics: Schema.Struct({
    connectionPoolUsage: Schema.Number,
    avgQueryTime: NullableNumber,
    cacheHitRatio: NullableNumber,
    activeConnections: NullableNumber,
    idleConnections: NullableNumber
  }),
  recommendations: Schema.Array(Schema.String),
  lastChecked: Schema.String.pipe(Schema.filter((s) => !Number.isNaN(Date.parse(s)), { message: () => "must be an ISO date" })),
  figures: Schema.Struct(
    Object.fromEntries(Object.keys(figureDefinitions).map((name) => [name, FigureReportSchema])) as Record<
      HealthFigure,
      typeof FigureReportSchema
    >
  ),
  pool: Schema.Struct({
    total: Schema.Number,
    idle: Schema.Number,
    inUse: Schema.Number,
    waiting: Schema.Number,
    max: Schema.Number
  }),
  details: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  unknown: Schema.Array(Schema.Struct({ figure: Schema.String, reason: Schema.String, remedy: Schema.Boolean }))
})

const levelOf = (figure: HealthFigure, value: number | null, t: HealthThresholds): DatabaseHealthStatus | "UNKNOWN" => {
  if (value === null || !Number.isFinite(value)) return "UNKNOWN"
  const worse = figureDefinitions[figure].worse === "higher"
    ? (limit: number) => value >= limit
    : (limit: number) => value < limit
  if (worse(t.critical[figure])) return "CRITICAL"
  if (worse(t.unhealthy[figure])) return "UNHEALTHY"
  if (worse(t.degraded[figure])) return "DEGRADED"
  return "HEALTHY"
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits
const show = (figure: HealthFigure, value: number) => `${round(value)}${figureDefinitions[figure].unit}`

/** A concrete, actionable recommendation per figure that is not healthy. */
const recommendationFor = (figure: HealthFigure, value: number, s: HealthSnapshot): string => {
  const d = s.details
  const settings = d.settings ?? {}
  switch (figure) {
    case "connectionPoolUsage":
    case "poolWaiting": {
      const longest = d.longestTransaction
      return `The application pool has ${s.pool.inUse} of ${s.pool.max} connections in use and ${s.pool.waiting} caller(s) waiting: ` +
        `raise maxConnections (now ${s.pool.max}) if the server has room, or shorten what holds connections` +
        (longest ? ` (longest transaction: pid ${longest.pid}, ${round(longest.seconds)} s${longest.queryId ? `, query id ${longest.queryId}` : ""})` : "") +
        "."
    }
    case "serverConnectionUsage":
      return `The server has ${d.serverConnections?.used ?? "?"} of ${d.serverConnections?.available ?? "?"} connection slots in use: ` +
        "put a pooler (PgBouncer) in front, lower the pool sizes of idle clients, or raise max_connections."
    case "avgQueryTime":
      return `Statements take ${show(figure, value)} on average (${d.avgQueryTimeSource === "pg_stat_statements" ? "pg_stat_statements" : "as observed by this application"}, ${d.avgQueryTimeWindow ?? "window unknown"})` +
        (d.topStatement
          ? `: the slowest statement is query id ${d.topStatement.queryId} (mean ${round(d.topStatement.meanMillis)} ms over ${d.topStatement.calls} calls); run EXPLAIN (ANALYZE, BUFFERS) on it.`
          : ": find the slow statements with pg_stat_statements and EXPLAIN (ANALYZE, BUFFERS).")
    case "cacheHitRatio":
      return `Only ${show(figure, value)} of block reads were served from shared_buffers (${d.cacheHitRatioWindow ?? ""}; shared_buffers = ${settings.shared_buffers ?? "?"})` +
        (d.topReadTable ? `; most disk reads come from ${d.topReadTable.name}` : "") +
        ": raise shared_buffers (commonly 25% of RAM) or add the index that avoids the scan."
    case "idleInTransactionSeconds": {
      const it = d.idleInTransaction
      return `${it?.count ?? "Some"} session(s) are idle in transaction; pid ${it?.oldestPid ?? "?"}${it?.application ? ` (${it.application})` : ""} for ${show(figure, value)}: ` +
        `it holds its locks and snapshot until it ends. Fix the code path that leaves it open, end it with pg_terminate_backend(${it?.oldestPid ?? "pid"}) if needed, ` +
        `and set idle_in_transaction_session_timeout (now ${settings.idle_in_transaction_session_timeout ?? "?"}).`
    }
    case "longestTransactionSeconds": {
      const t = d.longestTransaction
      return `pid ${t?.pid ?? "?"} has been in one transaction for ${show(figure, value)} (state ${t?.state ?? "unknown"}${t?.queryId ? `, query id ${t.queryId}` : ""}): ` +
        "long transactions hold locks and stop VACUUM from removing dead rows; split the work or set a transaction deadline."
    }
    case "blockedSeconds": {
      const b = [...(d.blocked ?? [])].sort((x, y) => y.seconds - x.seconds)[0]
      return `pid ${b?.pid ?? "?"} has waited ${show(figure, value)} for a lock held by pid ${b?.blockedBy.join(", pid ") || "?"}` +
        `: look at what the blocker runs (pg_stat_activity) and keep lock-holding transactions short; set lock_timeout for interactive work.`
    }
    case "deadlocks":
      return `${round(value, 0)} deadlock(s) since the last check: make transactions lock rows in a consistent order (e.g. by primary key) ` +
        `and keep them short; retries (withTransaction) hide them from users but each costs deadlock_timeout (${settings.deadlock_timeout ?? "?"}).`
    case "wraparoundPercent":
      return `Database ${d.wraparoundDatabase ?? "?"} is at ${show(figure, value)} of autovacuum_freeze_max_age: ` +
        `check that autovacuum runs (autovacuum = ${settings.autovacuum ?? "?"}) and is not blocked by long transactions, and VACUUM (FREEZE) its oldest tables.`
    case "replicationLagSeconds":
      return d.replication?.role === "standby"
        ? `This standby replays WAL ${show(figure, value)} behind the primary: check its I/O and network, and long queries that conflict with replay.`
        : `A replica is ${show(figure, value)} behind: check its I/O and network, or hot_standby_feedback conflicts.`
    case "probeLatency":
      return `A trivial query took ${show(figure, value)} to answer: the server is overloaded (CPU, I/O) or the network is slow; check load and pg_stat_activity.`
  }
}

/**
 * Judges a snapshot: the worst level over all figures decides the status; an unreachable server is
 * CRITICAL. Pure, so every boundary is testable without a database.
 *
 * @since 0.1.0
 */
export const evaluateHealth = (
  snapshot: HealthSnapshot,
  thresholds: HealthThresholds = defaultThresholds,
  checkedAt: Date = new Date()
): DatabaseHealthCheck => {
  const figures = Object.fromEntries(
    figureNames.map((name) => {
      const value = snapshot.figures[name]
      return [name, {
        value,
        unit: figureDefinitions[name].unit,
        status: levelOf(name, value, thresholds),
        thresholds: {
          degraded: thresholds.degraded[name],
          unhealthy: thresholds.unhealthy[name],
          critical: thresholds.critical[name]
        }
      } satisfies FigureReport]
    })
  ) as Record<HealthFigure, FigureReport>

  const breached = figureNames
    .filter((name) => figures[name].status !== "HEALTHY" && figures[name].status !== "UNKNOWN")
    .sort((a, b) => severity[figures[b].status as DatabaseHealthStatus] - severity[figures[a].status as DatabaseHealthStatus])

  let status: DatabaseHealthStatus = breached.length > 0 ? figures[breached[0]!].status as DatabaseHealthStatus : "HEALTHY"
  const recommendations = breached.map((name) => recommendationFor(name, figures[name].value!, snapshot))
  for (const { reason, remedy } of snapshot.unknown) {
    if (remedy && !recommendations.includes(reason)) recommendations.push(reason)
  }

  let message: string
  if (!snapshot.reachable) {
    status = "CRITICAL"
    message = `CRITICAL: the database could not be checked: ${snapshot.failure ?? "no answer"}`
    recommendations.unshift(
      "Check that the server runs and accepts connections from this host (address, port, firewall, max_connections), then the credentials."
    )
  } else if (breached.length === 0) {
    message = "HEALTHY: every figure is within its thresholds"
  } else {
    const worst = breached.slice(0, 3).map((name) => {
      const f = figures[name]
      const limit = f.thresholds[f.status.toLowerCase() as "degraded" | "unhealthy" | "critical"]
      return `${figureDefinitions[name].label} ${show(name, f.value!)} (${f.status.toLowerCase()} at ${limit}${figureDefinitions[name].unit})`
    })
    message = `${status}: ${worst.join("; ")}${breached.length > 3 ? ` and ${breached.length - 3} more` : ""}`
  }
  if (snapshot.reachable && snapshot.unknown.length > 0) {
    message += ` (unknown: ${snapshot.unknown.map((u) => u.figure).join(", ")})`
  }
  return {
    status,
    message,
    metrics: {
      connectionPoolUsage: snapshot.figures.connectionPoolUsage ?? 0,
      avgQueryTime: snapshot.figures.avgQueryTime,
      cacheHitRatio: snapshot.figures.cacheHitRatio,
      activeConnections: snapshot.activeConnections,
      idleConnections: snapshot.idleConnections
    },
    recommendations,
    lastChecked: checkedAt.toISOString(),
    figures,
    pool: snapshot.pool,
    details: snapshot.details,
    unknown: snapshot.unknown
  }
}

// ---------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------

/**
 * One gauge per figure (NaN while unknown) and the status (0 HEALTHY .. 3 CRITICAL), for
 * Prometheus or OpenTelemetry exporters.
 *
 * @since 0.1.0
 */
export const gauges = {
  status: Metric.gauge("pg_resilience_health_status", {
    description: "0 HEALTHY, 1 DEGRADED, 2 UNHEALTHY, 3 CRITICAL"
  }),
  activeConnections: Metric.gauge("pg_resilience_health_active_connections", {
    description: "Active sessions in this database (NaN when some are hidden from this role)"
  }),
  idleConnections: Metric.gauge("pg_resilience_health_idle_connections", {
    description: "Idle sessions in this database (NaN when some are hidden from this role)"
  }),
  ...Object.fromEntries(
    figureNames.map((name) => [
      name,
      Metric.gauge(`pg_resilience_health_${name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`, {
        description: `${figureDefinitions[name].label}${figureDefinitions[name].unit ? ` (${figureDefinitions[name].unit})` : ""}`
      })
    ])
  ) as Record<HealthFigure, Metric.Metric.Gauge<number>>
}

const recordGauges = (check: DatabaseHealthCheck) =>
  Effect.all([
    Metric.set(gauges.status, severity[check.status]),
    Metric.set(gauges.activeConnections, check.metrics.activeConnections ?? Number.NaN),
    Metric.set(gauges.idleConnections, check.metrics.idleConnections ?? Number.NaN),
    ...figureNames.map((name) => Metric.set(gauges[name], check.figures[name].value ?? Number.NaN))
  ], { discard: true })

// ---------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------

/**
 * Options of the live health service.
 *
 * @since 0.1.0
 */
export interface DatabaseHealthOptions {
  /** Default thresholds of `performHealthCheck()` (validated when the layer is built). */
  readonly thresholds?: HealthThresholdsInput
  /** Hard limit of one probe (default 5 s): past it the result is CRITICAL. */
  readonly probeTimeout?: Duration.DurationInput
}

/**
 * Checks the database.
 *
 * @since 0.1.0
 */
export interface DatabaseHealthService {
  /** One check. Never fails: an unreachable or hung server is a CRITICAL result. */
  readonly check: (thresholds?: HealthThresholds) => Effect.Effect<DatabaseHealthCheck>
  /** The thresholds used when none are given. */
  readonly thresholds: HealthThresholds
}

/** Counters of the previous check, for figures measured over a window. */
interface Previous {
  readonly hit: number
  readonly read: number
  readonly deadlocks: number
  readonly reset: string | null
  readonly statementCalls: number | undefined
  readonly statementMillis: number | undefined
  readonly observedCount: number
  readonly observedMillis: number
  /** Whether sql/monitoring-functions.sql is installed (looked up once). */
  readonly activityFunctionUsable: boolean | undefined
  /** `server_version_num`, looked up with it. */
  readonly versionNum: number | undefined
}

/** Fewer block accesses than this in a window leave the cache hit ratio unknown. */
const minimumBlockAccesses = 500

const monitoringHint = (role: string) =>
  `Grant the monitoring role so that every session is visible: GRANT pg_monitor TO ${role}; ` +
  "(see sql/grant-monitoring.sql, or sql/monitoring-functions.sql where pg_monitor cannot be granted)."

const measure = (
  db: Database["Type"],
  previousRef: Ref.Ref<Previous | undefined>,
  probeTimeout: Duration.Duration
): Effect.Effect<HealthSnapshot> =>
  Effect.gen(function*() {
    const known = yield* Ref.get(previousRef)
    let activityFunctionUsable = known?.activityFunctionUsable
    let versionNum = known?.versionNum
    const pool = yield* db.poolStats
    const poolUsage = pool.max > 0 ? (pool.inUse / pool.max) * 100 : 0
    const observed = yield* db.statementStats
    const probed = yield* db.withProbeConnection((client) =>
      Effect.tryPromise(async () => {
        const started = performance.now()
        await query(client, latencyQuery)
        const latency = performance.now() - started
        if (activityFunctionUsable === undefined || versionNum === undefined) {
          const [found] = await query<{ usable: boolean; version_num: number }>(client, activityFunctionQuery)
          activityFunctionUsable = found?.usable === true
          versionNum = found?.version_num ?? 0
        }
        const [row] = await query<{ snapshot: RawSnapshot }>(client, snapshotQuery(activityFunctionUsable, versionNum))
        const raw = row!.snapshot
        let statements: { calls: number; total_ms: number } | string | undefined
        if (raw.pgStatStatementsSchema) {
          statements = await query<{ calls: number; total_ms: number }>(
            client,
            statementTotalsQuery(raw.pgStatStatementsSchema, raw.versionNum)
          ).then(
            (rows) => rows[0]!,
            (error: { message?: string }) => String(error?.message ?? error)
          )
        }
        return { latency, raw, statements, client }
      })
    ).pipe(
      Effect.timeoutFail({
        duration: probeTimeout,
        onTimeout: () => `no answer within ${Duration.format(probeTimeout)}`
      }),
      Effect.mapError((error) =>
        typeof error === "string" ? error : classifyDatabaseError(error).technicalMessage
      ),
      Effect.either
    )
    const figures: Record<HealthFigure, number | null> = Object.fromEntries(
      figureNames.map((n) => [n, null])
    ) as Record<HealthFigure, number | null>
    figures.connectionPoolUsage = round(poolUsage, 2)
    figures.poolWaiting = pool.waiting
    if (Either.isLeft(probed)) {
      return {
        reachable: false,
        failure: probed.left,
        pool,
        figures,
        activeConnections: null,
        idleConnections: null,
        details: {},
        unknown: []
      }
    }
    const { latency, raw, statements } = probed.right
    const unknown: Array<UnknownFigure> = []
    const previous = yield* Ref.get(previousRef)
    const stats = raw.stats ?? { hit: 0, read: 0, deadlocks: 0, reset: null }
    const resetSinceLast = previous !== undefined &&
      (previous.reset !== stats.reset || stats.hit < previous.hit || stats.read < previous.read)
    const windowed = previous !== undefined && !resetSinceLast

    figures.probeLatency = round(latency, 2)
    const available = raw.maxConnections - raw.superuserReserved - raw.reserved
    figures.serverConnectionUsage = available > 0 ? round((raw.clientBackends / available) * 100, 2) : null

    // Cache hit ratio: over the window since the last check; lifetime on the first check.
    const hit = windowed ? stats.hit - previous.hit : stats.hit
    const read = windowed ? stats.read - previous.read : stats.read
    // A handful of block accesses (an idle database, a short window) says nothing about the cache.
    figures.cacheHitRatio = hit + read >= minimumBlockAccesses ? round((hit / (hit + read)) * 100, 2) : null
    const cacheHitRatioWindow = windowed
      ? "since the last check"
      : resetSinceLast
      ? "since the statistics reset"
      : "lifetime counters (first check)"
    if (figures.cacheHitRatio === null) {
      unknown.push({
        figure: "cacheHitRatio",
        reason: `Only ${hit + read} block accesses ${windowed ? "since the last check" : "so far"} (fewer than ${minimumBlockAccesses}): too few to judge the cache.`,
        remedy: false
      })
    }

    figures.deadlocks = windowed ? stats.deadlocks - previous.deadlocks : null
    if (!windowed) {
      unknown.push({
        figure: "deadlocks",
        reason: "Deadlocks are counted from the second check on (the first one sets the baseline).",
        remedy: false
      })
    }

    // Average statement time: pg_stat_statements when usable, else our own observations.
    let avgQueryTimeSource: "pg_stat_statements" | "observed" | "none" = "none"
    let avgQueryTimeWindow = ""
    const usable = typeof statements === "object"
    if (usable) {
      const calls = windowed && previous.statementCalls !== undefined && statements.calls >= previous.statementCalls
        ? statements.calls - previous.statementCalls
        : statements.calls
      const millis = windowed && previous.statementMillis !== undefined && statements.calls >= previous.statementCalls!
        ? statements.total_ms - previous.statementMillis
        : statements.total_ms
      avgQueryTimeSource = "pg_stat_statements"
      avgQueryTimeWindow = windowed && previous.statementCalls !== undefined ? "since the last check" : "since statistics were reset"
      figures.avgQueryTime = calls > 0 ? round(millis / calls, 2) : null
    } else {
      unknown.push({
        figure: "avgQueryTime (server-wide)",
        reason: statements === undefined
          ? "pg_stat_statements is not installed: add it to shared_preload_libraries and CREATE EXTENSION pg_stat_statements for server-wide statement times (this check uses the application's own statement times meanwhile)."
          : `pg_stat_statements is installed but not usable (${statements}): add it to shared_preload_libraries and restart (this check uses the application's own statement times meanwhile).`,
        remedy: true
      })
      const count = previous ? observed.count - previous.observedCount : observed.count
      const millis = previous ? observed.totalMillis - previous.observedMillis : observed.totalMillis
      avgQueryTimeSource = "observed"
      avgQueryTimeWindow = previous ? "since the last check" : "since the pool started"
      figures.avgQueryTime = count > 0 ? round(millis / count, 2) : null
    }
    if (figures.avgQueryTime === null) {
      unknown.push({
        figure: "avgQueryTime",
        reason: `No statement ran ${avgQueryTimeWindow}: the average statement time has no data.`,
        remedy: false
      })
    }

    // Sessions: hidden ones make the counts unknown, never idle or healthy.
    const hidden = raw.hidden > 0
    const activeConnections = hidden ? null : raw.active
    const idleConnections = hidden ? null : raw.idle
    figures.idleInTransactionSeconds = raw.idleInTransaction > 0 ? raw.oldestIdleInTransaction?.seconds ?? null : hidden ? null : 0
    figures.longestTransactionSeconds = raw.longestTransaction?.seconds ?? (hidden ? null : 0)
    const blockedSeconds = raw.blocked.reduce((max, b) => Math.max(max, b.seconds), 0)
    figures.blockedSeconds = raw.blocked.length > 0 ? blockedSeconds : hidden ? null : 0
    if (hidden || raw.hiddenServer > 0) {
      unknown.push({
        figure: "sessions",
        reason: `${raw.hidden} session(s) of this database (${raw.hiddenServer} server-wide) are hidden from role ${raw.role}. ${monitoringHint(raw.role)}`,
        remedy: true
      })
    }
    figures.wraparoundPercent = raw.wraparound?.percent ?? null
    figures.replicationLagSeconds = raw.inRecovery
      ? raw.standbyLagSeconds
      : raw.replicas > 0
      ? raw.replicaLagSeconds ?? 0
      : 0

    yield* Ref.set(previousRef, {
      hit: stats.hit,
      read: stats.read,
      deadlocks: stats.deadlocks,
      reset: stats.reset,
      statementCalls: usable ? statements.calls : undefined,
      statementMillis: usable ? statements.total_ms : undefined,
      observedCount: observed.count,
      observedMillis: observed.totalMillis,
      activityFunctionUsable,
      versionNum
    })

    const details: HealthDetails = {
      serverVersion: raw.version,
      database: raw.database,
      role: raw.role,
      inRecovery: raw.inRecovery,
      serverConnections: { used: raw.clientBackends, available },
      visibleSessions: { active: raw.active, idle: raw.idle, hidden: raw.hidden },
      hiddenServerSessions: raw.hiddenServer,
      ...(raw.pgStatStatementsSchema ? { pgStatStatementsSchema: raw.pgStatStatementsSchema } : {}),
      avgQueryTimeSource,
      avgQueryTimeWindow,
      cacheHitRatioWindow,
      idleInTransaction: {
        count: raw.idleInTransaction,
        ...(raw.oldestIdleInTransaction
          ? {
            oldestPid: raw.oldestIdleInTransaction.pid,
            oldestSeconds: raw.oldestIdleInTransaction.seconds,
            application: raw.oldestIdleInTransaction.application
          }
          : {})
      },
      ...(raw.longestTransaction
        ? {
          longestTransaction: {
            pid: raw.longestTransaction.pid,
            seconds: raw.longestTransaction.seconds,
            queryId: raw.longestTransaction.queryId,
            state: raw.longestTransaction.state
          }
        }
        : {}),
      blocked: raw.blocked.map((b) => ({ pid: b.pid, blockedBy: b.blockedBy, seconds: b.seconds })),
      ...(raw.wraparound ? { wraparoundDatabase: raw.wraparound.database } : {}),
      replication: { role: raw.inRecovery ? "standby" : "primary", replicas: raw.replicas },
      settings: raw.settings
    }
    return { reachable: true, pool, figures, activeConnections, idleConnections, details, unknown }
  })

/** Detail queries that only run when their figure is not healthy: the evidence for a recommendation. */
const addEvidence = (
  db: Database["Type"],
  snapshot: HealthSnapshot,
  thresholds: HealthThresholds,
  schema: string | null
): Effect.Effect<HealthSnapshot> => {
  const slow = levelOf("avgQueryTime", snapshot.figures.avgQueryTime, thresholds)
  const cold = levelOf("cacheHitRatio", snapshot.figures.cacheHitRatio, thresholds)
  const wantSlow = schema !== null && slow !== "HEALTHY" && slow !== "UNKNOWN"
  const wantCold = cold !== "HEALTHY" && cold !== "UNKNOWN"
  if (!wantSlow && !wantCold) return Effect.succeed(snapshot)
  return db.withProbeConnection((client) =>
    Effect.tryPromise(async () => {
      const top = wantSlow ? (await query<{ query_id: string; calls: number; mean_ms: number }>(client, topStatementQuery(schema!)))[0] : undefined
      const table = wantCold ? (await query<{ name: string; blocks_read: number }>(client, topReadTableQuery))[0] : undefined
      return {
        ...snapshot,
        details: {
          ...snapshot.details,
          ...(top ? { topStatement: { queryId: top.query_id, calls: top.calls, meanMillis: top.mean_ms } } : {}),
          ...(table && table.blocks_read > 0 ? { topReadTable: { name: table.name, blocksRead: table.blocks_read } } : {})
        }
      }
    })
  ).pipe(Effect.timeout("2 seconds"), Effect.orElseSucceed(() => snapshot))
}

/**
 * The health service.
 *
 * @since 0.1.0
 */
export class DatabaseHealth extends Context.Tag("effect-pg-resilience/DatabaseHealth")<
  DatabaseHealth,
  DatabaseHealthService
>() {
  /** The live service on the application's `Database` (its pool figures, its probe connection). */
  static readonly layer = (
    options: DatabaseHealthOptions = {}
  ): Layer.Layer<DatabaseHealth, HealthThresholdsError, Database> =>
    Layer.effect(
      DatabaseHealth,
      Effect.gen(function*() {
        const db = yield* Database
        const thresholds = yield* makeThresholds(options.thresholds ?? {})
        const probeTimeout = Duration.decode(options.probeTimeout ?? "5 seconds")
        const previous = yield* Ref.make<Previous | undefined>(undefined)
        // Windowed figures need one check at a time.
        const lock = yield* Effect.makeSemaphore(1)
        return {
          thresholds,
          check: (custom) =>
            lock.withPermits(1)(
              Effect.gen(function*() {
                const t = custom ?? thresholds
                const measured = yield* measure(db, previous, probeTimeout)
                const snapshot = measured.reachable
                  ? yield* addEvidence(
                    db,
                    measured,
                    t,
                    measured.details.avgQueryTimeSource === "pg_stat_statements"
                      ? measured.details.pgStatStatementsSchema ?? null
                      : null
                  )
                  : measured
                const now = yield* Clock.currentTimeMillis
                const check = evaluateHealth(snapshot, t, new Date(now))
                yield* recordGauges(check)
                return check
              })
            )
        }
      })
    )

  /**
   * A stand-in that plays back scripted results in order (the last one repeats), so that an
   * application's tests can drive its reaction to each status without a database.
   */
  static readonly layerTest = (
    results: ReadonlyArray<Partial<DatabaseHealthCheck> & { readonly status: DatabaseHealthStatus }>
  ): Layer.Layer<DatabaseHealth> =>
    Layer.effect(
      DatabaseHealth,
      Effect.gen(function*() {
        const index = yield* Ref.make(0)
        return {
          thresholds: defaultThresholds,
          check: () =>
            Effect.gen(function*() {
              const i = yield* Ref.getAndUpdate(index, (n) => n + 1)
              const scripted = results[Math.min(i, results.length - 1)]
              const now = yield* Clock.currentTimeMillis
              return scriptedCheck(scripted ?? { status: "HEALTHY" }, new Date(now))
            })
        }
      })
    )
}

const emptyPool: PoolStats = { total: 0, idle: 0, inUse: 0, waiting: 0, max: 0 }

const scriptedCheck = (
  scripted: Partial<DatabaseHealthCheck> & { readonly status: DatabaseHealthStatus },
  at: Date
): DatabaseHealthCheck => {
  const base = evaluateHealth(
    {
      reachable: true,
      pool: emptyPool,
      figures: Object.fromEntries(figureNames.map((n) => [n, null])) as Record<HealthFigure, null>,
      activeConnections: null,
      idleConnections: null,
      details: {},
      unknown: []
    },
    defaultThresholds,
    at
  )
  return { ...base, message: `${scripted.status} (scripted)`, ...scripted }
}

/**
 * The seed's `performHealthCheck`: one check with the service's thresholds, or with custom ones
 * (merged over the defaults and validated).
 *
 * @since 0.1.0
 */
export function performHealthCheck(): Effect.Effect<DatabaseHealthCheck, never, DatabaseHealth>
export function performHealthCheck(
  thresholds: HealthThresholdsInput
): Effect.Effect<DatabaseHealthCheck, HealthThresholdsError, DatabaseHealth>
export function performHealthCheck(
  thresholds?: HealthThresholdsInput
): Effect.Effect<DatabaseHealthCheck, HealthThresholdsError, DatabaseHealth> {
  return Effect.flatMap(DatabaseHealth, (health) =>
    thresholds === undefined
      ? health.check()
      : Effect.flatMap(makeThresholds(thresholds), (t) => health.check(t)))
}
