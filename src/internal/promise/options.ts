/**
 * The Promise API's options, checked before anything is built or sent: `createDatabase`'s (pool and
 * health settings), each transaction's (the engine's options plus the caller's `signal`) and
 * `scheduleHealthChecks`'s. Each failure is the typed error of the module it belongs to, naming the
 * field; unknown keys are rejected; an explicit `undefined` means "the default".
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { type DatabaseConfigInput, DatabaseConfigError, validateConfig as validateDatabase } from "../../Database.js"
import { type HealthThresholdsInput, makeThresholds } from "../../Health.js"
import { HealthMonitorConfigError } from "../../HealthMonitor.js"
import {
  TransactionConfig,
  type TransactionConfigInput,
  TransactionConfigError,
  validateConfig as validateTransaction
} from "../../Transaction.js"

const isPlainObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** A finite duration greater than zero; a number is milliseconds. */
const positiveDuration = (input: unknown): Option.Option<Duration.Duration> =>
  typeof input === "number" && !Number.isFinite(input) ? Option.none() : Option.filter(
    Duration.decodeUnknown(input),
    (d) => Duration.isFinite(d) && Duration.greaterThan(d, Duration.zero)
  )

// ---------------------------------------------------------------------------
// createDatabase
// ---------------------------------------------------------------------------

export interface DatabaseSettings {
  /** The pool's options, as given (validated by `Database.validateConfig`). */
  readonly database: DatabaseConfigInput
  readonly health: { readonly thresholds?: HealthThresholdsInput; readonly probeTimeout?: Duration.Duration }
  /** The shared monitor, when asked for. */
  readonly monitor?: { readonly interval: Duration.Duration; readonly confirmations: number }
}

/** `healthMonitor`'s settings: an object with a positive `interval` (ms) and `confirmations` 1-1000. */
const validateMonitor = (
  input: unknown
): Either.Either<{ readonly interval: Duration.Duration; readonly confirmations: number }, DatabaseConfigError> => {
  if (!isPlainObject(input)) return Either.left(configError("healthMonitor", "must be an object ({ interval, confirmations })"))
  const { interval, confirmations, ...rest } = input
  const unknown = Object.keys(rest)[0]
  if (unknown !== undefined) return Either.left(configError(`healthMonitor.${unknown}`, "is not an option (interval, confirmations)"))
  const every = interval === undefined ? Option.some(Duration.seconds(60)) : typeof interval === "number" ? positiveDuration(interval) : Option.none()
  if (Option.isNone(every)) {
    return Either.left(configError("healthMonitor.interval", "must be a number of milliseconds greater than zero"))
  }
  const times = confirmations ?? 1
  if (typeof times !== "number" || !Number.isInteger(times) || times < 1 || times > 1000) {
    return Either.left(configError("healthMonitor.confirmations", "must be an integer from 1 to 1000"))
  }
  return Either.right({ interval: every.value, confirmations: times })
}

const configError = (field: string, reason: string) =>
  new DatabaseConfigError({ field, reason, issues: [{ field, reason }] })

/**
 * Checks `createDatabase`'s options; returns the typed error rather than throwing it. Everything but
 * the health keys is the pool's, checked by `Database.validateConfig` (unknown keys included), so a
 * pool option added there is accepted here too.
 */
export const validateDatabaseOptions = (input: unknown): Either.Either<DatabaseSettings, DatabaseConfigError> => {
  if (!isPlainObject(input)) return Either.left(configError("config", "must be an object of options"))
  const { healthThresholds: thresholds, probeTimeout, healthMonitor, ...database } = input
  const pool = Effect.runSync(Effect.either(validateDatabase(database as DatabaseConfigInput)))
  if (Either.isLeft(pool)) return Either.left(pool.left)
  const health: { thresholds?: HealthThresholdsInput; probeTimeout?: Duration.Duration } = {}
  if (thresholds !== undefined) {
    const checked = makeThresholds(thresholds)
    if (Either.isLeft(checked)) {
      return Either.left(configError(`healthThresholds.${checked.left.field}`, checked.left.reason))
    }
    health.thresholds = thresholds as HealthThresholdsInput
  }
  if (probeTimeout !== undefined) {
    const timeout = positiveDuration(probeTimeout)
    if (Option.isNone(timeout)) {
      return Either.left(configError("probeTimeout", "must be a number of milliseconds greater than zero"))
    }
    health.probeTimeout = timeout.value
  }
  if (healthMonitor !== undefined) {
    const monitor = validateMonitor(healthMonitor)
    if (Either.isLeft(monitor)) return Either.left(monitor.left)
    return Either.right({ database: database as DatabaseConfigInput, health, monitor: monitor.right })
  }
  return Either.right({ database: database as DatabaseConfigInput, health })
}

// ---------------------------------------------------------------------------
// Transactions
// ---------------------------------------------------------------------------

export interface TransactionSettings {
  /** What the engine is given: the caller's object itself when it has no `signal` (its validation is cached). */
  readonly engine: TransactionConfigInput
  readonly config: TransactionConfig
  readonly signal: AbortSignal | undefined
}

const transactionKeys = [...Object.keys(TransactionConfig.fields), "signal"]
const noOptions: object = Object.freeze({})
const checked = new WeakMap<object, Either.Either<TransactionSettings, TransactionConfigError>>()

const checkTransactionOptions = (input: object): Either.Either<TransactionSettings, TransactionConfigError> => {
  if (!isPlainObject(input)) {
    return Either.left(new TransactionConfigError({ field: "config", reason: "must be an object of options" }))
  }
  for (const key of Object.keys(input)) {
    if (!transactionKeys.includes(key)) {
      return Either.left(new TransactionConfigError({ field: key, reason: `is not an option (${transactionKeys.join(", ")})` }))
    }
  }
  const signal = input.signal
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    return Either.left(new TransactionConfigError({ field: "signal", reason: "must be an AbortSignal" }))
  }
  let engine: TransactionConfigInput = input
  if ("signal" in input) {
    const { signal: _, ...rest } = input
    engine = Object.freeze(rest)
  }
  return Either.map(validateTransaction(engine), (config) => ({ engine, config, signal }))
}

/** Checks a transaction's options, once per options object. */
export const validateTransactionOptions = (
  input: unknown
): Either.Either<TransactionSettings, TransactionConfigError> => {
  if (input === undefined) input = noOptions
  if (typeof input !== "object" || input === null) {
    return Either.left(new TransactionConfigError({ field: "config", reason: "must be an object of options" }))
  }
  const known = checked.get(input)
  if (known) return known
  const result = checkTransactionOptions(input)
  checked.set(input, result)
  return result
}

// ---------------------------------------------------------------------------
// scheduleHealthChecks
// ---------------------------------------------------------------------------

/** The interval of `scheduleHealthChecks` (milliseconds) and its callback. */
export const validateSchedule = (
  intervalMs: unknown,
  onStatusChange: unknown
): Either.Either<Duration.Duration, HealthMonitorConfigError> => {
  if (onStatusChange !== undefined && typeof onStatusChange !== "function") {
    return Either.left(new HealthMonitorConfigError({ field: "onStatusChange", reason: "must be a function" }))
  }
  if (intervalMs === undefined) return Either.right(Duration.seconds(60))
  return Option.match(typeof intervalMs === "number" ? positiveDuration(intervalMs) : Option.none(), {
    onNone: () =>
      Either.left(
        new HealthMonitorConfigError({ field: "intervalMs", reason: "must be a number of milliseconds greater than zero" })
      ),
    onSome: Either.right
  })
}
