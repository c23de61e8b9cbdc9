/**
 * `--thresholds FILE`: custom health thresholds from a JSON file, validated.
 *
 * @internal
 */
import { Options } from "@effect/cli"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { readFile } from "node:fs/promises"
import * as Health from "../Health.js"
import { CliError } from "./errors.js"

export const thresholdsOption = Options.file("thresholds", { exists: "either" }).pipe(
  Options.withDescription("JSON file of custom thresholds, e.g. {\"degraded\": {\"avgQueryTime\": 80}}"),
  Options.optional
)

/** Reads and validates the file; every problem is one clear line. */
export const loadThresholds = (
  file: Option.Option<string>
): Effect.Effect<Health.HealthThresholdsInput | undefined, CliError> =>
  Option.match(file, {
    onNone: () => Effect.succeed(undefined),
    onSome: (path) =>
      Effect.gen(function*() {
        const text = yield* Effect.tryPromise({
          try: () => readFile(path, "utf8"),
          catch: (error) =>
            new CliError({ message: `cannot read thresholds file ${path}: ${(error as NodeJS.ErrnoException).code ?? "error"}` })
        })
        const parsed = yield* Effect.try({
          try: () => JSON.parse(text) as unknown,
          catch: (error) => new CliError({ message: `thresholds file ${path} is not valid JSON: ${(error as Error).message}` })
        })
        const validated = Health.makeThresholds(parsed)
        if (Either.isLeft(validated)) {
          return yield* new CliError({ message: `thresholds file ${path}: ${validated.left.field} ${validated.left.reason}` })
        }
        return parsed as Health.HealthThresholdsInput
      })
  })
