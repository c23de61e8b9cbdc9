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
  /**
   * How many results in a row a new status needs before it is reported (callback and `changes`):
   * 2 or 3 keeps a one-off blip from paging anyone. Default 1: every change is reported at once.
   */
  readonly confirmations?: number
}

/**
 * The running monitor.
 *
 * @since 0.1.0
 */
export interface HealthMonitorService {
  /** The most recent result; `None` until the first check has finished. Never touches the database. */
  readonly latest: Effect.Effect<Option.Option<DatabaseHealthCheck>>
  /** The reported status's latest result, then every reported status change (see `confirmations`). */
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

/** Where the loop puts its results: every one, and the confirmed status's latest one. */
interface Sinks {
  readonly latest: SubscriptionRef.SubscriptionRef<Option.Option<DatabaseHealthCheck>>
  readonly reported: SubscriptionRef.SubscriptionRef<Option.Option<DatabaseHealthCheck>>
}

const makeSinks = Effect.all({
  latest: SubscriptionRef.make(Option.none<DatabaseHealthCheck>()),
  reported: SubscriptionRef.make(Option.none<DatabaseHealthCheck>())
})

const monitorLoop = (
  health: DatabaseHealth["Type"],
  thresholds: HealthThresholds | undefined,
  interval: Duration.Duration,
  sinks: Sinks,
  onStatusChange: StatusChangeCallback | undefined,
  confirmations: number
): Effect.Effect<never> => {
  // A new status is reported once it has been seen `confirmations` times in a row.
  let pending: { status: string; seen: number } | undefined
  return Effect.gen(function*() {
    const check = yield* health.check(thresholds)
    yield* SubscriptionRef.set(sinks.latest, Option.some(check))
    const reported = yield* SubscriptionRef.get(sinks.reported)
    if (Option.isSome(reported) && reported.value.status === check.status) {
      pending = undefined
      return yield* SubscriptionRef.set(sinks.reported, Option.some(check))
    }
    pending = pending?.status === check.status ? { status: check.status, seen: pending.seen + 1 } : { status: check.status, seen: 1 }
    if (Option.isSome(reported) && pending.seen < confirmations) return
    pending = undefined
    yield* SubscriptionRef.set(sinks.reported, Option.some(check))
    yield* Effect.logInfo("database health status").pipe(
      Effect.annotateLogs({
        status: check.status,
        previous: Option.match(reported, { onNone: () => "none", onSome: (p) => p.status }),
        message: check.message
      })
    )
    if (onStatusChange) yield* runCallback(onStatusChange, check)
  }).pipe(Effect.repeat(Schedule.spaced(interval)), Effect.zipRight(Effect.never))
}

const make = (options: HealthMonitorOptions): Effect.Effect<HealthMonitorService, HealthThresholdsError, DatabaseHealth | Scope.Scope> =>
  Effect.gen(function*() {
    const health = yield* DatabaseHealth
    const thresholds = options.thresholds === undefined ? undefined : yield* makeThresholds(options.thresholds)
    const sinks = yield* makeSinks
    const interval = Duration.decode(options.interval ?? "60 seconds")
    yield* Effect.forkScoped(
      monitorLoop(health, thresholds, interval, sinks, options.onStatusChange, Math.max(1, options.confirmations ?? 1))
    )
    return {
      latest: SubscriptionRef.get(sinks.latest),
      results: sinks.latest.changes.pipe(Stream.filterMap((o) => o)),
      changes: sinks.reported.changes.pipe(
        Stream.filterMap((o) => o),
        Stream.changesWith((a, b) => a.status === b.status)
      )
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
    const fiber = yield* Effect.forkScoped(
      monitorLoop(health, undefined, Duration.decode(interval), yield* makeSinks, onStatusChange, 1)
    )
    return Effect.asVoid(Fiber.interrupt(fiber))
  })
