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
import type { HealthThresholdsInput } from "../../Health.js"
import { HealthMonitorConfigError } from "../../HealthMonitor.js"
import { validateOptions as validateHealthOptions } from "../health/options.js"
import { validateOptions as validateMonitorOptions } from "../monitor/config.js"
import {
  type TransactionConfig,
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
  /** The health service's options (validated by its own validator). */
  readonly health: { readonly thresholds?: HealthThresholdsInput; readonly probeTimeout?: Duration.Duration }
  /** The shared monitor, when asked for. */
  readonly monitor?: { readonly interval: Duration.Duration; readonly confirmations: number }
}

const configError = (field: string, reason: string) =>
  new DatabaseConfigError({ field, reason, issues: [{ field, reason }] })

const monitorKeys = ["interval", "confirmations"]

/**
 * `healthMonitor`'s settings (`interval` in ms, `confirmations`): only those two keys, then the
 * monitor's own validator decides the values.
 */
const validateMonitor = (
  input: unknown
): Either.Either<{ readonly interval: Duration.Duration; readonly confirmations: number }, DatabaseConfigError> => {
  if (!isPlainObject(input)) return Either.left(configError("healthMonitor", "must be an object ({ interval, confirmations })"))
  const unknown = Object.keys(input).find((key) => !monitorKeys.includes(key))
  if (unknown !== undefined) return Either.left(configError(`healthMonitor.${unknown}`, "is not an option (interval, confirmations)"))
  if (input.interval !== undefined && typeof input.interval !== "number") {
    return Either.left(configError("healthMonitor.interval", "must be a number of milliseconds greater than zero"))
  }
  return Either.mapLeft(validateMonitorOptions(input), (issues) => configError(`healthMonitor.${issues[0].field}`, issues[0].reason))
}

/**
 * Checks `createDatabase`'s options; returns the typed error rather than throwing it. Everything but
 * the health keys is the pool's, checked by `Database.validateConfig` (unknown keys included), so a
 * pool option added there is accepted here too; the health keys go through the health service's and
 * the monitor's own validators, so that what passes here cannot fail when the layers are built.
 */
export const validateDatabaseOptions = (input: unknown): Either.Either<DatabaseSettings, DatabaseConfigError> => {
  if (!isPlainObject(input)) return Either.left(configError("config", "must be an object of options"))
  const { healthThresholds: thresholds, probeTimeout, healthMonitor, ...database } = input
  const pool = Effect.runSync(Effect.either(validateDatabase(database as DatabaseConfigInput)))
  if (Either.isLeft(pool)) return Either.left(pool.left)
  const checked = validateHealthOptions({ thresholds, probeTimeout })
  if (Either.isLeft(checked)) {
    const problem = checked.left
    return Either.left(
      problem.kind === "thresholds"
        ? configError(`healthThresholds.${problem.field}`, problem.reason)
        : configError(problem.field, problem.reason)
    )
  }
  const health: { thresholds?: HealthThresholdsInput; probeTimeout?: Duration.Duration } = {}
  if (thresholds !== undefined) health.thresholds = thresholds as HealthThresholdsInput
  if (probeTimeout !== undefined) health.probeTimeout = checked.right.probeTimeout
  if (healthMonitor === undefined) return Either.right({ database: database as DatabaseConfigInput, health })
  return Either.map(validateMonitor(healthMonitor), (monitor) => ({ database: database as DatabaseConfigInput, health, monitor }))
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

const noOptions: object = Object.freeze({})

/**
 * Checks a transaction's options: the caller's `signal` here, the rest by the engine's own validator
 * (which caches by object and by content, and names an unknown key with the option it most likely
 * meant).
 */
export const validateTransactionOptions = (
  input: unknown
): Either.Either<TransactionSettings, TransactionConfigError> => {
  if (input === undefined) input = noOptions
  if (!isPlainObject(input)) {
    return Either.left(new TransactionConfigError({ field: "config", reason: "must be an object of options" }))
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
