/**
 * A transaction call: validated options, then either a savepoint (inside another transaction) or
 * the outermost call: attempts retried by their schedule within one deadline, one span, metrics.
 *
 * @internal
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import type * as Tracer from "effect/Tracer"
import { randomUUID } from "node:crypto"
import type { Refined } from "../../Classify.js"
import { Database } from "../../Database.js"
import { isDatabaseError, TransactionTimeout } from "../../Errors.js"
import type { PgConnection } from "../pgConnection.js"
import { type AttemptFailure, type CallServices, type CallSettings, classifyOptionsOf, runAttempt } from "./attempt.js"
import { type TransactionConfig, type TransactionConfigInput, validateConfig } from "./config.js"
import type { CurrentTransaction } from "./context.js"
import { TransactionState } from "./state.js"
import { startDeadline } from "./deadline.js"
import { metrics } from "./metrics.js"
import { recordRetry, type RetryPolicy, retrySchedule } from "./retry.js"
import { savepoint } from "./savepoint.js"

type Requirements<R> = Database | Exclude<R, CurrentTransaction | TransactionState>

export const run = <A, E, R>(
  body: Effect.Effect<A, E, R>,
  input: TransactionConfigInput,
  policy: RetryPolicy
): Effect.Effect<A, Refined<E>, Requirements<R>> =>
  Effect.contextWithEffect((context: Context.Context<Database>) => {
    const config = validateConfig(input)
    // Options written in the program are the programmer's: an invalid one is a defect (configuration
    // read at runtime goes through `Transaction.makeConfig`, whose failure is typed).
    if (Either.isLeft(config)) return Effect.die(config.left)
    const state = Context.getOption(context, TransactionState)
    if (Option.isSome(state)) {
      return savepoint(body, input, state.value.conn, state.value.info, state.value.info.depth)
    }
    const foreign = Context.getOption(context, SqlClient.TransactionConnection)
    if (Option.isSome(foreign)) {
      // Inside a plain `sql.withTransaction`: join it as a savepoint.
      const [conn, depth] = foreign.value
      return savepoint(body, input, conn as PgConnection, undefined, depth)
    }
    return outermost(body, config.right, policy, {
      db: Context.get(context, Database),
      options: classifyOptionsOf(context as Context.Context<never>)
    })
  }) as Effect.Effect<A, Refined<E>, Requirements<R>>

/** A server-side limit that fired: past our deadline, it is our deadline all the same. */
const isServerTimeout = (error: unknown) =>
  isDatabaseError(error) &&
  (error._tag === "QueryTimeout" || error.sqlState === "25P04" || error.sqlState === "25P03" || error.sqlState === "57014")

const withAttempts = <E>(cause: Cause.Cause<E>, attempts: number): Cause.Cause<E> =>
  Cause.map(cause, (error) =>
    isDatabaseError(error)
      ? Object.assign(Object.create(Object.getPrototypeOf(error)), error, { attempts }) as E
      : error)

/** The log line and span attributes of a call's final failure, and the failure with its attempt count. */
const finalFailure = <E>(
  failure: AttemptFailure<E>,
  id: string,
  attempts: number,
  span: Tracer.Span
): Effect.Effect<never, Refined<E>> => {
  span.attribute("db.transaction.phase", failure.phase)
  const error = Option.getOrUndefined(Cause.failureOption(failure.cause))
  const cause = withAttempts(failure.cause, attempts)
  if (!isDatabaseError(error)) return Effect.failCause(cause)
  span.attribute("db.response.status_code", error.sqlState ?? "none")
  return Effect.zipRight(
    Effect.logDebug("transaction failed").pipe(
      Effect.annotateLogs({
        transactionId: id,
        attempts,
        tag: error._tag,
        category: error.category,
        recoveryAction: error.recoveryAction,
        sqlState: error.sqlState ?? "none"
      })
    ),
    Effect.failCause(cause)
  )
}

const spanOptions = (config: TransactionConfig): Tracer.SpanOptions => ({
  kind: "client",
  captureStackTrace: false,
  attributes: {
    "db.system.name": "postgresql",
    "db.transaction.isolation_level": config.isolationLevel,
    "db.transaction.read_only": config.readOnly
  }
})

const outermost = <A, E, R>(
  body: Effect.Effect<A, E, R>,
  config: TransactionConfig,
  policy: RetryPolicy,
  services: CallServices
): Effect.Effect<A, Refined<E>, Exclude<R, CurrentTransaction | TransactionState>> =>
  Effect.useSpan("pg.transaction", spanOptions(config), (span) =>
    Effect.withFiberRuntime((fiber) => {
      const id = randomUUID()
      span.attribute("db.transaction.id", id)
      const started = Date.now()
      const timeoutMillis = Duration.toMillis(config.timeout)
      const control = startDeadline(timeoutMillis)
      const settings: CallSettings = {
        config,
        id,
        control,
        span,
        metricTags: fiber.getFiberRef(FiberRef.currentMetricLabels)
      }
      let attempt = 0
      const deadlineError = (cause: unknown): Refined<E> =>
        new TransactionTimeout({
          timeout: config.timeout,
          attempts: attempt,
          technicalMessage: `transaction ${id} exceeded its ${timeoutMillis} ms deadline during attempt ${attempt}`,
          cause
        }) as Refined<E>

      const once = Effect.suspend(() => runAttempt(body, services, settings, ++attempt))
      // The retry machinery is set up only once an attempt has failed: the first failure is replayed
      // into Effect.retry, so the schedule sees every failure, and a first success costs nothing.
      const retried = (first: AttemptFailure<E>) => {
        let replayed = false
        const again = Effect.suspend(() => {
          if (replayed) return once
          replayed = true
          return Effect.fail(first)
        })
        return Effect.retry(again, retrySchedule<E>(config, policy, control.deadline, recordRetry(id, () => attempt, span)))
      }
      const finish = (failure: AttemptFailure<E>): Effect.Effect<never, Refined<E>> => {
        const error = Cause.failureOption(failure.cause)
        // Stopped by the deadline, or the server's backstop fired past it: a TransactionTimeout.
        const timedOut = failure.pastDeadline ||
          (failure.phase !== "commit" && Option.isSome(error) && Date.now() >= control.deadline &&
            isServerTimeout(error.value))
        if (!timedOut) return finalFailure(failure, id, attempt, span)
        metrics.timeouts.unsafeUpdate(1, settings.metricTags)
        return Effect.zipRight(
          Effect.logDebug("transaction exceeded its deadline and was rolled back").pipe(
            Effect.annotateLogs({ transactionId: id, attempts: attempt, timeoutMillis })
          ),
          Effect.fail(deadlineError(Option.getOrUndefined(error)))
        )
      }
      return Effect.ensuring(
        Effect.catchAll(once, (first) => Effect.catchAll(retried(first), finish)),
        // Every outcome counts (success, failure, timeout, interruption).
        Effect.sync(() => {
          control.clear()
          span.attribute("db.transaction.attempts", attempt)
          metrics.duration.unsafeUpdate(Duration.millis(Date.now() - started), settings.metricTags)
        })
      )
    }))
