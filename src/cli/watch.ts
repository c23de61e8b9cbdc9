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
import { CliError } from "./errors.js"
import { colours, paintStatus, renderCheck, renderLine } from "./render.js"
import { healthLayer, probeTimeoutOption, resolveTarget, urlOption } from "./target.js"
import { loadThresholds, thresholdsOption } from "./thresholds.js"

const interval = Options.text("interval").pipe(
  Options.withDescription("time between checks, e.g. 5s, 500ms, 1m"),
  Options.withDefault("5s")
)
const count = Options.integer("count").pipe(
  Options.withDescription("stop after this many checks (default: run until interrupted)"),
  Options.optional
)

/** Reads `5s`, `500ms`, `2m`, or Effect's `5 seconds`. */
export const parseInterval = (text: string): Option.Option<Duration.Duration> => {
  const short = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/.exec(text.trim())
  if (short) {
    const n = Number(short[1])
    const unit = short[2] === "ms" ? "millis" : short[2] === "s" ? "seconds" : short[2] === "m" ? "minutes" : "hours"
    return Option.some(Duration.decode(`${n} ${unit}` as Duration.DurationInput))
  }
  return Duration.decodeUnknown(text).pipe(Option.filter((d) => Duration.isFinite(d) && Duration.toMillis(d) > 0))
}

export const watchCommand = Command.make(
  "watch",
  { url: urlOption, interval, count, thresholds: thresholdsOption, probeTimeout: probeTimeoutOption },
  ({ count, interval, probeTimeout, thresholds, url }) =>
    Effect.gen(function*() {
      const every = yield* Option.match(parseInterval(interval), {
        onNone: () => Effect.fail(new CliError({ message: `--interval ${interval} is not a duration (e.g. 5s, 500ms, 1m)` })),
        onSome: Effect.succeed
      })
      const custom = yield* loadThresholds(thresholds)
      const target = yield* resolveTarget(url)
      const tty = process.stdout.isTTY === true
      const c = colours(tty && !process.env.NO_COLOR)
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
          Effect.forEach(Array.from({ length: Math.max(1, n) }), (_, i) =>
            Effect.zipRight(once, i < n - 1 ? Effect.sleep(every) : Effect.void), { discard: true })
      })
      yield* runs.pipe(Effect.provide(healthLayer(target, probeTimeout, custom)))
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("Re-run the health check every --interval and show status changes as they happen."))
