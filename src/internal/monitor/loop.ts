/**
 * The monitor's loop: a bounded check every interval, every result published, a new status reported
 * (log line, callback, `changes`) once it has been seen `confirmations` times in a row, and a
 * CRITICAL stand-in for a check that failed, hung or crashed. The loop outlives every tick.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { recordGauges } from "../health/gauges.js"
import type { DatabaseHealthCheck, DatabaseHealthService } from "../health/model.js"
import { failedHealthCheck } from "../health/standIns.js"
import { defaultThresholds, HealthThresholds } from "../health/thresholds.js"
import { describeCause, isHealthCheck, runBounded } from "./bounded.js"

/** See `HealthMonitor.StatusChangeCallback`. */
export type StatusChangeCallback = (
  check: DatabaseHealthCheck
) => void | Promise<unknown> | Effect.Effect<unknown, unknown>

const runCallback = (callback: StatusChangeCallback, check: DatabaseHealthCheck): Effect.Effect<void> =>
  Effect.suspend(() => {
    const result = callback(check)
    if (Effect.isEffect(result)) return Effect.asVoid(result)
    if (result instanceof Promise) return Effect.tryPromise(() => result)
    return Effect.void
  }).pipe(
    Effect.catchAllCause((cause) =>
      Effect.logWarning("health status callback failed; the monitor goes on").pipe(
        Effect.annotateLogs({ status: check.status, error: describeCause(cause) })
      )
    ),
    Effect.asVoid
  )

/** Where the loop puts its results: every one, and the confirmed status's latest one. */
export interface Sinks {
  readonly latest: SubscriptionRef.SubscriptionRef<Option.Option<DatabaseHealthCheck>>
  readonly reported: SubscriptionRef.SubscriptionRef<Option.Option<DatabaseHealthCheck>>
}

export const makeSinks = Effect.all({
  latest: SubscriptionRef.make(Option.none<DatabaseHealthCheck>()),
  reported: SubscriptionRef.make(Option.none<DatabaseHealthCheck>())
})

export interface LoopSettings {
  readonly thresholds: HealthThresholds | undefined
  readonly interval: Duration.Duration
  readonly checkTimeout: Duration.Duration
  readonly onStatusChange: StatusChangeCallback | undefined
  readonly confirmations: number
}

export const monitorLoop = (health: DatabaseHealthService, sinks: Sinks, settings: LoopSettings): Effect.Effect<never> => {
  const { checkTimeout, confirmations, onStatusChange, thresholds } = settings
  // A new status is reported once it has been seen `confirmations` times in a row.
  let pending: { status: string; seen: number } | undefined

  // Every result, measured or standing in for a failed check, takes this one path.
  const publish = (check: DatabaseHealthCheck) =>
    Effect.gen(function*() {
      yield* SubscriptionRef.set(sinks.latest, Option.some(check))
      const reported = yield* SubscriptionRef.get(sinks.reported)
      if (Option.isSome(reported) && reported.value.status === check.status) {
        pending = undefined
        return yield* SubscriptionRef.set(sinks.reported, Option.some(check))
      }
      pending = pending?.status === check.status
        ? { status: check.status, seen: pending.seen + 1 }
        : { status: check.status, seen: 1 }
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
    })

  // The CRITICAL stand-in for a check that failed: logged once, with the service's thresholds.
  const failed = (failure: "timeout" | "failure" | "defect" | "invalid result", reason: string) =>
    Effect.gen(function*() {
      const log = failure === "timeout" ? Effect.logWarning : Effect.logError
      yield* log("database health check failed; the monitor reports CRITICAL and goes on").pipe(
        Effect.annotateLogs({ failure, reason, checkTimeout: Duration.format(checkTimeout) })
      )
      const t = thresholds ?? health.thresholds
      const now = yield* Clock.currentTimeMillis
      const check = failedHealthCheck(reason, Schema.is(HealthThresholds)(t) ? t : defaultThresholds, new Date(now))
      yield* recordGauges(check)
      return check
    })

  const tick = Effect.gen(function*() {
    const done = yield* runBounded(() => health.check(thresholds), checkTimeout)
    const check = yield* Option.match(done, {
      onNone: () => failed("timeout", `it did not finish within ${Duration.format(checkTimeout)}`),
      onSome: Exit.match({
        onSuccess: (value): Effect.Effect<DatabaseHealthCheck> =>
          isHealthCheck(value) ? Effect.succeed(value) : failed("invalid result", "it returned no valid result"),
        onFailure: (cause) =>
          Option.isSome(Cause.failureOption(cause))
            ? failed("failure", `it failed: ${describeCause(cause)}`)
            : Cause.isInterruptedOnly(cause)
            ? failed("defect", "it was interrupted")
            : failed("defect", `it crashed: ${describeCause(cause)}`)
      })
    })
    yield* publish(check)
  }).pipe(
    // Backstop: nothing above should fail, but the loop must outlive any tick. (The monitor's
    // own interruption is never caught here: it stops the loop.)
    Effect.catchAllCause((cause) =>
      Effect.logError("health monitor tick failed; the monitor goes on").pipe(
        Effect.annotateLogs({ reason: describeCause(cause) })
      )
    )
  )

  return tick.pipe(Effect.repeat(Schedule.spaced(settings.interval)), Effect.zipRight(Effect.never))
}

