/**
 * The command line's values that are not plain text, parsed once with one syntax each and checked
 * while the flags are parsed (so a bad value is exit 3 and one line naming the flag, before anything
 * is printed or started):
 * - durations: a number and a unit, `500ms`, `15s`, `2m`, `1h` (and `0` where zero is allowed);
 * - TCP ports: an integer from 0 (any free port) to 65535.
 *
 * @internal
 */
import { HelpDoc, Options, ValidationError } from "@effect/cli"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

const units: Readonly<Record<string, Duration.Unit>> = { ms: "millis", s: "seconds", m: "minutes", h: "hours" }

/** The one duration syntax of every flag: `500ms`, `15s`, `2m`, `1h`; a bare `0` when `allowZero`. */
export const parseDuration = (text: string, allowZero = false): Option.Option<Duration.Duration> => {
  const trimmed = text.trim()
  if (allowZero && /^0+(\.0*)?$/.test(trimmed)) return Option.some(Duration.zero)
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(trimmed)
  if (!match) return Option.none()
  const duration = Duration.decode(`${Number(match[1])} ${units[match[2]!]!}` as Duration.DurationInput)
  return Duration.toMillis(duration) > 0 || allowZero ? Option.some(duration) : Option.none()
}

/** How the syntax is shown in help and errors. */
export const durationSyntax = "a number and a unit: 500ms, 15s, 2m, 1h"

/** A flag's invalid value, reported by the parser (exit 3, one line, before anything runs). */
export const invalid = (message: string) => Effect.fail(ValidationError.invalidValue(HelpDoc.p(message)))

/**
 * A duration flag with its default shown in the help, checked against `[min, max]` while parsing.
 */
export const durationOption = (name: string, settings: {
  readonly description: string
  readonly default: string
  readonly min?: Duration.DurationInput
  readonly max?: Duration.DurationInput
}): Options.Options<Duration.Duration> => {
  const min = Duration.decode(settings.min ?? "1 millis")
  const max = settings.max === undefined ? undefined : Duration.decode(settings.max)
  const check = (text: string) =>
    Option.match(parseDuration(text, true), {
      onNone: () => invalid(`--${name} ${text} is not a duration (${durationSyntax})`),
      onSome: (duration) =>
        Duration.lessThan(duration, min)
          ? invalid(`--${name} ${text} is shorter than ${Duration.format(min)}`)
          : max !== undefined && Duration.greaterThan(duration, max)
          ? invalid(`--${name} ${text} is longer than ${Duration.format(max)}`)
          : Effect.succeed(duration)
    })
  return Options.text(name).pipe(
    Options.withPseudoName("duration"),
    Options.withDescription(`${settings.description} (${durationSyntax}; default ${settings.default})`),
    Options.withDefault(settings.default),
    Options.mapEffect(check)
  )
}

/**
 * An integer flag checked against `[min, max]` while parsing, its default shown in the help. Parsed
 * from text here (not by `Options.integer`) so that a value that is not a number is reported with
 * the flag's name too.
 */
export const integerOption = (name: string, settings: {
  readonly description: string
  readonly default: number
  readonly min: number
  readonly max: number
}): Options.Options<number> =>
  Options.text(name).pipe(
    Options.withPseudoName("integer"),
    Options.withDescription(`${settings.description} (default ${settings.default})`),
    Options.withDefault(String(settings.default)),
    Options.mapEffect((text) => {
      const n = /^\s*[-+]?\d+\s*$/.test(text) ? Number(text) : Number.NaN
      return Number.isSafeInteger(n) && n >= settings.min && n <= settings.max
        ? Effect.succeed(n)
        : invalid(`--${name} ${text} must be an integer from ${settings.min} to ${settings.max}`)
    })
  )
