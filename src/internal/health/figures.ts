/**
 * Every figure of the health check, defined once: its label, display unit, which direction is
 * worse, default thresholds, whether an unknown value counts toward the verdict, how often it is
 * measured, and the gauge it is published as (in base units: seconds, bytes, ratios 0-1).
 *
 * @internal
 */

/** What a figure's unknown value does to the verdict (see `HealthThresholds.whenUnknown`). */
export type WhenUnknown = "ignore" | "UNKNOWN" | "DEGRADED" | "UNHEALTHY" | "CRITICAL"

/** `every check`: cheap, read by every probe; `expensive`: per-table scans, on a slower cadence of their own. */
export type Cadence = "every check" | "expensive"

interface Definition {
  readonly label: string
  /** Unit of the value and of the thresholds as shown (`%` is 0-100). */
  readonly unit: "" | "%" | "ms" | "s" | "B" | "B/h"
  readonly worse: "higher" | "lower"
  /** Default thresholds: degraded, unhealthy, critical. */
  readonly defaults: readonly [number, number, number]
  /**
   * Default for an unknown value: `UNKNOWN` when the figure could not be assessed (hidden by
   * privileges, a query that failed), `ignore` when there is simply nothing to judge (no statement
   * ran, too few block reads, the first sample of a rate, an optional extension missing).
   */
  readonly whenUnknown: "ignore" | "UNKNOWN"
  readonly cadence: Cadence
  /** Describes this process's own pool: meaningless in the command line, which leaves it out. */
  readonly application: boolean
  /** The gauge: name, factor from the display unit to the base unit, and its HELP text. */
  readonly gauge: { readonly name: string; readonly scale: number; readonly help: string }
}

const KiB = 1024
const MiB = 1024 * KiB
const GiB = 1024 * MiB
const hour = 3600
const day = 24 * hour

/**
 * The figures, in the order they are shown.
 */
export const figureDefinitions = {
  connectionPoolUsage: {
    label: "application pool usage",
    unit: "%",
    worse: "higher",
    defaults: [70, 85, 95],
    whenUnknown: "UNKNOWN",
    cadence: "every check",
    application: true,
    gauge: { name: "pg_resilience_health_pool_usage_ratio", scale: 0.01, help: "Connections of this process's pool in use, of its maximum (0-1)" }
  },
  poolWaiting: {
    label: "callers waiting for a pooled connection",
    unit: "",
    worse: "higher",
    defaults: [1, 5, 20],
    whenUnknown: "UNKNOWN",
    cadence: "every check",
    application: true,
    gauge: { name: "pg_resilience_health_pool_waiting_callers", scale: 1, help: "Callers queued for a connection of this process's pool" }
  },
  serverConnectionUsage: {
    label: "server connection slots used",
    unit: "%",
    worse: "higher",
    defaults: [70, 85, 95],
    whenUnknown: "UNKNOWN",
    cadence: "every check",
    application: false,
    gauge: {
      name: "pg_resilience_health_server_connection_usage_ratio",
      scale: 0.01,
      help: "Client connections of the whole server, of max_connections minus the reserved slots (0-1)"
    }
  },
  avgQueryTime: {
    label: "average statement time",
    unit: "ms",
    worse: "higher",
    defaults: [100, 250, 500],
    whenUnknown: "ignore",
    cadence: "every check",
    application: false,
    gauge: { name: "pg_resilience_health_avg_query_time_seconds", scale: 0.001, help: "Mean statement time over the check's window" }
  },
  cacheHitRatio: {
    label: "cache hit ratio",
    unit: "%",
    worse: "lower",
    defaults: [90, 80, 70],
    whenUnknown: "ignore",
    cadence: "every check",
    application: false,
    gauge: { name: "pg_resilience_health_cache_hit_ratio", scale: 0.01, help: "Block reads served from shared_buffers over the check's window (0-1)" }
  },
  idleInTransactionSeconds: {
    label: "oldest session idle in transaction",
    unit: "s",
    worse: "higher",
    defaults: [30, 120, 600],
    whenUnknown: "UNKNOWN",
    cadence: "every check",
    application: false,
    gauge: { name: "pg_resilience_health_idle_in_transaction_seconds", scale: 1, help: "Oldest session idle in transaction, server-wide" }
  },
  longestTransactionSeconds: {
    label: "longest running transaction",
    unit: "s",
    worse: "higher",
    defaults: [60, 300, 1800],
    whenUnknown: "UNKNOWN",
    cadence: "every check",
    application: false,
    gauge: { name: "pg_resilience_health_longest_transaction_seconds", scale: 1, help: "Longest open transaction, server-wide" }
  },
  blockedSeconds: {
    label: "longest lock wait",
    unit: "s",
    worse: "higher",
    defaults: [5, 30, 120],
    whenUnknown: "UNKNOWN",
    cadence: "every check",
    application: false,
    gauge: { name: "pg_resilience_health_lock_wait_seconds", scale: 1, help: "Longest wait for a lock, server-wide" }
  },
  deadlocks: {
    label: "deadlocks since the last check",
    unit: "",
    worse: "higher",
    defaults: [1, 5, 20],
    whenUnknown: "ignore",
    cadence: "every check",
    application: false,
    gauge: { name: "pg_resilience_health_deadlocks", scale: 1, help: "Deadlocks in this database over the check's window" }
  },
  wraparoundPercent: {
    label: "transaction ID wraparound (of autovacuum_freeze_max_age)",
    unit: "%",
    worse: "higher",
    defaults: [50, 75, 90],
    whenUnknown: "UNKNOWN",
    cadence: "every check",
    application: false,
    gauge: { name: "pg_resilience_health_wraparound_ratio", scale: 0.01, help: "Oldest datfrozenxid age of any database, of autovacuum_freeze_max_age" }
  },
  replicationLagSeconds: {
    label: "replication lag",
    unit: "s",
    worse: "higher",
    defaults: [10, 60, 300],
    whenUnknown: "UNKNOWN",
    cadence: "every check",
    application: false,
    gauge: { name: "pg_resilience_health_replication_lag_seconds", scale: 1, help: "Replay lag: of this standby, or of the furthest replica of this primary" }
  },
  replicationLagBytes: {
    label: "replication lag in WAL",
    unit: "B",
    worse: "higher",
    defaults: [64 * MiB, 1 * GiB, 10 * GiB],
    whenUnknown: "UNKNOWN",
    cadence: "every check",
    application: false,
    gauge: { name: "pg_resilience_health_replication_lag_bytes", scale: 1, help: "WAL not yet replayed: by this standby, or by the furthest replica of this primary" }
  },
  replicasDisconnected: {
    label: "replication not streaming",
    unit: "",
    worse: "higher",
    defaults: [1, 1, 2],
    whenUnknown: "UNKNOWN",
    cadence: "every check",
    application: false,
    gauge: {
      name: "pg_resilience_health_replicas_disconnected",
      scale: 1,
      help: "1 when this standby's WAL receiver is not streaming; on a primary, expected replicas that are not streaming"
    }
  },
  replayPaused: {
    label: "WAL replay paused",
    unit: "",
    worse: "higher",
    defaults: [1, 2, 3],
    whenUnknown: "UNKNOWN",
    cadence: "every check",
    application: false,
    gauge: {
      name: "pg_resilience_health_replay_paused",
      scale: 1,
      help: "1 while this standby's WAL replay is paused (or a pause is requested), else 0; 0 on a primary"
    }
  },
  preparedTransactionSeconds: {
    label: "oldest prepared transaction",
    unit: "s",
    worse: "higher",
    defaults: [30, 300, 1800],
    whenUnknown: "UNKNOWN",
    cadence: "every check",
    application: false,
    gauge: { name: "pg_resilience_health_prepared_transaction_age_seconds", scale: 1, help: "Age of the oldest prepared (two-phase) transaction" }
  },
  inactiveReplicationSlots: {
    label: "inactive replication slots",
    unit: "",
    worse: "higher",
    defaults: [1, 3, 10],
    whenUnknown: "UNKNOWN",
    cadence: "every check",
    application: false,
    gauge: { name: "pg_resilience_health_replication_slots_inactive", scale: 1, help: "Replication slots no consumer is connected to" }
  },
  replicationSlotRetainedBytes: {
    label: "WAL retained by a replication slot",
    unit: "B",
    worse: "higher",
    defaults: [1 * GiB, 10 * GiB, 50 * GiB],
    whenUnknown: "UNKNOWN",
    cadence: "every check",
    application: false,
    gauge: { name: "pg_resilience_health_replication_slot_retained_bytes", scale: 1, help: "WAL kept on disk for the replication slot furthest behind" }
  },
  archiveFailures: {
    label: "WAL archiving failures",
    unit: "",
    worse: "higher",
    defaults: [1, 10, 50],
    whenUnknown: "UNKNOWN",
    cadence: "every check",
    application: false,
    gauge: {
      name: "pg_resilience_health_archive_failures",
      scale: 1,
      help: "Failed WAL archive attempts over the check's window (at least 1 while the last attempt failed)"
    }
  },
  sequenceUsedPercent: {
    label: "sequence closest to exhaustion",
    unit: "%",
    worse: "higher",
    defaults: [75, 85, 95],
    whenUnknown: "UNKNOWN",
    cadence: "expensive",
    application: false,
    gauge: {
      name: "pg_resilience_health_sequence_used_ratio",
      scale: 0.01,
      help: "Share of its range used by the sequence closest to its maximum (or its column type's), 0-1"
    }
  },
  deadTuplePercent: {
    label: "highest dead-tuple share of a table",
    unit: "%",
    worse: "higher",
    defaults: [30, 50, 80],
    whenUnknown: "UNKNOWN",
    cadence: "expensive",
    application: false,
    gauge: { name: "pg_resilience_health_dead_tuple_ratio", scale: 0.01, help: "Dead share of the rows of the table with the most (tables of 10,000 rows or more), 0-1" }
  },
  vacuumOverdueSeconds: {
    label: "oldest vacuum of a table past its autovacuum threshold",
    unit: "s",
    worse: "higher",
    defaults: [1 * day, 3 * day, 7 * day],
    whenUnknown: "UNKNOWN",
    cadence: "expensive",
    application: false,
    gauge: {
      name: "pg_resilience_health_vacuum_overdue_seconds",
      scale: 1,
      help: "Time since the last (auto)vacuum of the table past its autovacuum threshold that waited longest " +
        "(never vacuumed: since the statistics reset or the server start, whichever is later)"
    }
  },
  analyzeOverdueSeconds: {
    label: "oldest analyze of a table past its autoanalyze threshold",
    unit: "s",
    worse: "higher",
    defaults: [1 * day, 3 * day, 7 * day],
    whenUnknown: "UNKNOWN",
    cadence: "expensive",
    application: false,
    gauge: {
      name: "pg_resilience_health_analyze_overdue_seconds",
      scale: 1,
      help: "Time since the last (auto)analyze of the table past its autoanalyze threshold that waited longest " +
        "(never analyzed: since the statistics reset or the server start, whichever is later)"
    }
  },
  tableXidAgePercent: {
    label: "oldest table transaction ID age (of autovacuum_freeze_max_age)",
    unit: "%",
    worse: "higher",
    defaults: [50, 75, 90],
    whenUnknown: "UNKNOWN",
    cadence: "expensive",
    application: false,
    gauge: { name: "pg_resilience_health_table_xid_age_ratio", scale: 0.01, help: "Oldest relfrozenxid age of a table of this database, of autovacuum_freeze_max_age" }
  },
  databaseGrowthBytesPerHour: {
    label: "database size growth",
    unit: "B/h",
    worse: "higher",
    defaults: [1 * GiB, 10 * GiB, 100 * GiB],
    whenUnknown: "ignore",
    cadence: "expensive",
    application: false,
    gauge: {
      name: "pg_resilience_health_database_growth_bytes_per_second",
      scale: 1 / hour,
      help: "Growth of this database's size between its last two measurements"
    }
  },
  poolerClientsWaiting: {
    label: "clients waiting in the pooler",
    unit: "",
    worse: "higher",
    defaults: [5, 20, 100],
    whenUnknown: "ignore",
    cadence: "every check",
    application: false,
    gauge: {
      name: "pg_resilience_health_pooler_clients_waiting",
      scale: 1,
      help: "Clients queued in the pooler (PgBouncer SHOW POOLS cl_waiting, all pools) for a server connection"
    }
  },
  poolerMaxWaitSeconds: {
    label: "longest wait in the pooler",
    unit: "s",
    worse: "higher",
    defaults: [1, 5, 30],
    whenUnknown: "ignore",
    cadence: "every check",
    application: false,
    gauge: {
      name: "pg_resilience_health_pooler_max_wait_seconds",
      scale: 1,
      help: "Longest wait of a client queued in the pooler for a server connection (PgBouncer SHOW POOLS maxwait)"
    }
  },
  probeLatency: {
    label: "probe round trip",
    unit: "ms",
    worse: "higher",
    defaults: [100, 500, 2000],
    whenUnknown: "UNKNOWN",
    cadence: "every check",
    application: false,
    gauge: { name: "pg_resilience_health_probe_latency_seconds", scale: 0.001, help: "Round trip of a trivial query on the probe's connection" }
  }
} as const satisfies Record<string, Definition>

/** The name of a figure. */
export type HealthFigure = keyof typeof figureDefinitions

/** Every figure, in display order. */
export const figureNames = Object.keys(figureDefinitions) as ReadonlyArray<HealthFigure>

/** The figures that describe this process's own pool. */
export const applicationFigures = figureNames.filter((name) => figureDefinitions[name].application)

/** A record with every figure set to `null`. */
export const noFigures = (): Record<HealthFigure, number | null> =>
  Object.fromEntries(figureNames.map((name) => [name, null])) as Record<HealthFigure, number | null>

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits

const bytes = (n: number): string => {
  const abs = Math.abs(n)
  if (abs >= GiB) return `${round(n / GiB, 1)} GiB`
  if (abs >= MiB) return `${round(n / MiB, 1)} MiB`
  if (abs >= KiB) return `${round(n / KiB, 1)} KiB`
  return `${round(n, 0)} B`
}

const seconds = (n: number): string =>
  n >= 2 * day ? `${round(n / day, 1)} d` : n >= 2 * hour ? `${round(n / hour, 1)} h` : `${round(n, 1)}s`

/** A value (or threshold) of a figure with its unit, for people: `45s`, `1.5 GiB`, `92.3%`. */
export const formatFigure = (figure: HealthFigure, value: number): string => {
  const unit = figureDefinitions[figure].unit
  switch (unit) {
    case "B":
      return bytes(value)
    case "B/h":
      return `${bytes(value)}/h`
    case "s":
      return seconds(value)
    case "":
      return `${round(value, 1)}`
    default:
      return `${round(value, 1)}${unit}`
  }
}
