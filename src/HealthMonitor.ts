/**
 * Periodic health checks as a scoped fiber.
 *
 * Why: a service forks the monitor when its layer is built and forgets it; the fiber dies with the
 * scope, the latest result is always at hand (for a readiness endpoint that must not wait on the
 * database), and status changes arrive as a callback or a `Stream`.
 *
 * @since 0.1.0
 * @category models
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import {
  DatabaseHealth,
  type DatabaseHealthCheck,
  type HealthThresholdsError,
  type HealthThresholdsInput,
  makeThresholds
} from "./Health.js"
import * as config_ from "./internal/monitor/config.js"
import * as loop from "./internal/monitor/loop.js"

/**
 * Called with the first result and then with each result whose status differs from the previous
 * one. May return nothing, a Promise or an Effect; a failure is logged and the monitor goes on.
 *
 * @since 0.1.0
 * @category models
 */
export type StatusChangeCallback = loop.StatusChangeCallback

/**
 * @since 0.1.0
 * @category models
 */
export interface HealthMonitorOptions {
  /** Time between the end of one check and the start of the next (default 60 s). */
  readonly interval?: Duration.DurationInput | undefined
  /**
   * Longest wait for one check (default: the longest a live check of the health service can take,
   * 3 × `probeTimeout` + `firstCheckWindow` + the evidence queries' 2 s, plus 1 s: 19 s with the
   * defaults; 15 s for a service that does not say). A check that takes
   * longer is abandoned and the tick reports CRITICAL ("did not finish within ..."), so that a
   * hung check never leaves `latest` stale.
   */
  readonly checkTimeout?: Duration.DurationInput | undefined
  /** Thresholds of every check (default: the health service's). */
  readonly thresholds?: HealthThresholdsInput | undefined
  readonly onStatusChange?: StatusChangeCallback | undefined
  /**
   * How many results in a row a new status needs before it is reported (callback and `changes`):
   * 2 or 3 keeps a one-off blip from paging anyone. Default 1: every change is reported at once.
   */
  readonly confirmations?: number | undefined
}

/**
 * Invalid monitor options (an unknown key, a duration that is not one, `confirmations` out of
 * range), rejected when the layer is built. Why: a typo such as `intervall` must not silently
 * leave the default in force.
 *
 * @since 0.1.0
 * @category errors
 */
export class HealthMonitorConfigError extends Schema.TaggedError<HealthMonitorConfigError>()(
  "HealthMonitorConfigError",
  { field: Schema.String, reason: Schema.String }
) {
  override get message(): string {
    return `Invalid health monitor options: ${this.field} ${this.reason}`
  }
}

/**
 * The running monitor.
 *
 * @since 0.1.0
 * @category models
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
 * @category tags
 */
export class HealthMonitor extends Context.Tag("effect-pg-resilience/HealthMonitor")<
  HealthMonitor,
  HealthMonitorService
>() {
  /**
   * Same as the module's `layer`.
   *
   * @deprecated since 0.2.0: use `HealthMonitor.layer` (the module's), as every other module's layers.
   */
  static readonly layer = (
    options: HealthMonitorOptions = {}
  ): Layer.Layer<HealthMonitor, HealthMonitorConfigError | HealthThresholdsError, DatabaseHealth> => layer(options)
}

/**
 * Forks the periodic check when the layer is built; closing the layer's scope interrupts it.
 * Invalid options fail the layer with `HealthMonitorConfigError` or `HealthThresholdsError`.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (
  options: HealthMonitorOptions = {}
): Layer.Layer<HealthMonitor, HealthMonitorConfigError | HealthThresholdsError, DatabaseHealth> =>
  Layer.scoped(HealthMonitor, make(options))

/** The options, validated; the first problem (unknown keys first) becomes the typed error. */
const validate = (options: unknown) =>
  Either.mapLeft(config_.validateOptions(options), (issues) => new HealthMonitorConfigError(issues[0]))

const make = (
  options: HealthMonitorOptions
): Effect.Effect<HealthMonitorService, HealthMonitorConfigError | HealthThresholdsError, DatabaseHealth | Scope.Scope> =>
  Effect.gen(function*() {
    const config = yield* validate(options)
    const health = yield* DatabaseHealth
    const thresholds = config.thresholds === undefined ? undefined : yield* makeThresholds(config.thresholds)
    const sinks = yield* loop.makeSinks
    yield* Effect.forkScoped(
      loop.monitorLoop(health, sinks, {
        thresholds,
        interval: config.interval,
        checkTimeout: config.checkTimeout ?? config_.defaultCheckTimeout(health),
        onStatusChange: config.onStatusChange,
        confirmations: config.confirmations
      })
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
 * stops it (closing the scope stops it too). Each check is bounded and survives failures as in
 * `HealthMonitor.layer` (default `checkTimeout`). It keeps the seed's signature, so an invalid
 * interval is a defect (`HealthMonitorConfigError`); `HealthMonitor.layer` fails with it instead.
 *
 * @since 0.1.0
 * @category constructors
 */
export const scheduleHealthChecks = (
  interval: Duration.DurationInput = "60 seconds",
  onStatusChange?: StatusChangeCallback
): Effect.Effect<Effect.Effect<void>, never, DatabaseHealth | Scope.Scope> =>
  Effect.gen(function*() {
    const config = yield* Effect.orDie(validate(onStatusChange ? { interval, onStatusChange } : { interval }))
    const health = yield* DatabaseHealth
    const fiber = yield* Effect.forkScoped(
      loop.monitorLoop(health, yield* loop.makeSinks, {
        thresholds: undefined,
        interval: config.interval,
        checkTimeout: config_.defaultCheckTimeout(health),
        onStatusChange,
        confirmations: 1
      })
    )
    return Effect.asVoid(Fiber.interrupt(fiber))
  })
