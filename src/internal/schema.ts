/**
 * What every options object of the library shares: its duration schema, and its validation with
 * Schema (unknown keys are errors, an explicit `undefined` means "the default", the first problem
 * is one field and one plain reason, and a secret's value is never quoted).
 *
 * @internal
 */
import * as Arr from "effect/Array"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as AST from "effect/SchemaAST"

// ---------------------------------------------------------------------------
// Durations
// ---------------------------------------------------------------------------

/** `Duration.decode` turns a negative input into zero; an option must say so instead. */
const isNegative = (input: unknown): boolean =>
  (typeof input === "number" && (Number.isNaN(input) || input < 0)) ||
  (typeof input === "bigint" && input < 0n) ||
  (typeof input === "string" && input.trimStart().startsWith("-")) ||
  (Array.isArray(input) && input.some((part) => typeof part === "number" && (Number.isNaN(part) || part < 0)))

/**
 * Any `Duration.DurationInput` ("5 seconds", a number of milliseconds, a `Duration` ...), decoded to
 * a `Duration`. Negative inputs are rejected rather than read as zero.
 */
export const DurationInput: Schema.Schema<Duration.Duration, Duration.DurationInput> = Schema.transformOrFail(
  Schema.Unknown,
  Schema.DurationFromSelf,
  {
    strict: true,
    decode: (input, _, ast) =>
      isNegative(input)
        ? ParseResult.fail(new ParseResult.Type(ast, input, "must not be negative"))
        : Option.match(Duration.decodeUnknown(input), {
          onNone: () =>
            ParseResult.fail(
              new ParseResult.Type(ast, input, "must be a duration such as \"5 seconds\" or a number of milliseconds")
            ),
          onSome: ParseResult.succeed
        }),
    encode: ParseResult.succeed
  }
) as any

/** A finite duration, zero included. */
export const FiniteDuration = DurationInput.pipe(
  Schema.filter((d) => Duration.isFinite(d), { message: () => "must be a finite duration" })
)

/** A finite duration greater than zero. */
export const PositiveDuration = DurationInput.pipe(
  Schema.filter((d) => Duration.isFinite(d) && Duration.greaterThan(d, Duration.zero), {
    message: () => "must be a finite duration greater than zero"
  })
)

/** A function value (a callback, a transform), kept as it is. */
export const FunctionValue = <F extends (...args: ReadonlyArray<any>) => unknown>(): Schema.Schema<F> =>
  Schema.declare((u): u is F => typeof u === "function", { message: () => "must be a function" })

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

/** One problem with an options object: the option's path and what is wrong, in plain words. */
export interface OptionIssue {
  readonly field: string
  readonly reason: string
}

/** How an options object is checked and reported. */
export interface OptionsSettings<A> {
  /** The name of the whole object, used when the input is no object at all (e.g. `"config"`). */
  readonly subject: string
  /**
   * Options whose value may hold a secret (a password, a connection URL, a TLS key), with the reason
   * given when that value is invalid: Schema's own messages quote the value, these never do.
   */
  readonly secrets?: Readonly<Record<string, string>> | undefined
  /** Checks between options, once each one is valid on its own. */
  readonly check?: ((options: A) => ReadonlyArray<OptionIssue>) | undefined
}

/** The keys a struct schema accepts as input (through its refinements and transformations). */
const inputKeys = (ast: AST.AST): ReadonlyArray<string> => {
  switch (ast._tag) {
    case "TypeLiteral":
      return ast.propertySignatures.map((p) => String(p.name))
    case "Refinement":
    case "Transformation":
      return inputKeys(ast.from)
    default:
      return []
  }
}

const normalized = (key: string) => key.toLowerCase().replace(/[_\- ]/g, "")

/** Edits (insert, delete, substitute, swap two neighbours) that turn `a` into `b`. */
const editDistance = (a: string, b: string): number => {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1)
      d[i]![j] = best
    }
  }
  return d[a.length]![b.length]!
}

/** The known option a misspelt key most likely meant, if one is close. */
export const closestKey = (key: string, known: ReadonlyArray<string>): string | undefined => {
  const wanted = normalized(key)
  let best: { key: string; distance: number } | undefined
  for (const candidate of known) {
    const distance = editDistance(wanted, normalized(candidate))
    if (distance <= Math.min(2, Math.floor(wanted.length / 3)) && (best === undefined || distance < best.distance)) {
      best = { key: candidate, distance }
    }
  }
  return best?.key
}

/** An explicit `undefined` means "the default", as an absent key does. */
const withoutUndefined = (input: unknown): unknown =>
  typeof input === "object" && input !== null && !Array.isArray(input) && Object.values(input).includes(undefined)
    ? Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined))
    : input

const isPlainObject = (input: unknown): boolean =>
  typeof input === "object" && input !== null && !Array.isArray(input)

/**
 * Builds the validation of one options object: `Left` holds every problem (unknown keys first, one
 * per field), never a secret's value.
 */
export const makeOptionsValidator = <A, I>(
  schema: Schema.Schema<A, I, never>,
  settings: OptionsSettings<A>
): (input: unknown) => Either.Either<A, Arr.NonEmptyReadonlyArray<OptionIssue>> => {
  const known = inputKeys(schema.ast)
  const decode = Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "error" })
  const secrets = settings.secrets ?? {}
  const reasonFor = (issue: ParseResult.ArrayFormatterIssue, key: string): string => {
    if (issue._tag === "Unexpected" && issue.path.length === 1) {
      const meant = closestKey(key, known)
      return meant !== undefined ? `is not an option (did you mean ${meant}?)` : `is not an option (${known.join(", ")})`
    }
    if (Object.hasOwn(secrets, key)) return issue._tag === "Missing" ? "is required" : secrets[key]!
    return issue.message
  }
  return (input) => {
    if (!isPlainObject(input)) return Either.left([{ field: settings.subject, reason: "must be an object of options" }])
    return Either.match(decode(withoutUndefined(input)), {
      onLeft: (error) => {
        const formatted = ParseResult.ArrayFormatter.formatErrorSync(error)
        const ordered = [
          ...formatted.filter((issue) => issue._tag === "Unexpected"),
          ...formatted.filter((issue) => issue._tag !== "Unexpected")
        ]
        const issues: Array<OptionIssue> = []
        for (const issue of ordered) {
          const field = issue.path.length > 0 ? issue.path.map(String).join(".") : settings.subject
          // A union reports one issue per member; the first one per field is the useful one.
          if (issues.some((seen) => seen.field === field)) continue
          issues.push({ field, reason: reasonFor(issue, String(issue.path[0] ?? "")) })
        }
        return Either.left(
          Arr.isNonEmptyReadonlyArray(issues) ? issues : [{ field: settings.subject, reason: "is invalid" }]
        )
      },
      onRight: (options) => {
        const issues = settings.check?.(options) ?? []
        return Arr.isNonEmptyReadonlyArray(issues) ? Either.left(issues) : Either.right(options)
      }
    })
  }
}
