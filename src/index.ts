/**
 * effect-pg-resilience: PostgreSQL work in Effect applications that survives the real world.
 *
 * @since 0.1.0
 */

/**
 * The owned connection pool behind `SqlClient` / `PgClient`.
 *
 * @since 0.1.0
 */
export * as Database from "./Database.js"

/**
 * A real, disposable PostgreSQL 18 for tests, demos and the CLI.
 *
 * @since 0.1.0
 */
export * as EmbeddedPostgres from "./EmbeddedPostgres.js"

/**
 * The `DatabaseError` union of tagged errors, with categories and recovery actions.
 *
 * @since 0.1.0
 */
export * as Errors from "./Errors.js"

/**
 * Classification of any database failure into the `DatabaseError` union.
 *
 * @since 0.1.0
 */
export * as Classify from "./Classify.js"

/**
 * Transactions as Effect values: isolation, deadline, safe retries, typed COMMIT failures.
 *
 * @since 0.1.0
 */
export * as Transaction from "./Transaction.js"

/**
 * Database health: measure (probe connection, hard timeout), judge (pure), recommend.
 *
 * @since 0.1.0
 */
export * as Health from "./Health.js"

/**
 * Periodic health checks as a scoped fiber, with the latest result and a stream of changes.
 *
 * @since 0.1.0
 */
export * as HealthMonitor from "./HealthMonitor.js"

/**
 * Every Effect metric of the process as Prometheus text.
 *
 * @since 0.1.0
 */
export * as Metrics from "./Metrics.js"

/**
 * The seed's plain functions and enum-like objects, with the seed's names.
 *
 * @since 0.1.0
 */
export {
  classifyDatabaseError,
  getDatabaseErrorMessage,
  getDatabaseRecoveryAction,
  isDatabaseErrorRetryable
} from "./Classify.js"
/** @since 0.1.0 */
export { DatabaseErrorCategory, DatabaseRecoveryAction } from "./Errors.js"
/** @since 0.1.0 */
export { withTransaction, withTransactionRetry } from "./Transaction.js"
/** @since 0.1.0 */
export { DatabaseHealthStatus, performHealthCheck } from "./Health.js"
/** @since 0.1.0 */
export { scheduleHealthChecks } from "./HealthMonitor.js"
