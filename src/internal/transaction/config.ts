/**
 * Transaction options: their schema, their defaults and their validation (before anything is sent).
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type { DatabaseError } from "../../Errors.js"
import { makeOptionsValidator, PositiveDuration } from "../schema.js"

export const IsolationLevel = Schema.Literal("READ UNCOMMITTED", "READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE")

export type IsolationLevel = typeof IsolationLevel.Type

const ScheduleSchema = Schema.declare(
  (u): u is Schedule.Schedule<unknown, DatabaseError> => Schedule.isSchedule(u),
  { message: () => "must be an Effect Schedule" }
)

/**
 * The default retry budget: 30 (the seed said 3). On the W3 benchmark (contended SERIALIZABLE
 * read-modify-writes), 3 let 1.5-2% of transactions reach the caller as failures, and 10 about one in
 * 8,000: once an attempt has failed, the next fails half to two thirds of the time (the most attempts
 * seen in 31,000 transactions with no cap was 16). At that rate 30 puts exhaustion below one in ten
 * million. The deadline stays the hard bound.
 */
export const defaultMaxRetries = 30

export const TransactionConfig = Schema.Struct({
  isolationLevel: Schema.optionalWith(IsolationLevel, { default: () => "READ COMMITTED" as const }),
  readOnly: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  deferrable: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  timeout: Schema.optionalWith(PositiveDuration, { default: () => Duration.seconds(30) }),
  retryDeadlocks: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  maxRetries: Schema.optionalWith(
    Schema.Int.pipe(Schema.between(0, 1000, { message: () => "must be an integer from 0 to 1000" })),
    { default: () => defaultMaxRetries }
  ),
  schedule: Schema.optional(ScheduleSchema)
})

export type TransactionConfig = typeof TransactionConfig.Type

export interface TransactionConfigInput {
  readonly isolationLevel?: IsolationLevel | undefined
  readonly readOnly?: boolean | undefined
  readonly deferrable?: boolean | undefined
  readonly timeout?: Duration.DurationInput | undefined
  readonly retryDeadlocks?: boolean | undefined
  readonly maxRetries?: number | undefined
  readonly schedule?: Schedule.Schedule<unknown, DatabaseError> | undefined
}

export class TransactionConfigError extends Schema.TaggedError<TransactionConfigError>()("TransactionConfigError", {
  field: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Invalid transaction configuration: ${this.field} ${this.reason}`
  }
}

const validateOptions = makeOptionsValidator(TransactionConfig, {
  subject: "config",
  check: (config) =>
    config.deferrable && !(config.isolationLevel === "SERIALIZABLE" && config.readOnly)
      ? [{ field: "deferrable", reason: "is only valid with isolationLevel SERIALIZABLE and readOnly true" }]
      : []
})
type Validated = Either.Either<TransactionConfig, TransactionConfigError>

/** Validations by input object: options hoisted into a constant are validated once. */
const validated = new WeakMap<object, Validated>()

/**
 * Validations by content, for options written inline (`withTransaction({ isolationLevel: ... })`, a
 * fresh object per call) whose values are all strings, numbers, booleans or undefined. Why: a Schema
 * decode costs about 16 µs, several percent of a transaction's client CPU. Bounded: programs write a
 * handful of distinct option sets, and past the bound inputs are validated each time.
 */
const validatedByContent = new Map<string, Validated>()
const contentCacheLimit = 256

/** A key naming every key, type and value of an input of primitives (in their order); else undefined. */
const contentKey = (input: object): string | undefined => {
  let key = ""
  for (const name of Object.keys(input)) {
    const value = (input as Record<string, unknown>)[name]
    const type = typeof value
    if (type !== "string" && type !== "number" && type !== "boolean" && type !== "undefined") return undefined
    // Names and strings quoted (JSON), so that no value can spell another input's key.
    key += `${JSON.stringify(name)}:${type}:${type === "string" ? JSON.stringify(value) : String(value)},`
  }
  return key
}

/** One shared object for "no options", so that its validation is cached like any other. */
export const defaults: TransactionConfigInput = Object.freeze({})

export const validateConfig = (input: TransactionConfigInput = defaults): Validated => {
  const isObject = typeof input === "object" && input !== null
  if (isObject) {
    const cached = validated.get(input)
    if (cached) return cached
  }
  const key = isObject && Object.getPrototypeOf(input) === Object.prototype ? contentKey(input) : undefined
  if (key !== undefined) {
    const cached = validatedByContent.get(key)
    if (cached) return cached
  }
  // The first problem (unknown keys first) names the field.
  const result = Either.mapLeft(validateOptions(input), (issues) => new TransactionConfigError(issues[0]))
  if (isObject) validated.set(input, result)
  if (key !== undefined && validatedByContent.size < contentCacheLimit) validatedByContent.set(key, result)
  return result
}
