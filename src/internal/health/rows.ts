/**
 * The probe's rows as Schemas: what the server answered is decoded, never cast. A row that does not
 * match (a server that answers differently than we think) is a failure of the check that says where.
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

const N = Schema.Number
const NullableString = Schema.NullOr(Schema.String)
/** Absent or null: both mean "not there". */
const Maybe = <S extends Schema.Schema.Any>(schema: S) => Schema.optionalWith(Schema.NullOr(schema), { default: () => null })

/** Answer of the discovery query. */
export const DiscoveryRow = Schema.Struct({
  version_num: N,
  activity_function: Schema.Boolean
})
export type DiscoveryRow = typeof DiscoveryRow.Type

const Session = Schema.Struct({
  pid: N,
  seconds: N,
  application: Maybe(Schema.String),
  database: Maybe(Schema.String)
})

/** One replica of a primary, as `pg_stat_get_wal_senders()` shows it (`hidden`: its state is not shown to this role). */
const ReplicaRow = Schema.Struct({
  applicationName: Maybe(Schema.String),
  hidden: Schema.Boolean,
  clientAddress: Maybe(Schema.String),
  state: Maybe(Schema.String),
  syncState: Maybe(Schema.String),
  replayLagSeconds: Maybe(N),
  lagBytes: Maybe(N)
})

/** The cheap snapshot (one JSON object). */
export const RawSnapshot = Schema.Struct({
  versionNum: N,
  version: Schema.String,
  database: Schema.String,
  role: Schema.String,
  /** `pg_backend_pid()`: behind a pooler, not the pid the connection reported. */
  backendPid: Maybe(N),
  inRecovery: Schema.Boolean,
  maxConnections: N,
  superuserReserved: N,
  reserved: N,
  sessions: Schema.Struct({
    clientBackends: N,
    hidden: N,
    active: N,
    idle: N,
    idleInTransaction: N,
    waiting: N
  }),
  oldestIdleInTransaction: Maybe(Schema.Struct({ ...Session.fields, aborted: Schema.Boolean, locks: N, horizon: Maybe(Schema.Boolean) })),
  longestTransaction: Maybe(Schema.Struct({ ...Session.fields, queryId: Maybe(Schema.String), state: Maybe(Schema.String) })),
  blocked: Schema.Array(Schema.Struct({
    pid: N,
    blockedBy: Schema.Array(N),
    seconds: N,
    database: Maybe(Schema.String)
  })),
  stats: Maybe(Schema.Struct({ hit: N, read: N, deadlocks: N, reset: Maybe(Schema.String) })),
  wraparound: Maybe(Schema.Struct({ database: Schema.String, percent: N })),
  standby: Maybe(Schema.Struct({
    receiver: Maybe(Schema.Struct({ pid: N, status: Maybe(Schema.String) })),
    conninfoSet: Maybe(Schema.Boolean),
    paused: Schema.Boolean,
    /** PostgreSQL 14+: `not paused`, `pause requested` or `paused`. */
    pauseState: Maybe(Schema.String),
    caughtUp: Maybe(Schema.Boolean),
    lagBytes: Maybe(N),
    replayAgeSeconds: Maybe(N)
  })),
  replicas: Maybe(Schema.Struct({
    count: N,
    streaming: N,
    hidden: N,
    lagSeconds: Maybe(N),
    lagBytes: Maybe(N),
    list: Schema.optionalWith(Schema.Array(ReplicaRow), { default: () => [] })
  })),
  slots: Schema.Struct({
    count: N,
    inactive: N,
    inactiveNames: Schema.Array(Schema.String),
    worst: Maybe(Schema.Struct({
      name: Schema.String,
      type: Schema.String,
      active: Schema.Boolean,
      retainedBytes: Maybe(N),
      walStatus: Maybe(Schema.String)
    }))
  }),
  prepared: Schema.Struct({
    count: N,
    oldest: Maybe(Schema.Struct({ gid: Schema.String, database: Schema.String, owner: Schema.String, seconds: N }))
  }),
  archiver: Maybe(Schema.Struct({
    failed: N,
    archived: N,
    reset: Maybe(Schema.String),
    lastFailedWal: Maybe(Schema.String),
    lastFailedSecondsAgo: Maybe(N),
    lastArchivedSecondsAgo: Maybe(N),
    failingNow: Schema.Boolean
  })),
  settings: Schema.Record({ key: Schema.String, value: NullableString }),
  pgStatStatementsSchema: Maybe(Schema.String)
})
export type RawSnapshot = typeof RawSnapshot.Type

/** pg_stat_statements totals (visible statements, ours excluded; hidden ones counted apart). */
export const StatementTotals = Schema.Struct({ calls: N, total_ms: N, hidden_calls: N })
export type StatementTotals = typeof StatementTotals.Type

/**
 * The table that waited longest for a vacuum (analyze). `never`: not once since `since` (the
 * statistics' reset or the server's start), from which `seconds` is counted: a lower bound.
 */
const TableAge = Schema.Struct({
  name: Schema.String,
  seconds: N,
  never: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  since: Maybe(Schema.Literal("statistics reset", "server start"))
})

/** The expensive pass (one JSON object). */
export const RawExpensive = Schema.Struct({
  sequences: Schema.Struct({
    count: N,
    hidden: N,
    worst: Maybe(Schema.Struct({ name: Schema.String, percent: N, limit: N, columnBound: Schema.Boolean }))
  }),
  tables: N,
  deadTuples: Maybe(Schema.Struct({ name: Schema.String, percent: N, dead: N })),
  vacuum: Maybe(TableAge),
  neverVacuumed: N,
  analyze: Maybe(TableAge),
  neverAnalyzed: N,
  xid: Maybe(Schema.Struct({ name: Schema.String, percent: N })),
  sizeBytes: N
})
export type RawExpensive = typeof RawExpensive.Type

/** Evidence rows. */
export const TopStatementRow = Schema.Struct({ query_id: Schema.String, calls: N, mean_ms: N })
export const TopReadTableRow = Schema.Struct({ name: Schema.String, blocks_read: N })

/** Thrown by `decode`: the answer did not match; the message names the first place. */
export class RowMismatch extends Error {}

/** Decodes a value with `schema`, or throws a `RowMismatch` naming what did not match. */
export const decode = <A, I>(schema: Schema.Schema<A, I>, what: string, value: unknown): A => {
  const result = Schema.decodeUnknownEither(schema)(value)
  if (Either.isRight(result)) return result.right
  const issue = ParseResult.ArrayFormatter.formatErrorSync(result.left)[0]
  throw new RowMismatch(
    `the ${what} answered in an unexpected shape (${issue ? `${issue.path.join(".") || "row"}: ${issue.message}` : "invalid"})`
  )
}
