/**
 * The connection pool, owned by this library and handed to @effect/sql.
 *
 * Why own it: @effect/sql-pg hides its `pg.Pool`, so pool statistics are invisible, and its
 * reservation path leaks a client when a queued reservation is interrupted. `Database.layer`
 * creates one `pg.Pool`, serves `SqlClient` and `PgClient` from it through a connection that cannot
 * leak, and exposes what the transaction and health modules need.
 *
 * @since 0.1.0
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Runtime from "effect/Runtime"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { ConnectionOptions } from "node:tls"
import Pg from "pg"
import { acquireLease, cancelTargetOf, destroyClient, PgConnection, type PoolHandle } from "./internal/pgConnection.js"
import { redactUrl } from "./internal/redact.js"

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

const isPostgresUrl = (url: string): boolean => {
  try {
    const parsed = new URL(url)
    return parsed.protocol === "postgres:" || parsed.protocol === "postgresql:"
  } catch {
    return false
  }
}

const ConnectionUrl = Schema.Union(
  Schema.RedactedFromSelf(Schema.String),
  Schema.Redacted(Schema.String)
).pipe(
  Schema.filter((url) => isPostgresUrl(Redacted.value(url)), {
    message: () => "must be a postgres:// or postgresql:// connection URL"
  })
)

const DurationInput = Schema.transformOrFail(Schema.Unknown, Schema.DurationFromSelf, {
  strict: true,
  decode: (input, _, ast) =>
    Option.match(Duration.decodeUnknown(input), {
      onNone: () =>
        ParseResult.fail(
          new ParseResult.Type(ast, input, "must be a duration such as \"5 seconds\" or a number of milliseconds")
        ),
      onSome: ParseResult.succeed
    }),
  encode: ParseResult.succeed
})

const PositiveDuration = DurationInput.pipe(
  Schema.filter((d) => Duration.isFinite(d) && Duration.greaterThan(d, Duration.zero), {
    message: () => "must be a finite duration greater than zero"
  })
)

const NonNegativeDuration = DurationInput.pipe(
  Schema.filter((d) => Duration.isFinite(d), { message: () => "must be a finite duration" })
)

const ApplicationName = Schema.String.pipe(
  Schema.filter((s) => Buffer.byteLength(s) <= 63 && /^[\x20-\x7e]*$/.test(s), {
    message: () => "must be at most 63 printable ASCII characters"
  })
)

const Ssl = Schema.Union(Schema.Boolean, Schema.Object)

/**
 * The validated pool configuration. Decoding it is the only way a pool is built, so an invalid value
 * never reaches a connection.
 *
 * @since 0.1.0
 */
export const DatabaseConfig = Schema.Struct({
  url: ConnectionUrl,
  maxConnections: Schema.optionalWith(
    Schema.Int.pipe(Schema.between(1, 10_000, { message: () => "must be an integer from 1 to 10000" })),
    { default: () => 10 }
  ),
  connectTimeout: Schema.optionalWith(PositiveDuration, { default: () => Duration.seconds(5) }),
  idleTimeout: Schema.optionalWith(NonNegativeDuration, { default: () => Duration.seconds(10) }),
  applicationName: Schema.optionalWith(ApplicationName, { default: () => "effect-pg-resilience" }),
  ssl: Schema.optional(Ssl),
  cancelGrace: Schema.optionalWith(PositiveDuration, { default: () => Duration.seconds(2) })
})

/**
 * What `Database.layer` accepts: the URL as a string or `Redacted`, durations as any
 * `Duration.DurationInput`.
 *
 * @since 0.1.0
 */
export interface DatabaseConfigInput {
  /** `postgres://user:password@host:port/database`; kept `Redacted` from here on. */
  readonly url: Redacted.Redacted<string> | string
  /** Size of the application pool (default 10). */
  readonly maxConnections?: number
  /** Longest wait for a connection, also for a free pool slot (default 5 s): no waiter queues forever. */
  readonly connectTimeout?: Duration.DurationInput
  /** How long an idle pooled connection is kept (default 10 s; 0 keeps them). */
  readonly idleTimeout?: Duration.DurationInput
  /** `application_name` shown in `pg_stat_activity` (default `effect-pg-resilience`). */
  readonly applicationName?: string
  /** TLS: `true` or node's `tls.ConnectionOptions`. */
  readonly ssl?: boolean | ConnectionOptions
  /** How long an interrupted statement may take to end after its cancel request before its
   * connection is destroyed (default 2 s). */
  readonly cancelGrace?: Duration.DurationInput
}

/**
 * A validated configuration.
 *
 * @since 0.1.0
 */
export type DatabaseConfig = typeof DatabaseConfig.Type

/**
 * Invalid configuration, rejected before any connection is made. `field` names the offending
 * setting; neither the message nor `toString` ever contains the connection password.
 *
 * @since 0.1.0
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
 */
export const validateConfig = (input: DatabaseConfigInput | unknown): Effect.Effect<DatabaseConfig, DatabaseConfigError> =>
  Either.match(Schema.decodeUnknownEither(DatabaseConfig, { errors: "all" })(input), {
    onRight: Effect.succeed,
    onLeft: (error) => {
      const issues: Array<{ field: string; reason: string }> = []
      for (const issue of ParseResult.ArrayFormatter.formatErrorSync(error)) {
        const field = issue.path.length > 0 ? issue.path.join(".") : "config"
        // A union reports one issue per member; the first one per field is the useful one.
        if (!issues.some((known) => known.field === field)) {
          issues.push({ field, reason: safeReason(issue.path, issue.message) })
        }
      }
      const first = issues[0] ?? { field: "config", reason: "is invalid" }
      return Effect.fail(new DatabaseConfigError({ field: first.field, reason: first.reason, issues }))
    }
  })

// The URL is the one field whose value may hold a secret: its reason never echoes the value.
const safeReason = (path: ReadonlyArray<PropertyKey>, message: string): string =>
  path[0] === "url"
    ? message.includes("must be a postgres") ? message : "must be a postgres:// connection URL (string or Redacted)"
    : message

// ---------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------

/**
 * Live figures of the application pool.
 *
 * @since 0.1.0
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
 */
export interface StatementStats {
  readonly count: number
  readonly totalMillis: number
}

/**
 * What the other modules need from the pool.
 *
 * @since 0.1.0
 */
export interface DatabaseService {
  readonly config: DatabaseConfig
  /** The `pg.Pool` itself, for diagnostics; prefer `SqlClient` for work. */
  readonly pool: Pg.Pool
  readonly poolStats: Effect.Effect<PoolStats>
  readonly serverVersion: Effect.Effect<ServerVersion, SqlError>
  readonly statementStats: Effect.Effect<StatementStats>
  /**
   * A pooled connection for the current scope, on the leak-free path. The transaction module uses
   * it to run BEGIN/COMMIT itself.
   */
  readonly reserve: Effect.Effect<PgConnection, SqlError, Scope.Scope>
  /**
   * Runs `f` on a dedicated connection outside the application pool (one at a time), so that a
   * health probe never queues behind application work. The connection is discarded after any
   * failure or interruption, and re-opened on next use.
   */
  readonly withProbeConnection: <A, E, R>(
    f: (client: Pg.Client) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | SqlError, R>
}

/**
 * The pool service.
 *
 * @since 0.1.0
 */
export class Database extends Context.Tag("effect-pg-resilience/Database")<Database, DatabaseService>() {}


const connectClient = (client: Pg.Client): Effect.Effect<Pg.Client, SqlError> =>
  Effect.async<Pg.Client, SqlError>((resume) => {
    client.on("error", () => {})
    client.connect((error: Error | undefined) => {
      if (error) resume(Effect.fail(new SqlError({ cause: error, message: "Failed to acquire connection" })))
      else resume(Effect.succeed(client))
    })
    return Effect.sync(() => destroyClient(client))
  })

const endClient = (client: Pg.Client): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    client.end().then(
      () => resume(Effect.void),
      () => resume(Effect.void)
    )
  }).pipe(Effect.timeoutOption(1000), Effect.asVoid)

/**
 * Builds the pool, the `SqlClient`/`PgClient` on it and the `Database` service. Nothing connects
 * until the first statement.
 *
 * @since 0.1.0
 */
export const make = (
  input: DatabaseConfigInput
): Effect.Effect<Context.Context<Database | PgClient.PgClient | SqlClient.SqlClient>, DatabaseConfigError, Scope.Scope> =>
  Effect.gen(function*() {
    const config = yield* validateConfig(input)
    const runtime = yield* Effect.runtime<never>()
    const connectionTimeoutMillis = Duration.toMillis(config.connectTimeout)
    const poolConfig: Pg.PoolConfig = {
      connectionString: Redacted.value(config.url),
      max: config.maxConnections,
      connectionTimeoutMillis,
      idleTimeoutMillis: Duration.toMillis(config.idleTimeout),
      application_name: config.applicationName,
      ...(config.ssl !== undefined ? { ssl: config.ssl as boolean | ConnectionOptions } : {})
    }
    const pool = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const pool = new Pg.Pool(poolConfig)
        pool.on("error", (error: Error & { code?: string }) => {
          Runtime.runFork(runtime)(
            Effect.logWarning("idle pooled connection failed and was discarded").pipe(
              Effect.annotateLogs({ database: redactUrl(Redacted.value(config.url)), code: error.code ?? "none" })
            )
          )
        })
        return pool
      }),
      (pool) =>
        (pool.ending ? Effect.void : Effect.promise(() => pool.end())).pipe(
          Effect.timeoutOption(5000),
          Effect.flatMap((ended) =>
            Option.isNone(ended)
              ? Effect.logWarning("pool did not end within 5 s: a connection is still checked out")
              : Effect.void
          )
        )
    )

    let statementCount = 0
    let statementMillis = 0
    const handle: PoolHandle = {
      pool,
      cancelTarget: cancelTargetOf(poolConfig),
      cancelGraceMillis: Duration.toMillis(config.cancelGrace),
      observe: (millis) => {
        statementCount++
        statementMillis += millis
      }
    }

    const reserve = Effect.map(acquireLease(handle), (lease) => new PgConnection(handle, lease))

    // The stock PgClient supplies listen/notify/json and its config; every statement and every
    // transaction goes through our connection instead of its leaky one.
    const stock = yield* PgClient.fromPool({
      acquire: Effect.succeed(pool),
      applicationName: config.applicationName
    }).pipe(
      Effect.provide(Reactivity.layer),
      Effect.orDie
    )
    const sql = yield* SqlClient.make({
      acquirer: Effect.succeed(new PgConnection(handle, undefined)),
      transactionAcquirer: reserve,
      compiler: PgClient.makeCompiler(),
      spanAttributes: [["db.system.name", "postgresql"]]
    }).pipe(Effect.provide(Reactivity.layer))
    const pgClient: PgClient.PgClient = Object.assign(sql, {
      [PgClient.TypeId]: PgClient.TypeId,
      config: stock.config,
      json: stock.json,
      listen: stock.listen,
      notify: stock.notify
    }) as PgClient.PgClient

    // Probe connection: one dedicated client, re-opened after any failure.
    const probeLock = yield* Effect.makeSemaphore(1)
    let probe: Pg.Client | undefined
    const dropProbe = Effect.suspend(() => {
      const current = probe
      probe = undefined
      return current ? endClient(current) : Effect.void
    })
    // After a failure or an interruption the probe's socket is cut at once: the server may be hung,
    // and a graceful end would wait on it.
    const discardProbe = Effect.sync(() => {
      const current = probe
      probe = undefined
      if (current) destroyClient(current)
    })
    yield* Effect.addFinalizer(() => dropProbe)
    const probeClient = Effect.suspend(() =>
      probe && (probe as unknown as { _queryable?: boolean })._queryable !== false
        ? Effect.succeed(probe)
        : Effect.zipRight(
          discardProbe,
          Effect.tap(
            connectClient(
              new Pg.Client({ ...poolConfig, application_name: `${config.applicationName} probe`.slice(0, 63) })
            ),
            (client) => {
              probe = client
            }
          )
        )
    )
    const withProbeConnection = <A, E, R>(f: (client: Pg.Client) => Effect.Effect<A, E, R>) =>
      probeLock.withPermits(1)(
        Effect.onExit(Effect.flatMap(probeClient, f), (exit): Effect.Effect<void> => (exit._tag === "Success" ? Effect.void : discardProbe))
      )

    const serverVersion = yield* Effect.cachedInvalidateWithTTL(
      Effect.map(
        sql<{ num: string; text: string }>`SELECT current_setting('server_version_num') AS num,
          current_setting('server_version') AS text`,
        (rows) => {
          const num = Number(rows[0]?.num ?? 0)
          return { num, major: Math.floor(num / 10_000), text: rows[0]?.text ?? "unknown" }
        }
      ),
      Duration.infinity
    ).pipe(Effect.map(([cached]) => cached))

    const service: DatabaseService = {
      config,
      pool,
      poolStats: Effect.sync(() => ({
        total: pool.totalCount,
        idle: pool.idleCount,
        inUse: pool.totalCount - pool.idleCount,
        waiting: pool.waitingCount,
        max: config.maxConnections
      })),
      serverVersion,
      statementStats: Effect.sync(() => ({ count: statementCount, totalMillis: statementMillis })),
      reserve,
      withProbeConnection
    }
    return Context.make(Database, service).pipe(
      Context.add(PgClient.PgClient, pgClient),
      Context.add(SqlClient.SqlClient, sql)
    )
  })

/**
 * The pool as a Layer: `Database`, `PgClient` and `SqlClient` from one configuration.
 *
 * @since 0.1.0
 */
export const layer = (
  config: DatabaseConfigInput
): Layer.Layer<Database | PgClient.PgClient | SqlClient.SqlClient, DatabaseConfigError> =>
  Layer.scopedContext(make(config))

/**
 * The pool from Effect `Config`: `DATABASE_URL` (required), `DATABASE_MAX_CONNECTIONS`,
 * `DATABASE_CONNECT_TIMEOUT`, `DATABASE_IDLE_TIMEOUT`, `DATABASE_APPLICATION_NAME`, `DATABASE_SSL`.
 *
 * @since 0.1.0
 */
export const layerConfig = (
  overrides: Omit<DatabaseConfigInput, "url"> = {}
): Layer.Layer<Database | PgClient.PgClient | SqlClient.SqlClient, DatabaseConfigError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(
    Effect.map(configFromEnvironment, (fromEnv) => layer({ ...fromEnv, ...overrides }))
  )

/**
 * Reads the pool settings from Effect `Config`, leaving validation to `validateConfig`.
 *
 * @since 0.1.0
 */
export const configFromEnvironment: Effect.Effect<DatabaseConfigInput, ConfigError.ConfigError> = Effect.gen(
  function*() {
    const url = yield* Config.redacted("DATABASE_URL")
    const maxConnections = yield* Config.option(Config.integer("DATABASE_MAX_CONNECTIONS"))
    const connectTimeout = yield* Config.option(Config.duration("DATABASE_CONNECT_TIMEOUT"))
    const idleTimeout = yield* Config.option(Config.duration("DATABASE_IDLE_TIMEOUT"))
    const applicationName = yield* Config.option(Config.string("DATABASE_APPLICATION_NAME"))
    const ssl = yield* Config.option(Config.boolean("DATABASE_SSL"))
    return {
      url,
      ...Option.match(maxConnections, { onNone: () => ({}), onSome: (maxConnections) => ({ maxConnections }) }),
      ...Option.match(connectTimeout, { onNone: () => ({}), onSome: (connectTimeout) => ({ connectTimeout }) }),
      ...Option.match(idleTimeout, { onNone: () => ({}), onSome: (idleTimeout) => ({ idleTimeout }) }),
      ...Option.match(applicationName, { onNone: () => ({}), onSome: (applicationName) => ({ applicationName }) }),
      ...Option.match(ssl, { onNone: () => ({}), onSome: (ssl) => ({ ssl }) })
    }
  }
)
