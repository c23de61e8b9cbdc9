/**
 * `pg-resilience health`: one check, as a table or JSON, with a monitoring exit code. The first
 * check takes two samples `--window` apart, so it judges what happens now, not history.
 *
 * @internal
 */
import { Command, Options } from "@effect/cli"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Health from "../Health.js"
import { exitCodeOf } from "./errors.js"
import {
  expectedReplicasOption,
  healthLayer,
  poolerAdminUrlOf,
  poolerAdminUrlOption,
  windowOption
} from "./healthOptions.js"
import { colourEnabled } from "../internal/ansi.js"
import { cliJson, colours, renderCheck } from "./render.js"
import { embeddedOption, probeTimeoutOption, resolveTarget, urlOption } from "./target.js"
import { loadThresholds, thresholdsOption } from "./thresholds.js"

const json = Options.boolean("json").pipe(Options.withDescription("print the DatabaseHealthCheck as JSON"))

export const healthCommand = Command.make(
  "health",
  {
    url: urlOption,
    embedded: embeddedOption,
    json,
    thresholds: thresholdsOption,
    probeTimeout: probeTimeoutOption,
    window: windowOption,
    expectedReplicas: expectedReplicasOption,
    poolerAdminUrl: poolerAdminUrlOption
  },
  ({ embedded, expectedReplicas, json, poolerAdminUrl, probeTimeout, thresholds, url, window }) =>
    Effect.gen(function*() {
      const custom = yield* loadThresholds(thresholds)
      const target = yield* resolveTarget({ url, embedded })
      const check = yield* Health.performHealthCheck().pipe(
        Effect.provide(healthLayer(target, {
          probeTimeoutMillis: probeTimeout,
          thresholds: custom,
          window,
          expectedReplicas,
          poolerAdminUrl: poolerAdminUrlOf(poolerAdminUrl)
        }))
      )
      yield* Console.log(
        json
          ? JSON.stringify(cliJson(check), null, 2)
          : renderCheck(check, target.label, colours(colourEnabled(process.stdout)))
      )
      process.exitCode = exitCodeOf(check.status)
    }).pipe(Effect.scoped)
).pipe(
  Command.withDescription(
    "Check the database (--url, else DATABASE_URL; --embedded to try the tool) once, over two samples --window apart. " +
      "Exit code: 0 HEALTHY, 1 DEGRADED, 2 UNHEALTHY or CRITICAL, 3 UNKNOWN (a figure that counts could not be assessed, " +
      "e.g. sessions hidden from the role) or the check could not run (no database given, bad flags or URL, embedded server did not start)."
  )
)
