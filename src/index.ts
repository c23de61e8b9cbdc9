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
