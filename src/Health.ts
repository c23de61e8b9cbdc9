/**
 * Database health: measure, judge, recommend.
 *
 * Why: an operator should learn that the database is degrading before users do, and must be able
 * to trust what the check says: never a false alarm from history or from hidden processes, never
 * HEALTHY for what it could not see. A figure it cannot see (missing privilege or extension) is
 * unknown, with the grant that would reveal it; an unknown that matters makes the verdict UNKNOWN
 * (exit 3 in the command line), as check_postgres does.
 *
 * Measuring talks to PostgreSQL through a dedicated probe connection with a hard timeout
 * (`internal/health/probe`); the windowed arithmetic (`internal/health/snapshot`) and judging
 * (`evaluateHealth`) are pure functions.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { Database } from "./Database.js"
import * as evaluate from "./internal/health/evaluate.js"
import * as figures from "./internal/health/figures.js"
import * as internalGauges from "./internal/health/gauges.js"
import * as model from "./internal/health/model.js"
import * as options from "./internal/health/options.js"
import * as service from "./internal/health/service.js"
import * as standIns from "./internal/health/standIns.js"
import * as thresholds from "./internal/health/thresholds.js"

// ---------------------------------------------------------------------------
// Status and figures
// ---------------------------------------------------------------------------

/**
 * The seed's four levels, and UNKNOWN: a figure that counts (see `HealthThresholds.whenUnknown`)
 * could not be assessed, and nothing known is worse than DEGRADED.
 *
 * @since 0.1.0
 * @category models
 */
export const DatabaseHealthStatus: { readonly [S in DatabaseHealthStatus]: S } = {
  HEALTHY: "HEALTHY",
  DEGRADED: "DEGRADED",
  UNKNOWN: "UNKNOWN",
  UNHEALTHY: "UNHEALTHY",
  CRITICAL: "CRITICAL"
} as const

/**
 * @since 0.1.0
 * @category models
 */
export type DatabaseHealthStatus = model.DatabaseHealthStatus

/**
 * Orders statuses for "worst of": HEALTHY 0, DEGRADED 1, UNKNOWN 1.5, UNHEALTHY 2, CRITICAL 3. Why:
 * a known emergency outranks "could not assess", which outranks a known warning. The status gauge
 * carries the same number.
 *
 * @since 0.1.0
 * @category utils
 */
export const statusSeverity = (status: DatabaseHealthStatus): number => evaluate.severity[status]

/**
 * Every figure: label, display unit, which direction is worse, default thresholds, whether an
 * unknown value counts toward the verdict, cadence (`every check` or `expensive`), and its gauge.
 *
 * @since 0.1.0
 * @category models
 */
export const figureDefinitions = figures.figureDefinitions

/**
 * @since 0.1.0
 * @category models
 */
export type HealthFigure = figures.HealthFigure

/**
 * What an unknown value of a figure does to the verdict: `ignore`, `UNKNOWN`, or a level.
 *
 * @since 0.2.0
 * @category models
 */
export type WhenUnknown = figures.WhenUnknown

/**
 * A figure's value (or threshold) with its unit, for people: `45s`, `1.5 GiB`, `92.3%`.
 *
 * @since 0.2.0
 * @category utils
 */
export const formatFigure: (figure: HealthFigure, value: number) => string = figures.formatFigure

// ---------------------------------------------------------------------------
// Thresholds
// ---------------------------------------------------------------------------

/**
 * Thresholds: per figure a ladder (degraded, unhealthy, critical), ordered, and `whenUnknown`: what
 * an unknown value does to the verdict (defaults: `UNKNOWN` where privileges or failures hide the
 * figure, `ignore` where there is just nothing to judge).
 *
 * @since 0.1.0
 * @category models
 */
export const HealthThresholds = thresholds.HealthThresholds

/**
 * @since 0.1.0
 * @category models
 */
export type HealthThresholds = thresholds.HealthThresholds

/**
 * One level of the ladder: where each figure starts to count as that level.
 *
 * @since 0.1.0
 * @category models
 */
export type LevelThresholds = thresholds.LevelThresholds

/**
 * The defaults: the seed's for its three figures, ours for the rest.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultThresholds: HealthThresholds = thresholds.defaultThresholds

/**
 * Custom thresholds as the seed takes them: any subset of any level, and of `whenUnknown`; the rest
 * keeps its default.
 *
 * @since 0.1.0
 * @category models
 */
export type HealthThresholdsInput = thresholds.HealthThresholdsInput

/**
 * Some figures of one level; an explicit `undefined` keeps the default (so `{ avgQueryTime: maybeMs }`
 * compiles under `exactOptionalPropertyTypes`).
 *
 * @since 0.2.0
 * @category models
 */
export type LevelThresholdsInput = thresholds.LevelThresholdsInput

/**
 * Invalid thresholds (a wrong value, an unknown key, a ladder out of order). `field` names it, e.g.
 * `degraded.cacheHitRatio` or `avgQueryTime`.
 *
 * @since 0.1.0
 * @category errors
 */
export class HealthThresholdsError extends Schema.TaggedError<HealthThresholdsError>()("HealthThresholdsError", {
  field: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Invalid health thresholds: ${this.field} ${this.reason}`
  }
}

/**
 * Merges custom thresholds over the defaults and validates them.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeThresholds = (
  input: HealthThresholdsInput | unknown = {}
): Either.Either<HealthThresholds, HealthThresholdsError> =>
  Either.mapLeft(thresholds.makeThresholds(input), (problem) => new HealthThresholdsError(problem))

// ---------------------------------------------------------------------------
// What a check measures (the snapshot) and what it reports
// ---------------------------------------------------------------------------

/**
 * Everything one check measured. Figures it could not measure are `null`, with the reason in
 * `unknown`; `partial` lists figures that are only a lower bound (some of what they cover is
 * hidden from the role): they can prove a breach, never health.
 *
 * @since 0.1.0
 * @category models
 */
export type HealthSnapshot = model.HealthSnapshot

/**
 * A figure that could not be measured (or only in part), and why. `remedy` marks reasons that say
 * how to fix it (a grant, an extension); those also become recommendations.
 *
 * @since 0.1.0
 * @category models
 */
export type UnknownFigure = model.UnknownFigure

/**
 * What stands behind the figures: the window judged, the sessions and databases involved, the
 * objects and settings a recommendation refers to. Server-wide figures name the database.
 *
 * @since 0.1.0
 * @category models
 */
export type HealthDetails = model.HealthDetails

/**
 * One replica of a primary, as `details.replication.standbys` lists them: its application name,
 * address, state, sync state and how far behind it is; only `hidden` and the application name when
 * the role may not see its state.
 *
 * @since 0.1.0
 * @category models
 */
export type ReplicaDetails = model.ReplicaDetails

/**
 * The table past its autovacuum (autoanalyze) threshold that waited longest, in `details.tables`.
 *
 * @since 0.1.0
 * @category models
 */
export type TableAge = model.TableAge

/**
 * One figure against its thresholds. `partial`: the value is a lower bound.
 *
 * @since 0.1.0
 * @category models
 */
export type FigureReport = model.FigureReport

/**
 * The result of a check: the seed's shape (`status`, `message`, `metrics`, `recommendations`,
 * `lastChecked`) plus every figure against its thresholds, the details and the unknowns.
 *
 * @since 0.1.0
 * @category models
 */
export type DatabaseHealthCheck = model.DatabaseHealthCheck

/**
 * The JSON form of a `DatabaseHealthCheck` (what `pg-resilience health --json` and `/health` emit),
 * for consumers that validate what they read. The command line leaves out what describes its own
 * idle pool (`pool`, `metrics.connectionPoolUsage` and the pool figures), so those are optional.
 *
 * @since 0.1.0
 * @category schemas
 */
export const DatabaseHealthCheckJson = model.DatabaseHealthCheckJson

/**
 * Judges a snapshot: the worst level over all figures and over the unknowns that count decides the
 * status; an unreachable server is CRITICAL. Pure, so every boundary is testable without a database.
 *
 * @since 0.1.0
 * @category utils
 */
export const evaluateHealth: (
  snapshot: HealthSnapshot,
  thresholds?: HealthThresholds,
  checkedAt?: Date
) => DatabaseHealthCheck = evaluate.evaluateHealth

// ---------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------

/**
 * One gauge per figure in base units (`_seconds`, `_bytes`, `_ratio` 0-1; NaN while unknown), the
 * status (as `statusSeverity`), the session counts and the database's size, for Prometheus or
 * OpenTelemetry exporters. Declared (NaN) as soon as a live `DatabaseHealth` layer is built.
 *
 * @since 0.1.0
 * @category metrics
 */
export const gauges = internalGauges.gauges

/**
 * Sets every gauge from one result (unknown figures as NaN). The live check does it itself; the
 * `HealthMonitor` does it for the CRITICAL result that stands in for a check that failed.
 *
 * @since 0.1.0
 * @category metrics
 */
export const recordGauges: (check: DatabaseHealthCheck) => Effect.Effect<void> = internalGauges.recordGauges

/**
 * The names of the gauges that describe this process's own pool; the command line leaves them
 * out of its `/metrics`, where they would describe its own idle pool.
 *
 * @since 0.2.0
 * @category metrics
 */
export const applicationGaugeNames: ReadonlySet<string> = internalGauges.applicationGaugeNames

// ---------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------

/**
 * Options of the live health service. Validated when the layer is built; an explicit `undefined`
 * means the default.
 *
 * @since 0.1.0
 * @category models
 */
export type DatabaseHealthOptions = options.DatabaseHealthOptions

/**
 * Invalid options of the live service (an unknown key, a duration that is not one, a count out of
 * range), rejected when the layer is built. Thresholds have their own `HealthThresholdsError`.
 *
 * @since 0.2.0
 * @category errors
 */
export class HealthConfigError extends Schema.TaggedError<HealthConfigError>()("HealthConfigError", {
  field: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Invalid health options: ${this.field} ${this.reason}`
  }
}

/**
 * Checks the database.
 *
 * @since 0.1.0
 * @category models
 */
export type DatabaseHealthService = model.DatabaseHealthService

/**
 * The health service.
 *
 * @since 0.1.0
 * @category tags
 */
export class DatabaseHealth extends Context.Tag("effect-pg-resilience/DatabaseHealth")<
  DatabaseHealth,
  DatabaseHealthService
>() {
  /**
   * The live service on the application's `Database` (its pool figures, its probe connection).
   * Invalid options fail the layer with `HealthThresholdsError` or `HealthConfigError`.
   *
   * @deprecated since 0.2.0: use `Health.layer` (the module's), as every other module's layers.
   */
  static readonly layer = (
    options: DatabaseHealthOptions = {}
  ): Layer.Layer<DatabaseHealth, HealthThresholdsError | HealthConfigError, Database> => layer(options)

  /**
   * A stand-in that plays back scripted results in order (the last one repeats), so that an
   * application's tests can drive its reaction to each status without a database.
   *
   * @deprecated since 0.2.0: use `Health.layerTest` (the module's).
   */
  static readonly layerTest = (
    results: ReadonlyArray<Partial<DatabaseHealthCheck> & { readonly status: DatabaseHealthStatus }>
  ): Layer.Layer<DatabaseHealth> => layerTest(results)
}

/**
 * The live service on the application's `Database`. Same as `DatabaseHealth.layer`.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (
  input: DatabaseHealthOptions = {}
): Layer.Layer<DatabaseHealth, HealthThresholdsError | HealthConfigError, Database> =>
  Layer.effect(
    DatabaseHealth,
    Effect.gen(function*() {
      const config = yield* Either.mapLeft(options.validateOptions(input), (problem) =>
        problem.kind === "thresholds"
          ? new HealthThresholdsError({ field: problem.field, reason: problem.reason })
          : new HealthConfigError({ field: problem.field, reason: problem.reason }))
      const db = yield* Database
      yield* internalGauges.declareGauges
      return yield* service.make(db, config)
    })
  )

/**
 * Scripted results, in order (the last one repeats). Same as `DatabaseHealth.layerTest`.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerTest = (
  results: ReadonlyArray<Partial<DatabaseHealthCheck> & { readonly status: DatabaseHealthStatus }>
): Layer.Layer<DatabaseHealth> => Layer.effect(DatabaseHealth, standIns.scriptedService(results))

/**
 * The result that stands in for a check that failed or did not finish (a defect, a custom service
 * that fails or hangs): CRITICAL, every figure unknown, and a message that says the check itself
 * failed and why. Why: a readiness endpoint must never keep serving the last good result.
 *
 * `reason` is plain language, e.g. `it did not finish within 15s`; it must not carry secrets.
 *
 * @since 0.1.0
 * @category constructors
 */
export const failedHealthCheck = (
  reason: string,
  custom: HealthThresholds = defaultThresholds,
  checkedAt: Date = new Date()
): DatabaseHealthCheck => standIns.failedHealthCheck(reason, custom, checkedAt)

/**
 * The seed's `performHealthCheck`: one check with the service's thresholds, or with custom ones
 * (merged over the defaults and validated).
 *
 * @since 0.1.0
 * @category accessors
 */
export function performHealthCheck(): Effect.Effect<DatabaseHealthCheck, never, DatabaseHealth>
export function performHealthCheck(
  thresholds: HealthThresholdsInput
): Effect.Effect<DatabaseHealthCheck, HealthThresholdsError, DatabaseHealth>
export function performHealthCheck(
  custom?: HealthThresholdsInput
): Effect.Effect<DatabaseHealthCheck, HealthThresholdsError, DatabaseHealth> {
  return Effect.flatMap(DatabaseHealth, (health) =>
    custom === undefined
      ? health.check()
      : Effect.flatMap(makeThresholds(custom), (t) => health.check(t)))
}
