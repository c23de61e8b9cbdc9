/**
 * The shapes of a health check: the snapshot a probe measured, and the result of judging it.
 * Re-exported (with these docs) by `Health`.
 *
 * @internal
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { PoolStats } from "../../Database.js"
import { figureDefinitions, figureNames, type HealthFigure } from "./figures.js"
import type { PoolDetails } from "./pooler.js"
import type { HealthThresholds } from "./thresholds.js"

/** The five statuses, worst last but for UNKNOWN (which ranks between DEGRADED and UNHEALTHY). */
export type DatabaseHealthStatus = "HEALTHY" | "DEGRADED" | "UNKNOWN" | "UNHEALTHY" | "CRITICAL"

/**
 * Everything one check measured. Figures it could not measure are `null`, with the reason in
 * `unknown`; `partial` lists figures that are only a lower bound (some of what they cover is
 * hidden from the role): they can prove a breach, never health.
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
  readonly partial?: ReadonlyArray<HealthFigure> | undefined
}

/**
 * A figure that could not be measured (or only in part), and why. `remedy` marks reasons that say
 * how to fix it (a grant, an extension); those also become recommendations.
 */
export interface UnknownFigure {
  readonly figure: string
  readonly reason: string
  readonly remedy: boolean
}

/**
 * The table past its threshold that waited longest for a vacuum (analyze). `never`: it has not
 * been vacuumed (analyzed) once since `since`, the statistics' reset or the server's start
 * (whichever is later), and `seconds` counts from then: a lower bound for a table that existed then.
 */
export interface TableAge {
  readonly name: string
  readonly seconds: number
  readonly never?: boolean
  readonly since?: "statistics reset" | "server start"
}

/** One replica of a primary (`pg_stat_replication`). */
export type ReplicaDetails =
  | {
    readonly hidden: false
    readonly applicationName: string | null
    /** Its address, or `local` (a Unix socket). */
    readonly clientAddress: string
    readonly state: string
    readonly syncState: string | null
    readonly replayLagSeconds: number | null
    readonly lagBytes: number | null
  }
  | { readonly hidden: true; readonly applicationName: string | null }

/**
 * What stands behind the figures: the window judged, the sessions and databases involved, the
 * objects and settings a recommendation refers to. Server-wide figures name the database.
 */
export interface HealthDetails {
  readonly serverVersion?: string
  readonly database?: string
  readonly role?: string
  readonly inRecovery?: boolean
  /** The window of the windowed figures: two samples a short window apart on a first check. */
  readonly window?: { readonly seconds: number; readonly description: string }
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
    readonly database?: string | null
    /** The transaction failed and waits for a ROLLBACK. */
    readonly aborted?: boolean
    /** Locks it holds (its virtual transaction ID's aside). */
    readonly locks?: number
    /** Whether it holds back VACUUM (a transaction ID or a snapshot); null when hidden. */
    readonly holdsHorizon?: boolean | null
  }
  readonly longestTransaction?: {
    readonly pid: number
    readonly seconds: number
    readonly queryId: string | null
    readonly state: string | null
    readonly database?: string | null
  }
  readonly blocked?: ReadonlyArray<
    { readonly pid: number; readonly blockedBy: ReadonlyArray<number>; readonly seconds: number; readonly database?: string | null }
  >
  /** Sessions waiting for a lock, server-wide (`blocked` lists the oldest 20). */
  readonly waitingForLocks?: number
  readonly wraparoundDatabase?: string
  readonly replication?: {
    readonly role: "primary" | "standby"
    readonly replicas: number
    readonly streaming?: number
    readonly expected?: number
    readonly hiddenReplicas?: number
    /** A standby's WAL receiver: `streaming`, another state, `none` (not running) or `hidden`. */
    readonly walReceiver?: string
    readonly replayPaused?: boolean
    /** PostgreSQL 14+: `not paused`, `pause requested` or `paused`. */
    readonly replayPauseState?: string
    readonly archiveOnly?: boolean
    /**
     * On a primary, each replica (each WAL sender: a standby, a base backup, a logical subscriber),
     * the furthest behind first, at most 20. `replayLagSeconds` null: caught up (PostgreSQL clears
     * `replay_lag` once a replica has replayed everything). A replica whose state this role may not
     * see is `hidden`, with nothing but the application name every role may read.
     */
    readonly standbys?: ReadonlyArray<ReplicaDetails>
  }
  readonly preparedTransactions?: {
    readonly count: number
    readonly oldest?: { readonly gid: string; readonly database: string; readonly owner: string; readonly seconds: number }
  }
  readonly replicationSlots?: {
    readonly count: number
    readonly inactive: number
    readonly inactiveNames: ReadonlyArray<string>
    readonly worst?: {
      readonly name: string
      readonly type: string
      readonly active: boolean
      readonly retainedBytes: number | null
      readonly walStatus: string | null
    }
  }
  readonly archiver?: {
    readonly failedInWindow: number | null
    readonly failingNow: boolean
    readonly lastFailedWal: string | null
    readonly lastFailedSecondsAgo: number | null
    readonly lastArchivedSecondsAgo: number | null
  }
  readonly sequences?: {
    readonly count: number
    readonly hidden: number
    readonly worst?: { readonly name: string; readonly percent: number; readonly limit: number; readonly columnBound: boolean }
  }
  readonly tables?: {
    readonly count: number
    readonly deadTuples?: { readonly name: string; readonly percent: number; readonly dead: number }
    readonly vacuum?: TableAge
    readonly neverVacuumed: number
    readonly analyze?: TableAge
    readonly neverAnalyzed: number
    readonly xid?: { readonly name: string; readonly percent: number }
  }
  readonly databaseSize?: { readonly bytes: number; readonly growthBytesPerHour: number | null; readonly secondsApart?: number }
  /** When the expensive figures (tables, sequences, size) were measured, and how often they are. */
  readonly expensive?: { readonly measuredAt: string; readonly cadence: string; readonly failure?: string }
  /**
   * A connection pooler in front of the server: `detected` by the mismatch of the connection's
   * reported pid and `pg_backend_pid()`, or through its admin console (`poolerAdminUrl`), whose
   * pools (clients active and waiting, server connections) are listed, the most waited on first.
   */
  readonly pooler?: {
    readonly detected: boolean
    readonly via: ReadonlyArray<"backend pid" | "admin console">
    readonly clientPid: number | null
    readonly backendPid: number | null
    readonly consoleFailure?: string
    readonly pools?: ReadonlyArray<PoolDetails>
    readonly poolCount?: number
  }
  readonly settings?: Readonly<Record<string, string>>
  readonly topStatement?: { readonly queryId: string; readonly calls: number; readonly meanMillis: number }
  readonly topReadTable?: { readonly name: string; readonly blocksRead: number }
}

/**
 * One figure against its thresholds. `partial`: the value is a lower bound.
 */
export interface FigureReport {
  readonly value: number | null
  readonly unit: string
  readonly status: DatabaseHealthStatus
  readonly thresholds: { readonly degraded: number; readonly unhealthy: number; readonly critical: number }
  readonly partial?: boolean
}

/**
 * The result of a check: the seed's shape (`status`, `message`, `metrics`, `recommendations`,
 * `lastChecked`) plus every figure against its thresholds, the details and the unknowns.
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

const Status = Schema.Literal("HEALTHY", "DEGRADED", "UNKNOWN", "UNHEALTHY", "CRITICAL")
const NullableNumber = Schema.NullOr(Schema.Number)
const FigureReportSchema = Schema.Struct({
  value: NullableNumber,
  unit: Schema.String,
  status: Status,
  thresholds: Schema.Struct({ degraded: Schema.Number, unhealthy: Schema.Number, critical: Schema.Number }),
  partial: Schema.optional(Schema.Boolean)
})

/**
 * The JSON form of a `DatabaseHealthCheck` (what `pg-resilience health --json` and `/health` emit),
 * for consumers that validate what they read. The command line leaves out what describes its own
 * idle pool (`pool`, `metrics.connectionPoolUsage` and the pool figures), so those are optional.
 */
export const DatabaseHealthCheckJson = Schema.Struct({
  status: Status,
  message: Schema.String,
  metrics: Schema.Struct({
    connectionPoolUsage: Schema.optional(Schema.Number),
    avgQueryTime: NullableNumber,
    cacheHitRatio: NullableNumber,
    activeConnections: NullableNumber,
    idleConnections: NullableNumber
  }),
  recommendations: Schema.Array(Schema.String),
  lastChecked: Schema.String.pipe(Schema.filter((s) => !Number.isNaN(Date.parse(s)), { message: () => "must be an ISO date" })),
  figures: Schema.Struct(
    Object.fromEntries(
      figureNames.map((name) => [name, figureDefinitions[name].application ? Schema.optional(FigureReportSchema) : FigureReportSchema])
    ) as Record<HealthFigure, typeof FigureReportSchema>
  ),
  pool: Schema.optional(Schema.Struct({
    total: Schema.Number,
    idle: Schema.Number,
    inUse: Schema.Number,
    waiting: Schema.Number,
    max: Schema.Number
  })),
  details: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  unknown: Schema.Array(Schema.Struct({ figure: Schema.String, reason: Schema.String, remedy: Schema.Boolean }))
})


/**
 * Checks the database.
 */
export interface DatabaseHealthService {
  /** One check. Never fails: an unreachable or hung server is a CRITICAL result. */
  readonly check: (thresholds?: HealthThresholds) => Effect.Effect<DatabaseHealthCheck>
  /** The thresholds used when none are given. */
  readonly thresholds: HealthThresholds
  /**
   * The hard limit of one probe round, when the service has one (the live service does). The
   * `HealthMonitor` derives its default `checkTimeout` from it (and from `firstCheckWindow`), so
   * that it never cuts a live check short.
   */
  readonly probeTimeout?: Duration.Duration
  /** The live service's first-check window. */
  readonly firstCheckWindow?: Duration.Duration
}

