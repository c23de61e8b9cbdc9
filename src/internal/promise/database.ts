/**
 * `createDatabase`: the library's own layers (pool, health) in one `ManagedRuntime`, and Promise
 * functions that run the same engine in it. Nothing here is a second implementation: a transaction
 * is `Transaction.withTransaction` around a body that calls the caller's function; a health check is
 * `Health.performHealthCheck`; a schedule is `HealthMonitor.scheduleHealthChecks`.
 *
 * @internal
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { refineErrors } from "../../Classify.js"
import * as Database from "../../Database.js"
import { TransactionTimeout } from "../../Errors.js"
import * as Health from "../../Health.js"
import * as HealthMonitor from "../../HealthMonitor.js"
import * as Transaction from "../../Transaction.js"
import type { MonitoredServices, PromiseDatabase, Row, Services, TransactionContext, TransactionOptions } from "../../promise.js"
import { body, type CallState } from "./attempt.js"
import { DatabaseClosedError, DeadlinePassed, thrown } from "./errors.js"
import { validateDatabaseOptions, validateSchedule, validateTransactionOptions } from "./options.js"

const interruptedError = () => new DOMException("The operation was interrupted", "AbortError")

export const make = (options: unknown): PromiseDatabase<any> => {
  const settings = validateDatabaseOptions(options)
  if (Either.isLeft(settings)) throw settings.left
  const { database, health, monitor } = settings.right
  const services = Layer.provideMerge(Health.layer(health), Database.layer(database)).pipe(Layer.orDie)
  // With `healthMonitor`, one monitor for Effect code and for `scheduleHealthChecks` alike.
  const layer: Layer.Layer<MonitoredServices> = monitor === undefined
    ? services as Layer.Layer<MonitoredServices>
    : Layer.provideMerge(HealthMonitor.layer(monitor).pipe(Layer.orDie), services)
  const runtime = ManagedRuntime.make(layer)

  let closed = false
  let closing: Promise<void> | undefined
  let running = 0
  let drained: (() => void) | undefined
  const schedules = new Set<() => Promise<void>>()
  // Calls with no deadline of their own (`query`): `close()` cancels them rather than wait.
  const cancelledOnClose = new Set<Fiber.RuntimeFiber<unknown, unknown>>()
  const finished = () => {
    running--
    if (running === 0 && drained) drained()
  }

  /**
   * Runs `effect` in the runtime as a Promise. `signal` interrupts it while `interruptible()` says so;
   * `onFailure` turns a failed exit into the value thrown.
   */
  const run = <A, E>(
    operation: string,
    effect: Effect.Effect<A, E, Services>,
    signal: AbortSignal | undefined,
    onFailure: (cause: Cause.Cause<E>) => unknown,
    interruptible: () => boolean = () => true,
    onClose: "wait" | "cancel" = "wait"
  ): Promise<A> => {
    if (signal?.aborted) return Promise.reject(signal.reason)
    if (closed) return Promise.reject(new DatabaseClosedError({ operation }))
    running++
    return new Promise<A>((resolve, reject) => {
      const fiber = runtime.runFork(effect)
      if (onClose === "cancel") {
        cancelledOnClose.add(fiber)
        fiber.addObserver(() => cancelledOnClose.delete(fiber))
      }
      let onAbort: (() => void) | undefined
      if (signal) {
        onAbort = () => {
          if (interruptible()) fiber.unsafeInterruptAsFork(FiberId.none)
        }
        signal.addEventListener("abort", onAbort, { once: true })
      }
      fiber.addObserver((exit) => {
        if (onAbort) signal!.removeEventListener("abort", onAbort)
        finished()
        if (Exit.isSuccess(exit)) resolve(exit.value)
        else reject(onFailure(exit.cause))
      })
    })
  }

  const onInterrupt = (signal: AbortSignal | undefined) => () =>
    signal?.aborted ? signal.reason : interruptedError()

  const transaction = (policy: Transaction.TransactionCombinator, operation: string) =>
  <A>(fn: (ctx: TransactionContext) => Promise<A> | A, options?: TransactionOptions): Promise<A> => {
    if (typeof fn !== "function") {
      return Promise.reject(new Transaction.TransactionConfigError({ field: "fn", reason: "must be a function" }))
    }
    const validated = validateTransactionOptions(options)
    if (Either.isLeft(validated)) return Promise.reject(validated.left)
    const { config, engine, signal } = validated.right
    const call: CallState = {
      timeoutMillis: Duration.toMillis(config.timeout),
      callerSignal: signal,
      deadlineAt: undefined,
      attempts: 0,
      committing: false
    }
    return run(
      operation,
      policy(body(fn, call), engine),
      signal,
      (cause) => {
        const error = thrown(cause, onInterrupt(signal))
        // The body's own deadline fired before the engine's timer: the same deadline all the same.
        return error instanceof DeadlinePassed
          ? new TransactionTimeout({
            timeout: config.timeout,
            attempts: call.attempts,
            technicalMessage: `transaction exceeded its ${call.timeoutMillis} ms deadline during attempt ${call.attempts}`,
            cause: undefined
          })
          : error
      },
      () => !call.committing
    )
  }

  const performHealthCheck = (thresholds?: Health.HealthThresholdsInput) =>
    run(
      "performHealthCheck",
      thresholds === undefined ? Health.performHealthCheck() : Health.performHealthCheck(thresholds),
      undefined,
      (cause) => thrown(cause, interruptedError)
    )

  const scheduleHealthChecks = (
    intervalMs?: number,
    onStatusChange?: (check: Health.DatabaseHealthCheck) => unknown
  ): () => Promise<void> => {
    const interval = validateSchedule(intervalMs, onStatusChange)
    if (Either.isLeft(interval)) throw interval.left
    if (closed) throw new DatabaseClosedError({ operation: "scheduleHealthChecks" })
    const scope = Effect.runSync(Scope.make())
    let stopped = false
    const callback = onStatusChange &&
      ((check: Health.DatabaseHealthCheck) => (stopped ? undefined : onStatusChange(check) as void | Promise<unknown>))
    // The shared monitor when there is one and the interval is its own: its first result and each
    // change; otherwise a schedule of its own.
    const shared = monitor !== undefined && (intervalMs === undefined || Duration.equals(interval.right, monitor.interval))
    const started = runtime.runFork(
      shared
        ? Effect.flatMap(HealthMonitor.HealthMonitor, (m) =>
          Stream.runForEach(m.results, (check) =>
            callback === undefined ? Effect.void : Effect.promise(async () => {
              await callback(check)
            }).pipe(Effect.catchAllDefect(() => Effect.void))).pipe(Effect.as(Effect.void)))
        : Scope.extend(HealthMonitor.scheduleHealthChecks(interval.right, callback), scope)
    )
    let stopping: Promise<void> | undefined
    const stop = () => {
      stopped = true
      schedules.delete(stop)
      return (stopping ??= Effect.runPromise(Effect.zipRight(Fiber.interrupt(started), Scope.close(scope, Exit.void))))
    }
    schedules.add(stop)
    return stop
  }

  const close = (): Promise<void> =>
    (closing ??= (async () => {
      closed = true
      for (const fiber of cancelledOnClose) fiber.unsafeInterruptAsFork(FiberId.none)
      await Promise.all([...schedules].map((stop) => stop()))
      if (running > 0) await new Promise<void>((resolve) => (drained = resolve))
      await runtime.dispose()
    })())

  const context = Effect.suspend(() =>
    closed ? Effect.die(new DatabaseClosedError({ operation: "layer" })) : runtime.runtimeEffect
  ).pipe(Effect.map((rt) => rt.context))

  return {
    withTransaction: transaction(Transaction.withTransaction, "withTransaction"),
    withTransactionRetry: transaction(Transaction.withTransactionRetry, "withTransactionRetry"),
    query: <A extends object = Row>(
      text: string,
      params?: ReadonlyArray<unknown>,
      options?: { readonly signal?: AbortSignal | undefined }
    ) =>
      run(
        "query",
        refineErrors(Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe<A>(text, params))),
        options?.signal,
        (cause) =>
          thrown(cause, () =>
            closed && !options?.signal?.aborted
              ? new DatabaseClosedError({ operation: "query" })
              : onInterrupt(options?.signal)()),
        undefined,
        "cancel"
      ),
    performHealthCheck,
    scheduleHealthChecks,
    poolStats: () =>
      run("poolStats", Effect.flatMap(Database.Database, (db) => db.poolStats), undefined, (cause) =>
        thrown(cause, interruptedError)),
    close,
    layer: Layer.effectContext(context),
    runtime
  }
}
