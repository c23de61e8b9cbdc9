/**
 * One attempt of a transaction on one leased connection: BEGIN with the limits, the body, then
 * COMMIT (bounded) or ROLLBACK. Every failure says in which phase it happened; only those before
 * COMMIT may be retried. Written as a plain chain of effects: it runs once per transaction, and each
 * step it saves is CPU the caller does not pay.
 *
 * @internal
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import {
  type ClassifyOptions,
  classifyCommitFailure,
  classifyDatabaseError,
  ConstraintRegistry,
  type Refined,
  refineCause
} from "../../Classify.js"
import type { Database } from "../../Database.js"
import { type DatabaseError, isDatabaseError } from "../../Errors.js"
import { deadlinePassed, type PgConnection } from "../pgConnection.js"
import type { TransactionConfig } from "./config.js"
import { CurrentTransaction, type TransactionInfo } from "./context.js"
import { TransactionState } from "./state.js"
import type { CallControl } from "./deadline.js"
import { metrics } from "./metrics.js"
import { abortedError, beginStatement, pidOfBegin } from "./statements.js"

export type Phase = "connect" | "begin" | "body" | "commit"

/** The failure of one attempt, with where it happened. */
export interface AttemptFailure<E> {
  readonly phase: Phase
  readonly cause: Cause.Cause<Refined<E>>
  /** The deadline had passed when the attempt failed: the call's failure is `TransactionTimeout`. */
  readonly pastDeadline: boolean
}

/** What every attempt of one call shares. */
export interface CallSettings {
  readonly config: TransactionConfig
  readonly id: string
  readonly control: CallControl
  readonly span: Tracer.Span
  /** The caller's metric labels (`Effect.tagMetrics`), for every metric of the call. */
  readonly metricTags: ReadonlyArray<MetricLabel.MetricLabel>
}

/** The services a call needs, read once from the caller's context. */
export interface CallServices {
  readonly db: Database["Type"]
  readonly options: ClassifyOptions
}

const noOptions: ClassifyOptions = Object.freeze({})

export const classifyOptionsOf = (context: Context.Context<never>): ClassifyOptions => {
  const registry = Context.getOption(context, ConstraintRegistry)
  return Option.isSome(registry) ? { constraints: registry.value } : noOptions
}

export const registryOptions: Effect.Effect<ClassifyOptions> = Effect.contextWith(classifyOptionsOf)

const failedIn = <E>(phase: Phase, error: DatabaseError, control: CallControl): AttemptFailure<E> => ({
  phase,
  cause: Cause.fail(error as Refined<E>),
  pastDeadline: phase !== "commit" && control.expiry.expired
})

/** Whether a statement failed because its connection is gone (not because of what it asked). */
const isConnectionLoss = (cause: Cause.Cause<unknown>): boolean =>
  Option.exists(Cause.failureOption(cause), (error) => {
    const classified = isDatabaseError(error) ? error : classifyDatabaseError(error)
    return classified._tag === "ConnectionError"
  })

const statusCodeOf = (cause: Cause.Cause<unknown>): string =>
  Option.getOrUndefined(
    Option.flatMap(Cause.failureOption(cause), (e) => (isDatabaseError(e) ? Option.fromNullable(e.sqlState) : Option.none()))
  ) ?? "none"

/** Adds the transaction's services (and its span as the parent of the body's statements) in one copy. */
const inTransaction = (context: Context.Context<never>, conn: PgConnection, info: TransactionInfo, span: Tracer.Span) =>
  Context.merge(
    context,
    Context.make(CurrentTransaction, info).pipe(
      Context.add(TransactionState, { conn, info }),
      Context.add(SqlClient.TransactionConnection, [conn, 0] as const),
      Context.add(Tracer.ParentSpan, span)
    )
  )

interface Begun {
  readonly conn: PgConnection
  readonly backendPid: number
  readonly startedAt: number
}

type Restore = <X, Y, Z>(effect: Effect.Effect<X, Y, Z>) => Effect.Effect<X, Y, Z>

/**
 * A leased connection with BEGIN done (on failure the connection is already handed back). A
 * connection found dead before BEGIN reached the server (a pooled connection stranded by a network
 * loss or a server restart) is replaced at once, however the call retries: nothing of the
 * transaction can have been committed on it.
 */
const begin = <E>(
  services: CallServices,
  settings: CallSettings,
  restore: Restore,
  replacementsLeft: number
): Effect.Effect<Begun, AttemptFailure<E>> =>
  // No `restore`: the wait inside is interruptible by itself, and the lease must be received in
  // this uninterruptible region, where nothing can interrupt before it is kept (see `takeLease`).
  Effect.matchCauseEffect(services.db.leaseUntil(settings.control.expiry), {
    onFailure: (cause) =>
      Cause.isInterruptedOnly(cause)
        ? Effect.failCause(cause as Cause.Cause<never>)
        : Effect.fail(failedIn<E>("connect", classifyDatabaseError(Cause.squash(cause), services.options), settings.control)),
    // The server reports its version at start-up (PostgreSQL and PgBouncer alike). Were it missing,
    // BEGIN leaves out transaction_timeout (PostgreSQL 17+) and keeps the other two limits, rather
    // than ask on a second pooled connection while this one is held.
    onSuccess: (conn) => sendBegin<E>(conn, conn.serverMajor ?? 0, services, settings, restore, replacementsLeft)
  })

const sendBegin = <E>(
  conn: PgConnection,
  serverMajor: number,
  services: CallServices,
  settings: CallSettings,
  restore: Restore,
  replacementsLeft: number
): Effect.Effect<Begun, AttemptFailure<E>> => {
  // Behind a pooler the connection's process id is the pooler's cancel key, not the backend's: the
  // first transaction on each connection asks the server within BEGIN, and keeps asking if they differ.
  const askPid = conn.processIsBackend !== true
  const startedAt = Date.now()
  const statement = beginStatement(settings.config, settings.control.deadline - startedAt, serverMajor, askPid)
  return Effect.matchCauseEffect(restore(conn.executeRaw(statement, [])), {
    onSuccess: (begun) => {
      let backendPid = conn.processId
      if (askPid) {
        const pid = pidOfBegin(begun)
        if (pid !== undefined) {
          conn.observeBackendPid(pid)
          backendPid = pid
        }
      }
      return Effect.succeed({ conn, backendPid, startedAt })
    },
    onFailure: (cause) => {
      const pastDeadline = settings.control.expiry.expired
      const lost = !pastDeadline && (!conn.usable || isConnectionLoss(cause))
      return Effect.zipRight(
        Effect.ensuring(conn.rollback(), Effect.sync(() => conn.release())),
        Cause.isInterruptedOnly(cause)
          ? Effect.failCause(cause as Cause.Cause<never>)
          : lost && replacementsLeft > 0 && Date.now() < settings.control.deadline
          ? Effect.suspend(() => begin<E>(services, settings, restore, replacementsLeft - 1))
          : Effect.fail<AttemptFailure<E>>({
            phase: "begin",
            cause: refineCause(cause, services.options) as Cause.Cause<Refined<E>>,
            pastDeadline
          })
      )
    }
  })
}

export const runAttempt = <A, E, R>(
  body: Effect.Effect<A, E, R>,
  services: CallServices,
  settings: CallSettings,
  attempt: number
): Effect.Effect<A, AttemptFailure<E>, Exclude<R, CurrentTransaction | TransactionState>> => {
  const { config, control, id, span } = settings
  const { options } = services
  const failed = <F>(failure: AttemptFailure<F>) => {
    span.event("db.transaction.attempt.failed", BigInt(Date.now()) * 1_000_000n, {
      "db.transaction.attempt": attempt,
      "db.transaction.phase": failure.phase,
      "db.response.status_code": statusCodeOf(failure.cause)
    })
    return Effect.fail(failure)
  }

  /** The body failed, was interrupted, or outlived the deadline: roll back, nothing is committed. */
  const abandon = (conn: PgConnection, result: Exit.Exit<A, E>) => {
    const pastDeadline = control.expiry.expired
    return Effect.zipRight(
      conn.rollback(),
      Effect.suspend(() => {
        metrics.rollbacks.unsafeUpdate(1, settings.metricTags)
        if (Exit.isSuccess(result)) {
          // A body that outlived the deadline (waiting on something other than the database).
          return failed(failedIn<E>("body", classifyDatabaseError(deadlinePassed(), options), control))
        }
        if (Cause.isInterruptedOnly(result.cause)) return Effect.failCause(result.cause as Cause.Cause<never>)
        return failed<E>({ phase: "body", cause: refineCause(result.cause, options), pastDeadline })
      })
    )
  }

  // COMMIT runs to its end even when the deadline passes or the caller is interrupted meanwhile: its
  // outcome decides whether the work happened, and the caller must learn it. It is bounded all the
  // same: with no answer by the deadline plus the cancel grace, the connection is cut and the
  // outcome is unknown.
  const commit = (conn: PgConnection, value: A) =>
    Effect.matchCauseEffect(conn.commit(), {
      onSuccess: (committed): Effect.Effect<A, AttemptFailure<E>> => {
        const tag = committed.command
        if (tag === "COMMIT") {
          metrics.commits.unsafeUpdate(1, settings.metricTags)
          return Effect.succeed(value)
        }
        metrics.rollbacks.unsafeUpdate(1, settings.metricTags)
        return failed(failedIn<E>("commit", abortedError(tag ?? "nothing", options), control))
      },
      onFailure: (cause) => {
        const error = Cause.squash(cause)
        const classified = classifyCommitFailure(error, options)
        if (classified._tag === "CommitOutcomeUnknown") {
          conn.markBroken(error)
          metrics.unknownCommitOutcomes.unsafeUpdate(1, settings.metricTags)
          return failed(failedIn<E>("commit", classified, control))
        }
        // The server ended the transaction (e.g. 40001 or a deferred constraint at COMMIT): nothing saved.
        return Effect.zipRight(
          conn.rollback(),
          Effect.suspend(() => {
            metrics.rollbacks.unsafeUpdate(1, settings.metricTags)
            return failed(failedIn<E>("commit", classified, control))
          })
        )
      }
    })

  return Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(
      // Each pooled connection may be found dead once after a network loss; one more for good measure.
      Effect.catchAll(begin<E>(services, settings, restore, services.db.config.maxConnections + 1), failed),
      ({ backendPid, conn, startedAt }) => {
        const info: TransactionInfo = {
          id,
          attempt,
          isolationLevel: config.isolationLevel,
          readOnly: config.readOnly,
          backendPid,
          startedAt: new Date(startedAt),
          depth: 0
        }
        const run = Effect.mapInputContext(
          restore(body),
          (context: Context.Context<never>) => inTransaction(context, conn, info, span) as Context.Context<R>
        )
        return Effect.ensuring(
          Effect.matchCauseEffect(run, {
            onSuccess: (value) => (control.expiry.expired ? abandon(conn, Exit.succeed(value)) : commit(conn, value)),
            onFailure: (cause) => abandon(conn, Exit.failCause(cause))
          }),
          Effect.sync(() => conn.release())
        )
      }
    )
  ) as Effect.Effect<A, AttemptFailure<E>, Exclude<R, CurrentTransaction | TransactionState>>
}
