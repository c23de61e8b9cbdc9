/**
 * Options of the live health service, validated with Schema before anything is measured: unknown
 * keys, durations that are not ones and counts out of range are problems naming the option.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { makeOptionsValidator } from "../schema.js"
import { type HealthThresholds, type HealthThresholdsInput, makeThresholds, type ThresholdsProblem } from "./thresholds.js"

const DurationWithin = (min: Duration.Duration, max: Duration.Duration, text: string) =>
  Schema.transformOrFail(Schema.Unknown, Schema.DurationFromSelf, {
    strict: true,
    decode: (input, _, ast) =>
      Option.match(Duration.decodeUnknown(input), {
        onNone: () => ParseResult.fail(new ParseResult.Type(ast, input, "must be a duration such as \"5 seconds\" or milliseconds")),
        onSome: (d) =>
          Duration.isFinite(d) && Duration.between(d, { minimum: min, maximum: max })
            ? ParseResult.succeed(d)
            : ParseResult.fail(new ParseResult.Type(ast, input, text))
      }),
    encode: ParseResult.succeed
  })

/** A postgres:// URL, plain or Redacted; kept Redacted. Problems never echo it (it may hold a password). */
const AdminUrl = Schema.transformOrFail(Schema.Unknown, Schema.RedactedFromSelf(Schema.String), {
  strict: true,
  decode: (input, _, ast) => {
    const text = Redacted.isRedacted(input) ? Redacted.value(input) : input
    const fail = () =>
      ParseResult.fail(new ParseResult.Type(ast, "(hidden)", "must be a postgres:// URL of the pooler's admin console (database pgbouncer)"))
    if (typeof text !== "string") return fail()
    try {
      const url = new URL(text)
      return url.protocol === "postgres:" || url.protocol === "postgresql:" ? ParseResult.succeed(Redacted.make(text)) : fail()
    } catch {
      return fail()
    }
  },
  encode: ParseResult.succeed
})

const Options = Schema.Struct({
  thresholds: Schema.optional(Schema.Unknown),
  probeTimeout: Schema.optional(
    Schema.UndefinedOr(DurationWithin(Duration.millis(1), Duration.minutes(10), "must be a duration from 1 ms to 10 minutes"))
  ),
  firstCheckWindow: Schema.optional(
    Schema.UndefinedOr(DurationWithin(Duration.zero, Duration.minutes(1), "must be a duration from 0 to 1 minute"))
  ),
  expensiveInterval: Schema.optional(
    Schema.UndefinedOr(DurationWithin(Duration.zero, Duration.days(1), "must be a duration from 0 to 1 day"))
  ),
  expectedReplicas: Schema.optional(
    Schema.UndefinedOr(Schema.Number.pipe(
      Schema.filter((n) => Number.isInteger(n) && n >= 0 && n <= 100, { message: () => "must be an integer from 0 to 100" })
    ))
  ),
  poolerAdminUrl: Schema.optional(Schema.UndefinedOr(AdminUrl))
})

/** The validated configuration of the live service. */
export interface ServiceConfig {
  readonly thresholds: HealthThresholds
  readonly probeTimeout: Duration.Duration
  readonly firstCheckWindow: Duration.Duration
  readonly expensiveInterval: Duration.Duration
  readonly expectedReplicas: number
  /** PgBouncer's admin console, read by every check when set. */
  readonly poolerAdminUrl: Redacted.Redacted<string> | undefined
}

export const defaults = {
  probeTimeout: Duration.seconds(5),
  firstCheckWindow: Duration.seconds(1),
  expensiveInterval: Duration.minutes(5)
} as const

/** A problem with the options: of the thresholds, or of another option. */
export type OptionsProblem =
  | ({ readonly kind: "thresholds" } & ThresholdsProblem)
  | { readonly kind: "options"; readonly field: string; readonly reason: string }

const validateShape = makeOptionsValidator(Options, {
  subject: "options",
  // never a problem text built from the value: the URL may hold a password
  secrets: { poolerAdminUrl: "must be a postgres:// URL of the pooler's admin console (database pgbouncer)" }
})

/** Validates the options: the first problem (unknown keys first), or the thresholds' own. */
export const validateOptions = (input: unknown): Either.Either<ServiceConfig, OptionsProblem> => {
  const decoded = validateShape(input ?? {})
  if (Either.isLeft(decoded)) return Either.left({ kind: "options", ...decoded.left[0] })
  const options = decoded.right
  const thresholds = makeThresholds(options.thresholds ?? {})
  if (Either.isLeft(thresholds)) return Either.left({ kind: "thresholds", ...thresholds.left })
  return Either.right({
    thresholds: thresholds.right,
    probeTimeout: options.probeTimeout ?? defaults.probeTimeout,
    firstCheckWindow: options.firstCheckWindow ?? defaults.firstCheckWindow,
    expensiveInterval: options.expensiveInterval ?? defaults.expensiveInterval,
    expectedReplicas: options.expectedReplicas ?? 0,
    poolerAdminUrl: options.poolerAdminUrl
  })
}

/** See `Health.DatabaseHealthOptions`. */
export interface DatabaseHealthOptions {
  /** Default thresholds of `performHealthCheck()`. */
  readonly thresholds?: HealthThresholdsInput | undefined
  /** Hard limit of one probe round (default 5 s): past it the result is CRITICAL. */
  readonly probeTimeout?: Duration.DurationInput | undefined
  /**
   * The first check takes two samples this far apart (default 1 s, at most 1 minute) and judges the
   * windowed figures (statement times, cache hit ratio, deadlocks, archive failures) over that
   * window: what happens now, not since the statistics were reset. `0`: the first check only sets
   * the baseline (those figures are unknown on it).
   */
  readonly firstCheckWindow?: Duration.DurationInput | undefined
  /**
   * How often the expensive figures (per-table and per-sequence scans, the database's size) are
   * measured (default 5 minutes); checks in between report their last values.
   */
  readonly expensiveInterval?: Duration.DurationInput | undefined
  /**
   * Replicas a primary must have streaming (default 0). A primary cannot know a replica it has
   * never heard of: set this, or give replicas replication slots (an inactive slot is a figure).
   */
  readonly expectedReplicas?: number | undefined
  /**
   * PgBouncer's admin console (`postgres://user@host:6432/pgbouncer`, a user in `admin_users` or
   * `stats_users`), read by every check: clients waiting in the pooler and its server pools, which
   * PostgreSQL cannot see. Without it a pooler is still detected (the connection's reported pid is
   * not `pg_backend_pid()`) and the check says what it cannot see.
   */
  readonly poolerAdminUrl?: string | Redacted.Redacted<string> | undefined
}
