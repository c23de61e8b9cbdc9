/**
 * `pg-resilience health`: one check, as a table or JSON, with a monitoring exit code.
 *
 * @internal
 */
import { Command, Options } from "@effect/cli"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Health from "../Health.js"
import { exitCodeOf } from "./errors.js"
import { colours, renderCheck } from "./render.js"
import { healthLayer, probeTimeoutOption, resolveTarget, urlOption } from "./target.js"
import { loadThresholds, thresholdsOption } from "./thresholds.js"

const json = Options.boolean("json").pipe(Options.withDescription("print the DatabaseHealthCheck as JSON"))

export const healthCommand = Command.make(
  "health",
  { url: urlOption, json, thresholds: thresholdsOption, probeTimeout: probeTimeoutOption },
  ({ json, probeTimeout, thresholds, url }) =>
    Effect.gen(function*() {
      const custom = yield* loadThresholds(thresholds)
      const target = yield* resolveTarget(url)
      const check = yield* Health.performHealthCheck().pipe(Effect.provide(healthLayer(target, probeTimeout, custom)))
      yield* Console.log(
        json
          ? JSON.stringify(check, null, 2)
          : renderCheck(check, target.label, colours(process.stdout.isTTY === true && !process.env.NO_COLOR))
      )
      process.exitCode = exitCodeOf(check.status)
    }).pipe(Effect.scoped)
).pipe(
  Command.withDescription(
    "Check the database once. Exit code: 0 HEALTHY, 1 DEGRADED, 2 UNHEALTHY or CRITICAL, 3 the check could not run."
  )
)
