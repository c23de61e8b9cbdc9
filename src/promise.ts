/**
 * `effect-pg-resilience/promise`: the seed's Promise API on the same engine.
 *
 * Why: most teams adopt Effect gradually, so one service has Promise code next to Effect code, and
 * both must share one pool, one retry policy and one health service. `createDatabase` builds the
 * library's own layers (`Database.layer`, `Health.layer`) in one `ManagedRuntime`;
 * its `withTransaction` is `Transaction.withTransaction` around your async function, its health
 * check is `Health.performHealthCheck`, and `db.layer` / `db.runtime` hand the very same pool,
 * metrics and health service to Effect code. Errors reach Promise callers as the `DatabaseError`
 * classes themselves (never a `FiberFailure`), so `instanceof`, `category`, `recoveryAction` and
 * `userMessage` work, and so do the seed's helpers. Config numbers are milliseconds, as in the seed.
 *
 * @example
 * import { createDatabase } from "effect-pg-resilience/promise"
 *
 * const db = createDatabase({ url: process.env.DATABASE_URL!, maxConnections: 10 })
 * const conversation = await db.withTransaction(async (ctx) => {
 *   const [row] = await ctx.sql<{ id: number }>`INSERT INTO conversations (title) VALUES (${title}) RETURNING id`
 *   await ctx.sql`INSERT INTO conversation_turns (conversation_id, content) VALUES (${row!.id}, ${text})`
 *   return row
 * }, { isolationLevel: "READ COMMITTED", timeout: 5000 })
 * await db.close()
 *
 * @since 0.1.0
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import type * as PgClient from "@effect/sql-pg/PgClient"
import type * as Layer from "effect/Layer"
import type * as ManagedRuntime from "effect/ManagedRuntime"
import type * as Redacted from "effect/Redacted"
import type { ConnectionOptions } from "node:tls"
import * as Classify from "./Classify.js"
import type * as Database from "./Database.js"
import type { DatabaseErrorCategory, DatabaseRecoveryAction } from "./Errors.js"
import type * as Health from "./Health.js"
import type * as HealthMonitor from "./HealthMonitor.js"
import * as classification from "./internal/promise/classification.js"
import * as internal from "./internal/promise/database.js"
import * as errors from "./internal/promise/errors.js"
import type * as Transaction from "./Transaction.js"

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

type Optional<T> = { readonly [K in keyof T]?: T[K] | undefined }

/**
 * What `createDatabase` accepts. Validated before anything is built: a bad value (or an unknown
 * key) throws `DatabaseConfigError` naming the field; an explicit `undefined` means the default.
 * Every other option of `Database.layer` is accepted too.
 *
 * @since 0.1.0
 * @category options
 */
export interface CreateDatabaseOptions extends Optional<Database.DatabaseConfigInput> {
  /**
   * `postgres://user:password@host:port/database`; never printed. (Or the separate `host`, `port`,
   * `database`, `username`, `password` of `Database.layer`.)
   */
  readonly url?: string | Redacted.Redacted<string> | undefined
  /** Size of the pool (default 10). */
  readonly maxConnections?: number | undefined
  /** Longest wait for a connection or a free pool slot, in ms (default 5000). */
  readonly connectTimeout?: number | undefined
  /** How long an idle pooled connection is kept, in ms (default 10000; 0 keeps them). */
  readonly idleTimeout?: number | undefined
  /** `application_name` shown in `pg_stat_activity` (default `effect-pg-resilience`). */
  readonly applicationName?: string | undefined
  /** TLS: `true` or node's `tls.ConnectionOptions`. */
  readonly ssl?: boolean | ConnectionOptions | undefined
  /** How long a cancelled statement may take to end before its connection is destroyed, in ms (default 2000). */
  readonly cancelGrace?: number | undefined
  /** Silence before TCP keep-alive probes, in ms (default 10000), or `false`. */
  readonly keepAlive?: number | false | undefined
  /** Default thresholds of `performHealthCheck()` (any subset; the rest keeps the seed's defaults). */
  readonly healthThresholds?: Health.HealthThresholdsInput | undefined
  /** Hard limit of one health probe, in ms (default 5000): past it the result is CRITICAL. */
  readonly probeTimeout?: number | undefined
  /**
   * One health monitor for the whole service: started with the database, shared by Effect code
   * (`db.layer` and `db.runtime` then provide `HealthMonitor`) and by `scheduleHealthChecks`
   * (called without an interval, or with this one, it follows this monitor instead of starting
   * its own). Stopped by `close()`.
   */
  readonly healthMonitor?: HealthMonitorSettings | undefined
}

/**
 * The shared health monitor's settings: `interval` in ms (default 60000) and `confirmations`
 * (default 1), as `HealthMonitor.layer` takes them.
 *
 * @since 0.2.0
 * @category options
 */
export interface HealthMonitorSettings {
  readonly interval?: number | undefined
  readonly confirmations?: number | undefined
}

/**
 * What `withTransaction` and `withTransactionRetry` accept (the seed's options and the engine's):
 *
 * - `isolationLevel`: default READ COMMITTED;
 * - `timeout`: deadline of the whole call in ms, retries and backoff included (default 30000);
 * - `retryDeadlocks`: retry deadlocks and serialization failures (default true);
 * - `maxRetries`: most retries after the first attempt (default 30; the deadline is the hard bound);
 * - `readOnly`, `deferrable`, `schedule`: as in `Transaction.TransactionConfigInput`;
 * - `signal`: aborting it rolls the transaction back (unless COMMIT was already sent, in which case
 *   the call reports COMMIT's real outcome) and rejects with `signal.reason`.
 *
 * Validated before anything is sent: a bad value or an unknown key rejects with
 * `TransactionConfigError` naming the field.
 *
 * @since 0.1.0
 * @category options
 */
export interface TransactionOptions extends Omit<Transaction.TransactionConfigInput, "timeout"> {
  readonly timeout?: number | undefined
  readonly signal?: AbortSignal | undefined
}

// ---------------------------------------------------------------------------
// Inside a transaction
// ---------------------------------------------------------------------------

/**
 * A row as the driver returns it.
 *
 * @since 0.1.0
 * @category models
 */
export type Row = { readonly [column: string]: unknown }

/**
 * `ctx.sql`: a tagged template that runs on the transaction's connection and resolves to the rows;
 * values become parameters, never text. `ctx.sql("name")` is a quoted identifier, and the helpers of
 * `@effect/sql` (`ctx.sql.insert(obj)`, `ctx.sql.in(list)`, ...) build fragments. Why a template:
 * it is the seed-era habit of `sql\`...\`` without string concatenation.
 *
 * @since 0.1.0
 * @category models
 */
export interface SqlTag
  extends Pick<Statement.Constructor, "insert" | "update" | "updateValues" | "in" | "and" | "or" | "csv" | "join" | "literal">
{
  <A extends object = Row>(strings: TemplateStringsArray, ...values: ReadonlyArray<unknown>): Promise<ReadonlyArray<A>>
  (identifier: string): Statement.Identifier
}

/**
 * What your function receives, once per attempt (a retry calls it again with `attempt` + 1).
 * Statements through `sql` and `query` run on the transaction's connection; once the attempt is
 * over they are refused. `signal` aborts when the deadline passes (reason: a `TimeoutError`) or the
 * caller gives up (reason: the caller's own); hand it to `fetch` and friends. Why: the seed's
 * `ctx.client`, for plain SQL.
 *
 * @since 0.1.0
 * @category models
 */
export interface TransactionContext {
  readonly sql: SqlTag
  /** A statement as text with `$1`-style parameters. */
  readonly query: <A extends object = Row>(text: string, params?: ReadonlyArray<unknown>) => Promise<ReadonlyArray<A>>
  /** Generated on the client for the whole call (all attempts). */
  readonly id: string
  /** 1 for the first attempt. */
  readonly attempt: number
  readonly isolationLevel: Transaction.IsolationLevel
  readonly readOnly: boolean
  /** `pg_backend_pid()` of the session running it. */
  readonly backendPid: number
  readonly signal: AbortSignal
}

// ---------------------------------------------------------------------------
// The database
// ---------------------------------------------------------------------------

/**
 * The services `db.layer` provides and `db.runtime` runs with.
 *
 * @since 0.1.0
 * @category models
 */
export type Services = Database.Database | SqlClient.SqlClient | PgClient.PgClient | Health.DatabaseHealth

/**
 * The services of a database created with `healthMonitor`: the shared `HealthMonitor` as well.
 *
 * @since 0.2.0
 * @category models
 */
export type MonitoredServices = Services | HealthMonitor.HealthMonitor

/**
 * What `createDatabase` returns. Every function resolves with the result or rejects with the error
 * itself: a `DatabaseError` member, a typed options error, your own error thrown in the body, the
 * caller's `signal.reason`, or `DatabaseClosedError` after `close()`.
 *
 * @since 0.1.0
 * @category models
 */
export interface PromiseDatabase<R = Services> {
  /**
   * The seed's `withTransaction`: BEGIN, your function, COMMIT; ROLLBACK when it throws, when the
   * deadline passes or when `signal` aborts. Deadlocks and serialization failures re-run the
   * function on a fresh BEGIN (`retryDeadlocks`, `maxRetries`).
   */
  readonly withTransaction: <A>(fn: (ctx: TransactionContext) => Promise<A> | A, options?: TransactionOptions) => Promise<A>
  /** Like `withTransaction`, and also retries every other retryable failure before COMMIT. */
  readonly withTransactionRetry: <A>(
    fn: (ctx: TransactionContext) => Promise<A> | A,
    options?: TransactionOptions
  ) => Promise<A>
  /** One statement outside a transaction; `signal` cancels it on the server. */
  readonly query: <A extends object = Row>(
    text: string,
    params?: ReadonlyArray<unknown>,
    options?: { readonly signal?: AbortSignal | undefined }
  ) => Promise<ReadonlyArray<A>>
  /** The seed's `performHealthCheck`: never rejects for an unreachable server (that is CRITICAL). */
  readonly performHealthCheck: (thresholds?: Health.HealthThresholdsInput) => Promise<Health.DatabaseHealthCheck>
  /**
   * The seed's `scheduleHealthChecks`: a check every `intervalMs` (default 60000); `onStatusChange`
   * gets the first result and every change. Returns the function that stops it (its Promise
   * resolves once the checks have stopped; no callback runs after it is called).
   */
  readonly scheduleHealthChecks: (
    intervalMs?: number,
    onStatusChange?: (check: Health.DatabaseHealthCheck) => unknown
  ) => () => Promise<void>
  /** Live figures of the pool: `{ total, idle, inUse, waiting, max }`. */
  readonly poolStats: () => Promise<Database.PoolStats>
  /**
   * Stops the schedules, waits for the transactions in flight (each bounded by its deadline),
   * cancels the `query` calls in flight (they have no deadline; each rejects with
   * `DatabaseClosedError`), then ends the pool: no connection is left open. Later calls reject with
   * `DatabaseClosedError`.
   */
  readonly close: () => Promise<void>
  /**
   * The same pool and health service for Effect code: `Effect.provide(program, db.layer)`. The
   * layer does not own them (its scope closing leaves them open); `close()` does, so call it once
   * the Effect code is done with them.
   */
  readonly layer: Layer.Layer<R>
  /** The runtime the Promise functions use, for `db.runtime.runPromise(effect)`. Close with `close()`. */
  readonly runtime: ManagedRuntime.ManagedRuntime<R, never>
}

/**
 * Builds a database: validates the options at once (throws `DatabaseConfigError` naming the field),
 * connects on first use. Why: one object that Promise code calls and Effect code shares.
 *
 * @since 0.1.0
 * @category constructors
 */
export const createDatabase: {
  (options: CreateDatabaseOptions & { readonly healthMonitor: HealthMonitorSettings }): PromiseDatabase<MonitoredServices>
  (options: CreateDatabaseOptions): PromiseDatabase
} = internal.make

/**
 * A call on a database after `close()`: nothing was sent.
 *
 * @since 0.1.0
 * @category errors
 */
export const DatabaseClosedError = errors.DatabaseClosedError

/**
 * @since 0.1.0
 * @category errors
 */
export type DatabaseClosedError = errors.DatabaseClosedError

// ---------------------------------------------------------------------------
// The seed's classification helpers
// ---------------------------------------------------------------------------

/**
 * The seed's classification result, as a plain object.
 *
 * @since 0.1.0
 * @category classification
 */
export interface DatabaseErrorClassification {
  readonly category: DatabaseErrorCategory
  readonly isRetryable: boolean
  readonly recoveryAction: DatabaseRecoveryAction
  /** Plain language for an end user: no SQL, no values. */
  readonly userMessage: string
  /** For logs and operators (may hold row values). */
  readonly technicalMessage: string
  readonly constraint?: string
  readonly field?: string
}

/**
 * The seed's `classifyDatabaseError`: any failure (ours, pg's, PostgREST's, a Node socket error) as
 * a plain `{ category, isRetryable, recoveryAction, userMessage, technicalMessage, constraint?,
 * field? }`. Never throws. Why: seed code switches on these fields; `instanceof` on the error itself
 * gives the rest.
 *
 * @since 0.1.0
 * @category classification
 */
export const classifyDatabaseError: (error: unknown) => DatabaseErrorClassification = classification.classifyPlain

/**
 * Whether the failure may succeed when retried. Why: the seed's helper for retry loops.
 *
 * @since 0.1.0
 * @category classification
 */
export const isDatabaseErrorRetryable: (error: unknown) => boolean = Classify.isDatabaseErrorRetryable

/**
 * The plain-language message for an end user. Why: the seed's helper for toasts and forms.
 *
 * @since 0.1.0
 * @category classification
 */
export const getDatabaseErrorMessage: (error: unknown) => string = Classify.getDatabaseErrorMessage

/**
 * What the caller should do next. Why: the seed's helper for choosing a recovery path.
 *
 * @since 0.1.0
 * @category classification
 */
export const getDatabaseRecoveryAction: (error: unknown) => DatabaseRecoveryAction = Classify.getDatabaseRecoveryAction

/**
 * The error classes a Promise caller may catch, the seed's enum-like objects and the options errors,
 * re-exported so that Promise code imports everything from `effect-pg-resilience/promise`.
 *
 * @since 0.1.0
 * @category re-exports
 */
export {
  CommitOutcomeUnknown,
  ConnectionError,
  ConstraintViolation,
  type DatabaseError,
  DatabaseErrorCategory,
  DatabaseRecoveryAction,
  Deadlock,
  InvalidData,
  isDatabaseError,
  NotFound,
  PermissionDenied,
  QueryError,
  QueryTimeout,
  SerializationFailure,
  TransactionTimeout,
  UnknownDatabaseError
} from "./Errors.js"
/** @since 0.1.0 */
export { DatabaseConfigError, type PoolStats } from "./Database.js"
/** @since 0.1.0 */
export {
  type DatabaseHealthCheck,
  DatabaseHealthStatus,
  type HealthThresholdsInput,
  HealthThresholdsError
} from "./Health.js"
/** @since 0.1.0 */
export { HealthMonitorConfigError } from "./HealthMonitor.js"
/** @since 0.1.0 */
export { type IsolationLevel, TransactionConfigError } from "./Transaction.js"
