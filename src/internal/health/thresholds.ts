/**
 * Thresholds: the ladder of each figure (degraded, unhealthy, critical), ordered, and what an
 * unknown value of each figure does to the verdict. Validated with Schema; unknown keys are errors
 * naming the key.
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { figureDefinitions, type HealthFigure, figureNames, type WhenUnknown } from "./figures.js"

const Limit = Schema.Number.pipe(
  Schema.filter((n) => Number.isFinite(n) && n >= 0, { message: () => "must be a finite number >= 0" })
)
const Percent = Limit.pipe(Schema.filter((n) => n <= 100, { message: () => "must be a percentage (0-100)" }))

/** One level of the ladder: where each figure starts to count as that level. */
export const LevelThresholds = Schema.Struct(
  Object.fromEntries(figureNames.map((name) => [name, figureDefinitions[name].unit === "%" ? Percent : Limit])) as Record<
    HealthFigure,
    typeof Limit
  >
)

/** What an unknown value does to the verdict. */
export const WhenUnknownSchema = Schema.Literal("ignore", "UNKNOWN", "DEGRADED", "UNHEALTHY", "CRITICAL")

/** Per figure, what an unknown value does to the verdict. */
export const WhenUnknownPolicy = Schema.partial(
  Schema.Struct(
    Object.fromEntries(figureNames.map((name) => [name, WhenUnknownSchema])) as Record<HealthFigure, typeof WhenUnknownSchema>
  )
)

const levels = ["degraded", "unhealthy", "critical"] as const

const orderedLadder = (t: Record<(typeof levels)[number], Record<HealthFigure, number>>) => {
  for (const name of figureNames) {
    const [d, u, c] = [t.degraded[name], t.unhealthy[name], t.critical[name]]
    const lowerIsWorse = figureDefinitions[name].worse === "lower"
    const ordered = lowerIsWorse ? d >= u && u >= c : d <= u && u <= c
    if (!ordered) {
      return {
        path: [name],
        message: lowerIsWorse
          ? `must not rise from degraded (${d}) to unhealthy (${u}) to critical (${c}): lower is worse`
          : `must not fall from degraded (${d}) to unhealthy (${u}) to critical (${c}): higher is worse`
      }
    }
  }
  return undefined
}

/** The full thresholds: three ordered ladders and (optionally) the unknown policy. */
export const HealthThresholds = Schema.Struct({
  degraded: LevelThresholds,
  unhealthy: LevelThresholds,
  critical: LevelThresholds,
  whenUnknown: Schema.optional(WhenUnknownPolicy)
}).pipe(Schema.filter((t) => orderedLadder(t)))

export type HealthThresholds = typeof HealthThresholds.Type
export type LevelThresholds = typeof LevelThresholds.Type

const level = (index: 0 | 1 | 2): LevelThresholds =>
  Object.fromEntries(figureNames.map((name) => [name, figureDefinitions[name].defaults[index]])) as LevelThresholds

/** The default unknown policy of every figure. */
export const defaultWhenUnknown: Readonly<Record<HealthFigure, WhenUnknown>> = Object.fromEntries(
  figureNames.map((name) => [name, figureDefinitions[name].whenUnknown])
) as Record<HealthFigure, WhenUnknown>

/** The defaults (the seed's for its three figures). */
export const defaultThresholds: HealthThresholds = {
  degraded: level(0),
  unhealthy: level(1),
  critical: level(2),
  whenUnknown: defaultWhenUnknown
}

/** The unknown policy of a figure under `t`. */
export const whenUnknownOf = (t: HealthThresholds, figure: HealthFigure): WhenUnknown =>
  t.whenUnknown?.[figure] ?? defaultWhenUnknown[figure]

// Input: any subset; only the keys are checked here (unknown ones are errors), the values after merging.
const AnyFigures = Schema.partial(
  Schema.Struct(Object.fromEntries(figureNames.map((name) => [name, Schema.Unknown])) as Record<HealthFigure, typeof Schema.Unknown>)
)
const InputShape = Schema.Struct({
  degraded: Schema.optional(Schema.UndefinedOr(AnyFigures)),
  unhealthy: Schema.optional(Schema.UndefinedOr(AnyFigures)),
  critical: Schema.optional(Schema.UndefinedOr(AnyFigures)),
  whenUnknown: Schema.optional(Schema.UndefinedOr(AnyFigures))
})

/** A problem with thresholds: which field, and why. */
export interface ThresholdsProblem {
  readonly field: string
  readonly reason: string
}

const problemOf = (error: ParseResult.ParseError): ThresholdsProblem => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  const path = issue?.path.map(String) ?? []
  if (issue?._tag === "Unexpected") {
    return path.length <= 1
      ? { field: path.join(".") || "thresholds", reason: `is not a level (${[...levels, "whenUnknown"].join(", ")})` }
      : { field: path.join("."), reason: "is not a known figure" }
  }
  if (path.length === 0) return { field: "thresholds", reason: "must be an object" }
  if (path[0] === "whenUnknown" && path.length === 2) {
    return { field: path.join("."), reason: "must be one of ignore, UNKNOWN, DEGRADED, UNHEALTHY, CRITICAL" }
  }
  return { field: path.join("."), reason: issue?.message ?? "is invalid" }
}

/** Merges custom thresholds (any subset) over the defaults and validates the result. */
export const makeThresholds = (input: unknown): Either.Either<HealthThresholds, ThresholdsProblem> => {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return Either.left({ field: "thresholds", reason: "must be an object" })
  }
  const shape = Schema.decodeUnknownEither(InputShape, { onExcessProperty: "error" })(input)
  if (Either.isLeft(shape)) return Either.left(problemOf(shape.left))
  const given = shape.right as Partial<Record<(typeof levels)[number] | "whenUnknown", Record<string, unknown> | undefined>>
  const merged = {
    degraded: { ...defaultThresholds.degraded, ...withoutUndefined(given.degraded) },
    unhealthy: { ...defaultThresholds.unhealthy, ...withoutUndefined(given.unhealthy) },
    critical: { ...defaultThresholds.critical, ...withoutUndefined(given.critical) },
    whenUnknown: { ...defaultWhenUnknown, ...withoutUndefined(given.whenUnknown) }
  }
  return Either.mapLeft(Schema.decodeUnknownEither(HealthThresholds)(merged), problemOf)
}

/** `{ a: undefined }` means "the default" (exactOptionalPropertyTypes callers pass it explicitly). */
const withoutUndefined = (record: Record<string, unknown> | undefined): Record<string, unknown> =>
  record === undefined ? {} : Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined))

/** See `Health.HealthThresholdsInput`. */
export interface HealthThresholdsInput {
  readonly degraded?: LevelThresholdsInput | undefined
  readonly unhealthy?: LevelThresholdsInput | undefined
  readonly critical?: LevelThresholdsInput | undefined
  readonly whenUnknown?: { readonly [F in HealthFigure]?: WhenUnknown | undefined } | undefined
}

/**
 * Some figures of one level; an explicit `undefined` keeps the default (so `{ avgQueryTime: maybeMs }`
 * compiles under `exactOptionalPropertyTypes`).
 *
 * @since 0.2.0
 * @category models
 */
export type LevelThresholdsInput = { readonly [F in HealthFigure]?: number | undefined }
