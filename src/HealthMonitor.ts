/**
 * Periodic health checks as a scoped fiber.
 *
 * Why: a service forks the monitor when its layer is built and forgets it; the fiber dies with the
 * scope, the latest result is always at hand (for a readiness endpoint that must not wait on the
 * database), and status changes arrive as a callback or a `Stream`.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import {
  DatabaseHealth,
  type DatabaseHealthCheck,
  type HealthThresholds,
  type HealthThresholdsError,
  type HealthThresholdsInput,
  makeThresholds
} from "./Health.js"

/**
 * Called with the first result and then with each result whose status differs from the previous
 * one. May return nothing, a Promise or an Effect; a failure is logged and the monitor goes on.
 *
 * @since 0.1.0
 */
export type StatusChangeCallback = (
  check: DatabaseHealthCheck
) => void | Promise<unknown> | Effect.Effect<unknown, unknown>

/**
 * @since 0.1.0
 */
export interface HealthMonitorOptions {
  /** Time between the end of one check and the start of the next (default 60 s). */
  readonly interval?: Duration.DurationInput
  /** Thresholds of every check (default: the health service's). */
  readonly thresholds?: HealthThresholdsInput
  readonly onStatusChange?: StatusChangeCallback
}

/**
 * The running monitor.
 *
 * @since 0.1.0
 */
export interface HealthMonitorService {
  /** The most recent result; `None` until the first check has finished. Never touches the database. */
  readonly latest: Effect.Effect<Option.Option<DatabaseHealthCheck>>
  /** The latest result (when there is one), then every result whose status changed. */
  readonly changes: Stream.Stream<DatabaseHealthCheck>
  /** Every result as it arrives. */
  readonly results: Stream.Stream<DatabaseHealthCheck>
}

/**
 * The monitor service.
 *
 * @since 0.1.0
 */
export class HealthMonitor extends Context.Tag("effect-pg-resilience/HealthMonitor")<
  HealthMonitor,
  HealthMonitorService
>() {
  /**
   * Forks the periodic check when the layer is built; closing the layer's scope interrupts it.
   */
  static readonly layer = (
    options: HealthMonitorOptions = {}
  ): Layer.Layer<HealthMonitor, HealthThresholdsError, DatabaseHealth> => Layer.scoped(HealthMonitor, make(options))
}

const runCallback = (callback: StatusChangeCallback, check: DatabaseHealthCheck): Effect.Effect<void> =>
  Effect.suspend(() => {
    const result = callback(check)
    if (Effect.isEffect(result)) return Effect.asVoid(result)
    if (result instanceof Promise) return Effect.tryPromise(() => result)
    return Effect.void
  }).pipe(
    Effect.catchAllCause((cause) =>
      Effect.logWarning("health status callback failed; the monitor goes on").pipe(
        Effect.annotateLogs({ status: check.status, error: Cause.pretty(cause).split("\n")[0] ?? "" })
      )
    ),
    Effect.asVoid
  )

const monitorLoop = (
  health: DatabaseHealth["Type"],
  thresholds: HealthThresholds | undefined,
  interval: Duration.Duration,
  latest: SubscriptionRef.SubscriptionRef<Option.Option<DatabaseHealthCheck>>,
  onStatusChange: StatusChangeCallback | undefined
): Effect.Effect<never> =>
  Effect.gen(function*() {
    const check = yield* health.check(thresholds)
    const previous = yield* SubscriptionRef.getAndSet(latest, Option.some(check))
    const changed = Option.match(previous, { onNone: () => true, onSome: (p) => p.status !== check.status })
    if (changed) {
      yield* Effect.logInfo("database health status").pipe(
        Effect.annotateLogs({
          status: check.status,
          previous: Option.match(previous, { onNone: () => "none", onSome: (p) => p.status }),
          message: check.message
        })
      )
      if (onStatusChange) yield* runCallback(onStatusChange, check)
    }
  }).pipe(Effect.repeat(Schedule.spaced(interval)), Effect.zipRight(Effect.never))

const make = (options: HealthMonitorOptions): Effect.Effect<HealthMonitorService, HealthThresholdsError, DatabaseHealth | Scope.Scope> =>
  Effect.gen(function*() {
    const health = yield* DatabaseHealth
    const thresholds = options.thresholds === undefined ? undefined : yield* makeThresholds(options.thresholds)
    const latest = yield* SubscriptionRef.make(Option.none<DatabaseHealthCheck>())
    const interval = Duration.decode(options.interval ?? "60 seconds")
    yield* Effect.forkScoped(monitorLoop(health, thresholds, interval, latest, options.onStatusChange))
    const results = latest.changes.pipe(Stream.filterMap((o) => o))
    return {
      latest: SubscriptionRef.get(latest),
      results,
      changes: results.pipe(Stream.changesWith((a, b) => a.status === b.status))
    }
  })

/**
 * The seed's `scheduleHealthChecks`: checks every `interval` (default 60 s) in the current scope and
 * calls `onStatusChange` on the first result and on every status change. Returns the effect that
 * stops it (closing the scope stops it too).
 *
 * @since 0.1.0
 */
export const scheduleHealthChecks = (
  interval: Duration.DurationInput = "60 seconds",
  onStatusChange?: StatusChangeCallback
): Effect.Effect<Effect.Effect<void>, never, DatabaseHealth | Scope.Scope> =>
  Effect.gen(function*() {
    const health = yield* DatabaseHealth
    const latest = yield* SubscriptionRef.make(Option.none<DatabaseHealthCheck>())
    const fiber = yield* Effect.forkScoped(
      monitorLoop(health, undefined, Duration.decode(interval), latest, onStatusChange)
    )
    return Effect.asVoid(Fiber.interrupt(fiber))
  })
