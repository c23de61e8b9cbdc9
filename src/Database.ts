/**
 * The connection pool, owned by this library and handed to @effect/sql.
 *
 * Why own it: @effect/sql-pg hides its `pg.Pool`, so pool statistics are invisible, and its
 * reservation path leaks a client when a queued reservation is interrupted. `Database.layer` takes
 * every option of `PgClient.layer` (with the same meaning) and creates one `pg.Pool`, serves
 * `SqlClient` and `PgClient` from it through a connection that cannot leak, and exposes what the
 * transaction and health modules need.
 *
 * @since 0.1.0
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { Duplex } from "node:stream"
import type { ConnectionOptions } from "node:tls"
import * as internalConfig from "./internal/database/config.js"
import * as internalMake from "./internal/database/make.js"

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

/**
 * Parsers of column values by type OID, as node-postgres takes them (`pg.types`, or an object of
 * your own with a `getTypeParser`).
 *
 * @since 0.1.0
 * @category models
 */
export interface TypeParsers {
  readonly getTypeParser: (oid: number, format?: any) => any
}

/**
 * What `Database.layer` accepts: every option of @effect/sql-pg's `PgClientConfig` (0.53), with
 * the same meaning, and the pool's own (`cancelGrace`, `keepAlive`). An explicit `undefined` means
 * "the default"; an unknown key is a `DatabaseConfigError`.
 *
 * Where the server is: `url`, or the separate `host`, `port`, `path`, `database`, `username`,
 * `password`, or both (a field may complete the URL, e.g. a password kept apart, but not contradict
 * it).
 *
 * @since 0.1.0
 * @category models
 */
export interface DatabaseConfigInput {
  /** `postgres://user:password@host:port/database?...`; kept `Redacted` from here on. */
  readonly url?: Redacted.Redacted<string> | string | undefined
  /**
   * Several servers, tried in order for each new connection (libpq's multi-host convention; the URL
   * form is `postgres://h1:5432,h2:5432/app`). A port left out is `port`'s (default 5432). With
   * `targetSessionAttrs`, a server whose session does not fit is skipped, so that after a failover
   * new connections find the promoted primary.
   */
  readonly hosts?: ReadonlyArray<{ readonly host: string; readonly port?: number | undefined }> | undefined
  /**
   * Which server's session will do, as libpq's `target_session_attrs` (also read from the URL):
   * `any` (default), `read-write`, `primary`, `standby`, `prefer-standby` (`read-only` too).
   */
  readonly targetSessionAttrs?: "any" | "read-write" | "read-only" | "primary" | "standby" | "prefer-standby" | undefined
  /** Server host name or address (or a socket directory starting with `/`). */
  readonly host?: string | undefined
  /** Server port (default 5432). */
  readonly port?: number | undefined
  /** Unix-domain socket: its directory (`/var/run/postgresql`) or its file (`/tmp/.s.PGSQL.5432`). */
  readonly path?: string | undefined
  /** TLS: `true` or node's `tls.ConnectionOptions` (e.g. `{ ca }`, `{ rejectUnauthorized: false }`). */
  readonly ssl?: boolean | ConnectionOptions | undefined
  readonly database?: string | undefined
  readonly username?: string | undefined
  /** Kept `Redacted`: never in an error, a log line, `toString` or JSON. */
  readonly password?: Redacted.Redacted<string> | string | undefined
  /** Makes the socket of each connection (node-postgres calls `connect(port, host)` on it). */
  readonly stream?: (() => Duplex) | undefined
  /** How long an idle pooled connection is kept (default 10 s; 0 keeps them). */
  readonly idleTimeout?: Duration.DurationInput | undefined
  /** Longest wait for a connection, also for a free pool slot (default 5 s): no waiter queues forever. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** Size of the application pool (default 10). */
  readonly maxConnections?: number | undefined
  /**
   * Connections opened when the layer is built (in the background) and never closed for being idle
   * (default 0).
   */
  readonly minConnections?: number | undefined
  /** Longest life of a connection: it is closed when it is next idle after that (default none). */
  readonly connectionTTL?: Duration.DurationInput | undefined
  /** `application_name` shown in `pg_stat_activity` (default `effect-pg-resilience`). */
  readonly applicationName?: string | undefined
  /** Added to every statement span, before the semantic-convention ones. */
  readonly spanAttributes?: Record<string, unknown> | undefined
  /** Renames result columns, e.g. `String.snakeToCamel` (`first_name` → `firstName`). */
  readonly transformResultNames?: ((str: string) => string) | undefined
  /** Renames identifiers and helper keys in statements, e.g. `String.camelToSnake`. */
  readonly transformQueryNames?: ((str: string) => string) | undefined
  /** Whether the transforms also apply inside JSON values (default true). */
  readonly transformJson?: boolean | undefined
  /** Column value parsers, passed to node-postgres. */
  readonly types?: TypeParsers | undefined
  /** How long an interrupted statement may take to end after its cancel request before its
   * connection is destroyed (default 2 s). */
  readonly cancelGrace?: Duration.DurationInput | undefined
  /**
   * TCP keep-alive on every connection: how long a connection may be silent before the first probe
   * (default 10 s), or `false` to turn it off. Without it a connection whose network went away is
   * noticed only when it is next used.
   */
  readonly keepAlive?: Duration.DurationInput | false | undefined
}

/**
 * A validated configuration, with what the URL says filled in (`host`, `port`, `username`,
 * `password`, `database`, `applicationName`).
 *
 * @since 0.1.0
 * @category models
 */
export type DatabaseConfig = internalConfig.DatabaseConfig

/**
 * Invalid configuration, rejected before any connection is made. `field` names the offending
 * setting (an unknown key names itself); neither the message nor `toString` ever contains the
 * password or the URL.
 *
 * @since 0.1.0
 * @category errors
 */
export class DatabaseConfigError extends Schema.TaggedError<DatabaseConfigError>()("DatabaseConfigError", {
  field: Schema.String,
  reason: Schema.String,
  issues: Schema.Array(Schema.Struct({ field: Schema.String, reason: Schema.String }))
}) {
  override get message(): string {
    return `Invalid database configuration: ${this.field} ${this.reason}`
  }
}

/**
 * Validates a configuration without touching the network.
 *
 * @since 0.1.0
 * @category validation
 */
export const validateConfig = (input: DatabaseConfigInput | unknown): Effect.Effect<DatabaseConfig, DatabaseConfigError> =>
  Either.match(internalConfig.validate(input), {
    onRight: Effect.succeed,
    onLeft: (issues) => Effect.fail(new DatabaseConfigError({ ...issues[0], issues }))
  })

// ---------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------

/**
 * Live figures of the application pool.
 *
 * @since 0.1.0
 * @category models
 */
export interface PoolStats {
  /** Connections open (idle + in use). */
  readonly total: number
  readonly idle: number
  readonly inUse: number
  /** Callers queued for a connection. */
  readonly waiting: number
  readonly max: number
}

/**
 * The server's version, read once per pool.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerVersion {
  /** `server_version_num`, e.g. 180004. */
  readonly num: number
  readonly major: number
  /** `server_version`, e.g. "18.4". */
  readonly text: string
}

/**
 * Latency of the application's own statements, as observed by this library. The health check uses
 * it when `pg_stat_statements` is not available.
 *
 * @since 0.1.0
 * @category models
 */
export interface StatementStats {
  readonly count: number
  readonly totalMillis: number
}

/**
 * The pool: its configuration, the `SqlClient` / `PgClient` served from it, and its figures.
 *
 * The connection-level members the transaction engine and the health probe use (`pool`,
 * `reserve`, `leaseUntil`, `withProbeConnection`) are internal: they carry node-postgres types, which
 * the public types never mention (see `internal/database/internals.ts`).
 *
 * @since 0.1.0
 * @category models
 */
export interface DatabaseService {
  readonly config: DatabaseConfig
  /** The `SqlClient` / `PgClient` served from this pool (what the layer provides as both). */
  readonly sql: PgClient.PgClient
  readonly poolStats: Effect.Effect<PoolStats>
  readonly serverVersion: Effect.Effect<ServerVersion, SqlError>
  readonly statementStats: Effect.Effect<StatementStats>
}

/**
 * The pool service.
 *
 * @since 0.1.0
 * @category tags
 */
export class Database extends Context.Tag("effect-pg-resilience/Database")<Database, DatabaseService>() {}

/**
 * Builds the pool and the `SqlClient`/`PgClient` on it, after validating the configuration. Nothing
 * connects until the first statement (but `minConnections`, opened in the background).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: DatabaseConfigInput
): Effect.Effect<DatabaseService, DatabaseConfigError, Scope.Scope | Reactivity.Reactivity> =>
  Effect.flatMap(validateConfig(options), internalMake.make)

const toContext = (service: DatabaseService): Context.Context<Database | PgClient.PgClient | SqlClient.SqlClient> =>
  Context.make(Database, service).pipe(
    Context.add(PgClient.PgClient, service.sql),
    Context.add(SqlClient.SqlClient, service.sql)
  )

/**
 * The pool as a Layer: `Database`, `PgClient` and `SqlClient` from one configuration, in place of
 * `PgClient.layer`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: DatabaseConfigInput
): Layer.Layer<Database | PgClient.PgClient | SqlClient.SqlClient, DatabaseConfigError> =>
  Layer.scopedContext(Effect.map(make(options), toContext)).pipe(Layer.provide(Reactivity.layer))

/**
 * The pool from Effect `Config`, as `PgClient.layerConfig`: each option a `Config` (or the whole a
 * `Config`). Without an argument it reads the environment (see `configFromEnvironment`).
 *
 * @example
 * ```ts
 * Database.layerConfig({
 *   url: Config.redacted("DATABASE_URL"),
 *   transformQueryNames: Config.succeed(String.camelToSnake)
 * })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<DatabaseConfigInput> = configFromEnvironment
): Layer.Layer<Database | PgClient.PgClient | SqlClient.SqlClient, DatabaseConfigError | ConfigError.ConfigError> =>
  Layer.scopedContext(
    Config.unwrap(config).pipe(Effect.flatMap(make), Effect.map(toContext))
  ).pipe(Layer.provide(Reactivity.layer))

const optional = <A>(config: Config.Config<A>): Config.Config<A | undefined> =>
  Config.map(Config.option(config), Option.getOrUndefined)

/**
 * The pool settings from the environment: `DATABASE_URL` (or `DATABASE_HOST`), `DATABASE_PORT`,
 * `DATABASE_NAME`, `DATABASE_USERNAME`, `DATABASE_PASSWORD`, `DATABASE_SSL`,
 * `DATABASE_MAX_CONNECTIONS`, `DATABASE_MIN_CONNECTIONS`, `DATABASE_CONNECT_TIMEOUT`,
 * `DATABASE_IDLE_TIMEOUT`, `DATABASE_CONNECTION_TTL`, `DATABASE_APPLICATION_NAME`. Values are
 * validated by `validateConfig` when the layer is built.
 *
 * @since 0.1.0
 * @category config
 */
export const configFromEnvironment: Config.Config<DatabaseConfigInput> = Config.all({
  url: optional(Config.redacted("DATABASE_URL")),
  host: optional(Config.string("DATABASE_HOST")),
  port: optional(Config.integer("DATABASE_PORT")),
  database: optional(Config.string("DATABASE_NAME")),
  username: optional(Config.string("DATABASE_USERNAME")),
  password: optional(Config.redacted("DATABASE_PASSWORD")),
  ssl: optional(Config.boolean("DATABASE_SSL")),
  maxConnections: optional(Config.integer("DATABASE_MAX_CONNECTIONS")),
  minConnections: optional(Config.integer("DATABASE_MIN_CONNECTIONS")),
  connectTimeout: optional(Config.duration("DATABASE_CONNECT_TIMEOUT")),
  idleTimeout: optional(Config.duration("DATABASE_IDLE_TIMEOUT")),
  connectionTTL: optional(Config.duration("DATABASE_CONNECTION_TTL")),
  applicationName: optional(Config.string("DATABASE_APPLICATION_NAME"))
}).pipe(
  Config.validate({
    message: "Expected DATABASE_URL (or DATABASE_HOST) to be set",
    validation: (config) => config.url !== undefined || config.host !== undefined
  })
)
