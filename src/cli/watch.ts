/**
 * `pg-resilience watch`: the check again and again; redrawn in place in a terminal, one line per
 * check elsewhere; every status change highlighted with its time.
 *
 * @internal
 */
import { Command, Options } from "@effect/cli"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Health from "../Health.js"
import { durationOption, invalid } from "./duration.js"
import { colourEnabled } from "./console.js"
import { colours, paintStatus, renderCheck, renderLine } from "./render.js"
import { expectedReplicasOption, healthLayer } from "./healthOptions.js"
import { embeddedOption, probeTimeoutOption, resolveTarget, urlOption } from "./target.js"
import { loadThresholds, thresholdsOption } from "./thresholds.js"

const interval = durationOption("interval", { description: "time between checks", default: "5s", max: "1 day" })
const count = Options.text("count").pipe(
  Options.withPseudoName("integer"),
  Options.withDescription("stop after this many checks (default: run until interrupted)"),
  Options.mapEffect((text) => {
    const n = /^\s*[-+]?\d+\s*$/.test(text) ? Number(text) : Number.NaN
    return Number.isSafeInteger(n) && n >= 1 ? Effect.succeed(n) : invalid(`--count ${text} must be an integer of at least 1`)
  }),
  Options.optional
)

export const watchCommand = Command.make(
  "watch",
  {
    url: urlOption,
    embedded: embeddedOption,
    interval,
    count,
    thresholds: thresholdsOption,
    probeTimeout: probeTimeoutOption,
    expectedReplicas: expectedReplicasOption
  },
  ({ count, embedded, expectedReplicas, interval, probeTimeout, thresholds, url }) =>
    Effect.gen(function*() {
      const every = interval
      const custom = yield* loadThresholds(thresholds)
      const target = yield* resolveTarget({ url, embedded })
      const tty = process.stdout.isTTY === true
      const c = colours(colourEnabled(process.stdout))
      const changes: Array<string> = []
      let previous: string | undefined
      const once = Effect.gen(function*() {
        const check = yield* Health.performHealthCheck()
        const changed = previous !== undefined && previous !== check.status
        if (changed) changes.push(`${check.lastChecked}  ${paintStatus(c, previous!)} -> ${paintStatus(c, check.status)}`)
        if (tty) {
          yield* Console.log(
            "\x1b[2J\x1b[H" + renderCheck(check, target.label, c) +
              (changes.length > 0 ? `\n\n${c.bold("Status changes:")}\n${changes.slice(-10).map((l) => `  ${l}`).join("\n")}` : "") +
              `\n\n${c.dim(`every ${Duration.format(every)}; Ctrl-C to stop`)}`
          )
        } else {
          if (changed) yield* Console.log(`${check.lastChecked} STATUS CHANGED ${previous} -> ${check.status}`)
          yield* Console.log(renderLine(check))
        }
        previous = check.status
      })
      const runs = Option.match(count, {
        onNone: () => Effect.forever(Effect.zipRight(once, Effect.sleep(every))),
        onSome: (n) =>
          Effect.forEach(Array.from({ length: n }), (_, i) =>
            Effect.zipRight(once, i < n - 1 ? Effect.sleep(every) : Effect.void), { discard: true })
      })
      yield* runs.pipe(
        Effect.provide(healthLayer(target, { probeTimeoutMillis: probeTimeout, thresholds: custom, expectedReplicas }))
      )
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("Re-run the health check every --interval and show status changes as they happen."))
