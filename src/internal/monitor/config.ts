/**
 * The monitor's options: validated with the shared options validator (unknown keys named, with the
 * option they most likely meant), and the default `checkTimeout` derived from the health service.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"
import type { DatabaseHealthService } from "../health/model.js"
import { makeOptionsValidator, PositiveDuration } from "../schema.js"
import type { StatusChangeCallback } from "./loop.js"

export const MonitorConfig = Schema.Struct({
  interval: Schema.optionalWith(PositiveDuration, { default: () => Duration.seconds(60) }),
  checkTimeout: Schema.optional(PositiveDuration),
  // Validated (merged over the defaults) by makeThresholds, with its own typed error.
  thresholds: Schema.optional(Schema.Unknown),
  onStatusChange: Schema.optional(
    Schema.declare((u): u is StatusChangeCallback => typeof u === "function", { message: () => "must be a function" })
  ),
  confirmations: Schema.optionalWith(
    Schema.Number.pipe(
      Schema.filter((n) => Number.isInteger(n) && n >= 1 && n <= 1000, { message: () => "must be an integer from 1 to 1000" })
    ),
    { default: () => 1 }
  )
})

/** Validates the options: every problem, unknown keys first. */
export const validateOptions = makeOptionsValidator(MonitorConfig, { subject: "options" })

/**
 * The default `checkTimeout`: the longest a live check of the service can take, plus 1 s. A first
 * check runs, one after another, its first sample, the window, the probe (with the pooler's console
 * beside it) and the expensive pass, each bounded by `probeTimeout`, then the evidence queries
 * (bounded by 2 s or `probeTimeout`, the smaller). A service that does not say (a custom one): 15 s.
 */
export const defaultCheckTimeout = (health: DatabaseHealthService): Duration.Duration => {
  if (!Duration.isDuration(health.probeTimeout)) return Duration.seconds(15)
  const probe = health.probeTimeout
  const window = Duration.isDuration(health.firstCheckWindow) ? health.firstCheckWindow : Duration.zero
  const evidence = Duration.min(probe, Duration.seconds(2))
  return Duration.sum(Duration.sum(Duration.sum(Duration.times(probe, 3), window), evidence), Duration.seconds(1))
}

