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
 * The default `checkTimeout`: room for the probe, the expensive pass, the first check's window, the
 * evidence queries (2 s) and one check ahead of it.
 */
export const defaultCheckTimeout = (health: DatabaseHealthService): Duration.Duration => {
  const probe = Duration.isDuration(health.probeTimeout) ? health.probeTimeout : Duration.seconds(5)
  const window = Duration.isDuration(health.firstCheckWindow) ? health.firstCheckWindow : Duration.zero
  return Duration.sum(Duration.sum(Duration.times(probe, 2), window), Duration.seconds(5))
}

