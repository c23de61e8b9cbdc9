/**
 * Transactions as Effect values: isolation, a deadline, safe retries, and no dirty connection.
 *
 * Why not `sql.withTransaction`: @effect/sql 0.52 turns COMMIT failures into defects, reports a
 * transaction whose COMMIT was answered with ROLLBACK as committed, has no isolation level and no
 * deadline, and cannot retry. Here the outermost call owns BEGIN/COMMIT/ROLLBACK on a leased
 * connection and provides it as `SqlClient.TransactionConnection`, so ordinary `sql` statements and
 * nested `sql.withTransaction` calls inside run on it (nested ones as savepoints).
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as LogLevel from "effect/LogLevel"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleIntervals from "effect/ScheduleIntervals"
import * as Schema from "effect/Schema"
import { randomUUID } from "node:crypto"
import type Pg from "pg"
import {
  type ClassifyOptions,
  classifyCommitFailure,
  classifyDatabaseError,
  ConstraintRegistry,
  type Refined,
  refineCause
} from "./Classify.js"
import { Database } from "./Database.js"
import { type DatabaseError, isDatabaseError, TransactionTimeout } from "./Errors.js"
import { destroyClient, type PgConnection } from "./internal/pgConnection.js"

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

/**
 * The four SQL isolation levels.
 *
 * @since 0.1.0
 */
export const IsolationLevel = Schema.Literal("READ UNCOMMITTED", "READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE")

/**
 * @since 0.1.0
 */
export type IsolationLevel = typeof IsolationLevel.Type

const TimeoutInput = Schema.transformOrFail(Schema.Unknown, Schema.DurationFromSelf, {
  strict: true,
  decode: (input, _, ast) =>
    Option.match(Duration.decodeUnknown(input), {
      onNone: () =>
        ParseResult.fail(new ParseResult.Type(ast, input, "must be a duration such as \"30 seconds\" or milliseconds")),
      onSome: (d) =>
        Duration.isFinite(d) && Duration.greaterThan(d, Duration.zero)
          ? ParseResult.succeed(d)
          : ParseResult.fail(new ParseResult.Type(ast, input, "must be a finite duration greater than zero"))
    }),
  encode: ParseResult.succeed
})

const ScheduleSchema = Schema.declare(
  (u): u is Schedule.Schedule<unknown, DatabaseError> => Schedule.isSchedule(u),
  { message: () => "must be an Effect Schedule" }
)

/**
 * The validated transaction options, with the seed's defaults.
 *
 * @since 0.1.0
 */
export const TransactionConfig = Schema.Struct({
  isolationLevel: Schema.optionalWith(IsolationLevel, { default: () => "READ COMMITTED" as const }),
  readOnly: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  deferrable: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  timeout: Schema.optionalWith(TimeoutInput, { default: () => Duration.seconds(30) }),
  retryDeadlocks: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  maxRetries: Schema.optionalWith(
    Schema.Int.pipe(Schema.between(0, 1000, { message: () => "must be an integer from 0 to 1000" })),
    { default: () => 3 }
  ),
  schedule: Schema.optional(ScheduleSchema)
})

/**
 * @since 0.1.0
 */
export type TransactionConfig = typeof TransactionConfig.Type

/**
 * What `withTransaction` accepts (every field optional).
 *
 * @since 0.1.0
 */
export interface TransactionConfigInput {
  /** Default READ COMMITTED. */
  readonly isolationLevel?: IsolationLevel
  /** READ ONLY access mode (default false). */
  readonly readOnly?: boolean
  /** DEFERRABLE: only with SERIALIZABLE and readOnly (default false). */
  readonly deferrable?: boolean
  /** Deadline of the whole call, retries and backoff included (default 30 s). */
  readonly timeout?: Duration.DurationInput
  /** Retry deadlocks and serialization failures (default true). */
  readonly retryDeadlocks?: boolean
  /** Most retries after the first attempt (default 3). */
  readonly maxRetries?: number
  /** Replaces the default backoff (exponential from 25 ms, jittered); still capped by `maxRetries`. */
  readonly schedule?: Schedule.Schedule<unknown, DatabaseError>
}

/**
 * Invalid transaction options, or a nested call that asks for what its outer transaction is not.
 * Nothing was sent to the server.
 *
 * @since 0.1.0
 */
export class TransactionConfigError extends Schema.TaggedError<TransactionConfigError>()("TransactionConfigError", {
  field: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Invalid transaction configuration: ${this.field} ${this.reason}`
  }
}

const decodeConfig = Schema.decodeUnknownEither(TransactionConfig)
const validated = new WeakMap<object, Either.Either<TransactionConfig, TransactionConfigError>>()

/**
 * Validates options without touching the server (cached per options object).
 *
 * @since 0.1.0
 */
export const validateConfig = (
  input: TransactionConfigInput = defaults
): Either.Either<TransactionConfig, TransactionConfigError> => {
  const cached = validated.get(input)
  if (cached) return cached
  const result = Either.flatMap(
    Either.mapLeft(decodeConfig(input), (error) => {
      const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
      return new TransactionConfigError({
        field: issue && issue.path.length > 0 ? issue.path.join(".") : "config",
        reason: issue?.message ?? "is invalid"
      })
    }),
    (config) =>
      config.deferrable && !(config.isolationLevel === "SERIALIZABLE" && config.readOnly)
        ? Either.left(
          new TransactionConfigError({
            field: "deferrable",
            reason: "is only valid with isolationLevel SERIALIZABLE and readOnly true"
          })
        )
        : Either.right(config)
  )
  validated.set(input, result)
  return result
}

// ---------------------------------------------------------------------------
// Context inside a transaction
// ---------------------------------------------------------------------------

/**
 * What the running transaction is, for logs and for code that adapts to it.
 *
 * @since 0.1.0
 */
export interface TransactionInfo {
  /** Generated on the client for the whole call (all attempts); the server's XID goes to logs. */
  readonly id: string
  /** 1 for the first attempt. */
  readonly attempt: number
  readonly isolationLevel: IsolationLevel
  readonly readOnly: boolean
  /** `pg_backend_pid()` of the session running it. */
  readonly backendPid: number
  /** When this attempt began. */
  readonly startedAt: Date
  /** 0 at the outermost level, 1 for a savepoint inside it, ... */
  readonly depth: number
}

/**
 * The transaction the current fiber runs in.
 *
 * @since 0.1.0
 */
export class CurrentTransaction extends Context.Tag("effect-pg-resilience/CurrentTransaction")<
  CurrentTransaction,
  TransactionInfo
>() {}

// ---------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------

/**
 * Transaction metrics, for Prometheus or OpenTelemetry exporters.
 *
 * @since 0.1.0
 */
export const metrics = {
  commits: Metric.counter("pg_resilience_transaction_commits_total", {
    description: "Transactions committed",
    incremental: true
  }),
  rollbacks: Metric.counter("pg_resilience_transaction_rollbacks_total", {
    description: "Transaction attempts rolled back (failures, timeouts and interruptions)",
    incremental: true
  }),
  retries: Metric.counter("pg_resilience_transaction_retries_total", {
    description: "Transaction attempts retried, by the reason of the failure (tag reason)",
    incremental: true
  }),
  timeouts: Metric.counter("pg_resilience_transaction_timeouts_total", {
    description: "Transactions that ran past their deadline",
    incremental: true
  }),
  unknownCommitOutcomes: Metric.counter("pg_resilience_transaction_commit_outcome_unknown_total", {
    description: "Connections lost while COMMIT was in flight",
    incremental: true
  }),
  duration: Metric.histogram(
    "pg_resilience_transaction_duration_seconds",
    MetricBoundaries.exponential({ start: 0.001, factor: 2, count: 16 }),
    "Duration of whole transaction calls, retries included"
  ).pipe(Metric.mapInput((duration: Duration.Duration) => Duration.toSeconds(duration)))
}

// ---------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------

/** The connection and settings of the transaction the fiber runs in. */
class TransactionState extends Context.Tag("effect-pg-resilience/internal/TransactionState")<
  TransactionState,
  { readonly conn: PgConnection; readonly info: TransactionInfo }
>() {}

type Classified<E> = Refined<E>

const registryOptions: Effect.Effect<ClassifyOptions> = Effect.map(
  Effect.serviceOption(ConstraintRegistry),
  Option.match({ onNone: () => ({}), onSome: (constraints) => ({ constraints }) })
)

const withAttempts = (error: DatabaseError, attempts: number): DatabaseError =>
  Object.assign(Object.create(Object.getPrototypeOf(error)), error, { attempts })

const beginStatement = (config: TransactionConfig, remainingMillis: number, serverMajor: number): string => {
  const mode = [
    `ISOLATION LEVEL ${config.isolationLevel}`,
    config.readOnly ? "READ ONLY" : "READ WRITE",
    ...(config.deferrable ? ["DEFERRABLE"] : [])
  ].join(" ")
  // The server's limits are a backstop for when the client cannot act (a hung socket, a dead
  // process): they fire a little after our own deadline, which cancels and rolls back gracefully.
  const limit = Math.max(1, Math.ceil(remainingMillis + serverLimitSlackMillis(remainingMillis)))
  // One round trip: BEGIN and the server-side limits travel as one simple-protocol query.
  return [
    `BEGIN ${mode}`,
    `SET LOCAL statement_timeout = ${limit}`,
    `SET LOCAL idle_in_transaction_session_timeout = ${limit}`,
    ...(serverMajor >= 17 ? [`SET LOCAL transaction_timeout = ${limit}`] : [])
  ].join("; ")
}

const serverLimitSlackMillis = (remainingMillis: number) => Math.min(1000, Math.max(200, remainingMillis * 0.1))

// When debug logging is on, the XID rides along with COMMIT (no extra round trip; only an assigned
// XID is reported). Otherwise COMMIT goes alone: the extra SELECT costs the server about a third of
// an uncontended transaction's throughput.
const commitWithXid = "SELECT pg_current_xact_id_if_assigned()::text AS xid; COMMIT"

const wantsXid = Effect.map(
  FiberRef.get(FiberRef.currentMinimumLogLevel),
  (minimum) => LogLevel.lessThanEqual(minimum, LogLevel.Debug)
)

/**
 * ROLLBACK straight on the client, bounded: if it is not confirmed in time the connection is
 * destroyed, so a session that may still hold locks never goes back to the pool.
 */
const rollback = (conn: PgConnection): Effect.Effect<boolean> =>
  Effect.async<boolean>((resume) => {
    const lease = conn.lease!
    let settled = false
    const timer = setTimeout(() => {
      if (settled) return
      settled = true
      const reason = new Error("ROLLBACK was not confirmed in time")
      lease.broken = reason
      destroyClient(lease.client, reason)
      resume(Effect.succeed(false))
    }, conn.handle.cancelGraceMillis)
    lease.client.query("ROLLBACK", (error: Error | null) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (error) {
        lease.broken = error
        destroyClient(lease.client, error)
      }
      resume(Effect.succeed(!error))
    })
  })


type Phase = "begin" | "body" | "commit"

/** The error of one attempt, with where it happened (only errors before COMMIT may be retried). */
interface AttemptFailure<E> {
  readonly phase: Phase
  readonly cause: Cause.Cause<Classified<E>>
}

const runAttempt = <A, E, R>(
  body: Effect.Effect<A, E, R>,
  config: TransactionConfig,
  id: string,
  attempt: number,
  deadline: number,
  control: { committing: boolean }
): Effect.Effect<A, AttemptFailure<E>, Database | Exclude<R, CurrentTransaction | TransactionState>> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const db = yield* Database
      const options = yield* registryOptions
      const serverMajor = (yield* restore(db.serverVersion).pipe(
        Effect.mapError((error) => ({ phase: "begin" as const, cause: Cause.fail(classifyDatabaseError(error, options)) }))
      )).major
      const conn = yield* restore(db.reserve).pipe(
        Effect.mapError((error) => ({ phase: "begin" as const, cause: Cause.fail(classifyDatabaseError(error, options)) }))
      )
      const now = yield* Clock.currentTimeMillis
      const info: TransactionInfo = {
        id,
        attempt,
        isolationLevel: config.isolationLevel,
        readOnly: config.readOnly,
        backendPid: (conn.lease!.client as unknown as { processID: number }).processID,
        startedAt: new Date(now),
        depth: 0
      }
      const begun = yield* restore(conn.executeRaw(beginStatement(config, deadline - now, serverMajor), [])).pipe(
        Effect.exit
      )
      if (Exit.isFailure(begun)) {
        yield* rollback(conn)
        return yield* Cause.isInterruptedOnly(begun.cause)
          ? Effect.failCause(begun.cause as Cause.Cause<never>)
          : Effect.fail({ phase: "begin" as const, cause: refineCause(begun.cause, options) as Cause.Cause<Classified<E>> })
      }
      const result = yield* restore(body).pipe(
        Effect.provideService(CurrentTransaction, info),
        Effect.provideService(TransactionState, { conn, info }),
        Effect.provideService(SqlClient.TransactionConnection, [conn, 0] as const),
        Effect.exit
      ) as Effect.Effect<Exit.Exit<A, E>, never, Exclude<R, CurrentTransaction | TransactionState>>
      if (Exit.isFailure(result)) {
        yield* rollback(conn)
        yield* Metric.increment(metrics.rollbacks)
        return yield* Effect.failCause(
          Cause.isInterruptedOnly(result.cause)
            ? (result.cause as Cause.Cause<never>)
            : Cause.fail({ phase: "body" as const, cause: refineCause(result.cause, options) })
        )
      }
      // COMMIT runs to its end even when the deadline passes or the caller is interrupted meanwhile:
      // its outcome decides whether the work happened, and the caller must learn it.
      control.committing = true
      const withXid = yield* wantsXid
      const committed = yield* conn.executeRaw(withXid ? commitWithXid : "COMMIT", []).pipe(Effect.exit)
      if (Exit.isFailure(committed)) {
        const error = Cause.squash(committed.cause)
        const classified = classifyCommitFailure(error, options)
        control.committing = false
        if (classified._tag === "CommitOutcomeUnknown") {
          conn.lease!.broken = error instanceof Error ? error : new Error("COMMIT outcome unknown")
          yield* Metric.increment(metrics.unknownCommitOutcomes)
        } else {
          // Either the server ended the transaction (e.g. 40001 or a deferred constraint at
          // COMMIT), or the SELECT before COMMIT failed because the transaction was already
          // aborted (an error swallowed in the body). Both leave nothing saved.
          yield* rollback(conn)
          yield* Metric.increment(metrics.rollbacks)
        }
        return yield* Effect.fail({ phase: "commit" as const, cause: Cause.fail(abortedOrSelf(classified, options)) })
      }
      const raw = committed.value as unknown as Pg.QueryResult | Array<Pg.QueryResult>
      const results = Array.isArray(raw) ? raw : [raw]
      const last = results[results.length - 1]
      if (last?.command !== "COMMIT") {
        control.committing = false
        yield* Metric.increment(metrics.rollbacks)
        return yield* Effect.fail({
          phase: "commit" as const,
          cause: Cause.fail(abortedError(last?.command ?? "nothing", options))
        })
      }
      const xid = withXid ? (results[0]?.rows[0] as { xid?: string | null } | undefined)?.xid : undefined
      yield* Metric.increment(metrics.commits)
      yield* Effect.logDebug("transaction committed").pipe(
        Effect.annotateLogs(xid ? { transactionId: id, attempt, xid } : { transactionId: id, attempt })
      )
      if (xid) yield* Effect.annotateCurrentSpan("db.transaction.xid", xid)
      return result.value
    }).pipe(
      Effect.scoped,
      Effect.tapError((failure) =>
        Effect.annotateCurrentSpan({
          "db.transaction.phase": failure.phase,
          "db.response.status_code": Option.getOrUndefined(
            Option.flatMap(Cause.failureOption(failure.cause), (e) =>
              isDatabaseError(e) ? Option.fromNullable(e.sqlState) : Option.none())
          ) ?? "none"
        })
      ),
      Effect.withSpan("pg.transaction.attempt", {
        captureStackTrace: false,
        attributes: { "db.transaction.id": id, "db.transaction.attempt": attempt }
      })
    )
  )

// A swallowed statement error aborts the transaction: the server then refuses everything but
// ROLLBACK with 25P02, which is what the SELECT before COMMIT reports.
const abortedOrSelf = (error: DatabaseError, options: ClassifyOptions): DatabaseError =>
  error.sqlState === "25P02" ? abortedError("ROLLBACK", options) : error

const abortedError = (commandTag: string, options: ClassifyOptions): DatabaseError =>
  classifyDatabaseError(
    Object.assign(new Error(
      `the transaction was aborted by an earlier statement error that was caught inside it; COMMIT answered ${commandTag} and nothing was saved`
    ), { code: "25P02", severity: "ERROR" }),
    options
  )

const nested = <A, E, R>(
  body: Effect.Effect<A, E, R>,
  input: TransactionConfigInput,
  config: TransactionConfig,
  conn: PgConnection,
  parent: TransactionInfo | undefined,
  parentDepth: number
): Effect.Effect<A, Classified<E> | TransactionConfigError, Exclude<R, CurrentTransaction | TransactionState>> => {
  if (parent && input.isolationLevel !== undefined && input.isolationLevel !== parent.isolationLevel) {
    return Effect.fail(
      new TransactionConfigError({
        field: "isolationLevel",
        reason:
          `cannot be ${input.isolationLevel} in a nested transaction: the outer transaction runs ${parent.isolationLevel}`
      })
    )
  }
  if (parent && input.readOnly !== undefined && input.readOnly !== parent.readOnly) {
    return Effect.fail(
      new TransactionConfigError({
        field: "readOnly",
        reason: `cannot differ from the outer transaction's (${String(parent.readOnly)}) in a nested transaction`
      })
    )
  }
  const depth = parentDepth + 1
  const name = `effect_pgr_${depth}`
  return Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const options = yield* registryOptions
      const classify = (error: unknown) => classifyDatabaseError(error, options)
      yield* restore(conn.executeRaw(`SAVEPOINT ${name}`, [])).pipe(Effect.mapError(classify))
      const info: TransactionInfo | undefined = parent && { ...parent, depth }
      let inner = restore(body).pipe(Effect.provideService(SqlClient.TransactionConnection, [conn, depth] as const))
      if (info) {
        inner = inner.pipe(
          Effect.provideService(CurrentTransaction, info),
          Effect.provideService(TransactionState, { conn, info })
        )
      }
      const result = yield* Effect.exit(inner as Effect.Effect<A, E, Exclude<R, CurrentTransaction | TransactionState>>)
      if (Exit.isSuccess(result)) {
        yield* conn.executeRaw(`RELEASE SAVEPOINT ${name}`, []).pipe(Effect.mapError(classify))
        return result.value
      }
      // Back to the savepoint, and release it: the outer transaction goes on as if this never ran.
      yield* conn.executeRaw(`ROLLBACK TO SAVEPOINT ${name}; RELEASE SAVEPOINT ${name}`, []).pipe(
        Effect.mapError(classify)
      )
      return yield* Effect.failCause(refineCause(result.cause, options))
    })
  )
}

type RetryPolicy = "deadlocks" | "retryable"

const retryReason = (error: unknown, phase: Phase, policy: RetryPolicy, config: TransactionConfig) => {
  if (!isDatabaseError(error)) return undefined
  if (error._tag === "Deadlock" || error._tag === "SerializationFailure") {
    return policy === "retryable" || config.retryDeadlocks ? error._tag : undefined
  }
  if (policy === "retryable" && phase !== "commit" && error.isRetryable && error._tag !== "TransactionTimeout") {
    return error._tag
  }
  return undefined
}

const defaultSchedule: Schedule.Schedule<Duration.Duration, unknown> = Schedule.exponential("25 millis").pipe(
  Schedule.jittered
)

const run = <A, E, R>(
  body: Effect.Effect<A, E, R>,
  input: TransactionConfigInput,
  policy: RetryPolicy
): Effect.Effect<
  A,
  Classified<E> | TransactionConfigError,
  Database | Exclude<R, CurrentTransaction | TransactionState>
> =>
  Effect.gen(function*() {
    const config = yield* validateConfig(input)
    const state = yield* Effect.serviceOption(TransactionState)
    if (Option.isSome(state)) {
      return yield* nested(body, input, config, state.value.conn, state.value.info, state.value.info.depth)
    }
    const foreign = yield* Effect.serviceOption(SqlClient.TransactionConnection)
    if (Option.isSome(foreign)) {
      // Inside a plain `sql.withTransaction`: join it as a savepoint.
      const [conn, depth] = foreign.value
      return yield* nested(body, input, config, conn as PgConnection, undefined, depth)
    }
    return yield* outermost(body, config, policy)
  })

const outermost = <A, E, R>(
  body: Effect.Effect<A, E, R>,
  config: TransactionConfig,
  policy: RetryPolicy
): Effect.Effect<A, Classified<E>, Database | Exclude<R, CurrentTransaction | TransactionState>> =>
  Effect.gen(function*() {
    const id = randomUUID()
    const started = yield* Clock.currentTimeMillis
    const timeoutMillis = Duration.toMillis(config.timeout)
    const deadline = started + timeoutMillis
    const schedule = Schedule.intersect(config.schedule ?? defaultSchedule, Schedule.recurs(config.maxRetries))
    let attempt = 0
    let scheduleState = schedule.initial
    const control = { committing: false }

    const loop: Effect.Effect<A, Classified<E>, Database | Exclude<R, CurrentTransaction | TransactionState>> = Effect
      .suspend(() => {
        attempt++
        return runAttempt(body, config, id, attempt, deadline, control)
      }).pipe(
        Effect.catchAll((failure) =>
          Effect.gen(function*() {
            const error = Cause.failureOption(failure.cause)
            const failedAt = yield* Clock.currentTimeMillis
            if (Option.isSome(error) && failedAt >= deadline && isServerTimeout(error.value)) {
              // The server's backstop fired: it is our deadline all the same.
              return yield* Effect.fail(deadlineError(error.value))
            }
            const reason = Option.isSome(error) ? retryReason(error.value, failure.phase, policy, config) : undefined
            if (reason === undefined || Option.isNone(error)) {
              yield* logFailure(id, attempt, failure.cause)
              return yield* Effect.failCause(withAttemptsCause(failure.cause, attempt))
            }
            const now = yield* Clock.currentTimeMillis
            const [nextState, , decision] = yield* schedule.step(now, error.value as DatabaseError, scheduleState)
            scheduleState = nextState
            const delay = ScheduleDecision.isDone(decision)
              ? undefined
              : Math.max(0, ScheduleIntervals.start(decision.intervals) - now)
            if (delay === undefined || now + delay >= deadline) {
              yield* logFailure(id, attempt, failure.cause)
              return yield* Effect.failCause(withAttemptsCause(failure.cause, attempt))
            }
            yield* Metric.increment(Metric.tagged(metrics.retries, "reason", reason))
            yield* Effect.logDebug("transaction attempt failed; retrying").pipe(
              Effect.annotateLogs({
                transactionId: id,
                attempt,
                reason,
                sqlState: (error.value as DatabaseError).sqlState ?? "none",
                retryDelayMillis: Math.round(delay)
              })
            )
            yield* Effect.annotateCurrentSpan(`db.transaction.retry.${attempt}`, `${reason} after ${Math.round(delay)} ms`)
            yield* Effect.sleep(Duration.millis(delay))
            return yield* loop
          })
        )
      )

    // The deadline interrupts whatever runs (the attempt rolls back before this returns), except
    // a COMMIT already sent: then its outcome is the answer.
    const deadlineError = (cause: unknown) =>
      new TransactionTimeout({
        timeout: config.timeout,
        attempts: attempt,
        technicalMessage: `transaction ${id} exceeded its ${timeoutMillis} ms deadline during attempt ${attempt}`,
        cause
      })
    const deadlinePassed = Effect.sleep(config.timeout).pipe(
      Effect.zipRight(Effect.suspend(() => control.committing ? Effect.never : Effect.fail(deadlineError(undefined))))
    )
    return yield* Effect.raceFirst(loop, deadlinePassed).pipe(
      Effect.tapErrorCause((cause) =>
        Cause.failureOption(cause).pipe(Option.exists((e) => isDatabaseError(e) && e._tag === "TransactionTimeout"))
          ? Effect.zipRight(
            Metric.increment(metrics.timeouts),
            Effect.logWarning("transaction exceeded its deadline and was rolled back").pipe(
              Effect.annotateLogs({ transactionId: id, attempts: attempt, timeoutMillis })
            )
          )
          : Effect.void
      ),
      // Every outcome counts (success, failure, timeout, interruption).
      Effect.onExit(() =>
        Effect.flatMap(Clock.currentTimeMillis, (ended) => Metric.update(metrics.duration, Duration.millis(ended - started)))
      ),
      Effect.withSpan("pg.transaction", {
        captureStackTrace: false,
        attributes: {
          "db.transaction.id": id,
          "db.transaction.isolation_level": config.isolationLevel,
          "db.transaction.read_only": config.readOnly
        }
      })
    ) as Effect.Effect<A, Classified<E>, Database | Exclude<R, CurrentTransaction | TransactionState>>
  })

const isServerTimeout = (error: unknown) =>
  isDatabaseError(error) &&
  (error._tag === "QueryTimeout" || error.sqlState === "25P04" || error.sqlState === "25P03" || error.sqlState === "57014")

const withAttemptsCause = <E>(cause: Cause.Cause<E>, attempts: number): Cause.Cause<E> =>
  Cause.map(cause, (error) => (isDatabaseError(error) ? withAttempts(error, attempts) as E : error))

const logFailure = <E>(id: string, attempts: number, cause: Cause.Cause<E>) => {
  const error = Cause.failureOption(cause)
  if (Option.isNone(error) || !isDatabaseError(error.value)) return Effect.void
  const e = error.value
  return Effect.logError("transaction failed").pipe(
    Effect.annotateLogs({
      transactionId: id,
      attempts,
      tag: e._tag,
      category: e.category,
      recoveryAction: e.recoveryAction,
      sqlState: e.sqlState ?? "none"
    })
  )
}

/**
 * The type of `withTransaction` and `withTransactionRetry`: data-first or pipeable.
 *
 * @since 0.1.0
 */
export interface TransactionCombinator {
  (
    config?: TransactionConfigInput
  ): <A, E, R>(
    effect: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, Classified<E> | TransactionConfigError, Database | Exclude<R, CurrentTransaction>>
  <A, E, R>(
    effect: Effect.Effect<A, E, R>,
    config?: TransactionConfigInput
  ): Effect.Effect<A, Classified<E> | TransactionConfigError, Database | Exclude<R, CurrentTransaction>>
}

// One shared object for "no options", so that its validation is cached like any other.
const defaults: TransactionConfigInput = Object.freeze({})

const combinator = (policy: RetryPolicy): TransactionCombinator =>
  function(...args: Array<any>): any {
    if (Effect.isEffect(args[0])) return run(args[0], args[1] ?? defaults, policy)
    return (effect: Effect.Effect<any, any, any>) => run(effect, args[0] ?? defaults, policy)
  } as TransactionCombinator

/**
 * Runs `effect` in a transaction: BEGIN with the isolation level, access mode and server-side
 * limits; COMMIT on success (a failed or aborted COMMIT is a typed failure); ROLLBACK on any failure,
 * defect or interruption. Deadlocks and serialization failures are retried (the whole effect, on a
 * fresh BEGIN) while `retryDeadlocks` is on. Nested calls become savepoints.
 *
 * @since 0.1.0
 */
export const withTransaction: TransactionCombinator = combinator("deadlocks")

/**
 * Like `withTransaction`, and also retries every other retryable failure that happened before
 * COMMIT was sent (lost connections, server-side timeouts ...). Never retries an unknown COMMIT
 * outcome.
 *
 * @since 0.1.0
 */
export const withTransactionRetry: TransactionCombinator = combinator("retryable")
