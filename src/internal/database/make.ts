/**
 * Builds the pool service from a validated configuration: one `pg.Pool`, the `SqlClient`/`PgClient`
 * served from it through the leak-free connection, the probe connection and the figures.
 *
 * @internal
 */
import type * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import * as Statement from "@effect/sql/Statement"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import Pg from "pg"
import type { DatabaseService, ServerVersion } from "../../Database.js"
import { acquireLease, cancelTargetOf, type Expiry, PgConnection, type PoolHandle, ReportingClient, takeLease } from "../pgConnection.js"
import { discardReadOnly, type FailoverPool, makeFailoverPool } from "../failoverPool.js"
import type { HostSelector } from "../hosts.js"
import { connectionSettings, type DatabaseConfig, describeTarget, failoverOf } from "./config.js"
import { makeProbe } from "./probe.js"

/** node-postgres's pool options for a configuration. */
export const poolOptions = (config: DatabaseConfig): Pg.PoolConfig => ({
  ...(connectionSettings(config) as Pg.PoolConfig),
  max: config.maxConnections,
  min: config.minConnections,
  connectionTimeoutMillis: Duration.toMillis(config.connectTimeout),
  idleTimeoutMillis: Duration.toMillis(config.idleTimeout),
  ...(config.connectionTTL !== undefined && Duration.isFinite(config.connectionTTL)
    ? { maxLifetimeSeconds: Duration.toSeconds(config.connectionTTL) }
    : {}),
  Client: ReportingClient,
  ...(config.keepAlive === false
    ? {}
    : { keepAlive: true, keepAliveInitialDelayMillis: Duration.toMillis(config.keepAlive) })
})

/** What @effect/sql-pg's `PgClient.config` says for this pool, as its own `make` fills it in. */
export const pgClientConfig = (config: DatabaseConfig): PgClient.PgClientConfig => {
  const entries: Record<string, unknown> = {
    url: config.url,
    host: config.host ?? config.path,
    port: config.port,
    path: config.path,
    ssl: config.ssl,
    database: config.database,
    username: config.username,
    password: config.password,
    stream: config.stream,
    idleTimeout: config.idleTimeout,
    connectTimeout: config.connectTimeout,
    maxConnections: config.maxConnections,
    minConnections: config.minConnections,
    connectionTTL: config.connectionTTL,
    applicationName: config.applicationName,
    spanAttributes: config.spanAttributes,
    transformResultNames: config.transformResultNames,
    transformQueryNames: config.transformQueryNames,
    transformJson: config.transformJson,
    types: config.types
  }
  return Object.fromEntries(Object.entries(entries).filter(([, value]) => value !== undefined)) as PgClient.PgClientConfig
}

/** The attributes of every statement span: the caller's, then the semantic conventions' (as @effect/sql-pg). */
const spanAttributes = (config: DatabaseConfig): ReadonlyArray<readonly [string, unknown]> => [
  ...Object.entries(config.spanAttributes ?? {}),
  ["db.system.name", "postgresql"],
  ["db.namespace", config.database ?? config.username ?? "postgres"],
  ["server.address", config.host ?? config.path ?? "localhost"],
  ["server.port", config.port ?? 5432]
]

/** Opens `count` connections at once and returns them to the pool (best effort, in the background). */
const warmUp = (handle: PoolHandle, count: number) =>
  Effect.forEach(Array.from({ length: count }), () => acquireLease(handle), { concurrency: "unbounded", discard: true })
    .pipe(
      Effect.scoped,
      Effect.catchAllCause((cause) =>
        Effect.logDebug("could not open the pool's minimum connections; they open on first use", cause)
      ),
      Effect.withSpan("Database.warmUp", { kind: "client", attributes: { "db.system.name": "postgresql", count } })
    )

export const make = (
  config: DatabaseConfig
): Effect.Effect<DatabaseService, never, Scope.Scope | Reactivity.Reactivity> =>
  Effect.gen(function*() {
    const runtime = yield* Effect.runtime<never>()
    const options = poolOptions(config)
    const target = describeTarget(config)
    const failover = failoverOf(config)
    const pool: Pg.Pool & { readonly selector?: HostSelector; readonly HostClient?: FailoverPool["HostClient"] } = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const pool: Pg.Pool = failover ? makeFailoverPool({ ...options, ...failover }) : new Pg.Pool(options)
        pool.on("error", (error: Error & { code?: string }) => {
          Runtime.runFork(runtime)(
            Effect.logDebug("idle pooled connection failed and was discarded").pipe(
              Effect.annotateLogs({ database: target, code: error.code ?? "none" })
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
      cancelTarget: cancelTargetOf(options),
      cancelGraceMillis: Duration.toMillis(config.cancelGrace),
      observe: (millis) => {
        statementCount++
        statementMillis += millis
      },
      discardAfter: (client, error) => discardReadOnly(pool.selector, client, error)
    }

    const reserve = Effect.map(acquireLease(handle), (lease) => new PgConnection(handle, lease))
    const leaseUntil = (expiry: Expiry) => Effect.map(takeLease(handle, expiry), (lease) => new PgConnection(handle, lease))

    // The stock PgClient supplies listen and json; every statement and every transaction goes
    // through our connection instead of its leaky one.
    const stock = yield* PgClient.fromPool({ acquire: Effect.succeed(pool) }).pipe(Effect.orDie)
    const sql = yield* SqlClient.make({
      acquirer: Effect.succeed(new PgConnection(handle, undefined)),
      transactionAcquirer: reserve,
      compiler: PgClient.makeCompiler(config.transformQueryNames, config.transformJson),
      spanAttributes: spanAttributes(config),
      transformRows: config.transformResultNames
        ? Statement.defaultTransforms(config.transformResultNames, config.transformJson).array
        : undefined
    })
    const client: PgClient.PgClient = Object.assign(sql, {
      [PgClient.TypeId]: PgClient.TypeId,
      config: pgClientConfig(config),
      json: stock.json,
      listen: stock.listen,
      // @effect/sql-pg 0.53 sends `NOTIFY "channel", $1`, which PostgreSQL rejects (42601: NOTIFY
      // takes no parameters); pg_notify does the same with parameters.
      notify: (channel: string, payload: string) =>
        sql.withoutTransforms()`SELECT pg_notify(${channel}, ${payload})`.pipe(
          Effect.asVoid,
          Effect.mapError((error) => new SqlError({ cause: error.cause, message: "Failed to notify" }))
        )
    }) as PgClient.PgClient

    if (config.minConnections > 0) yield* Effect.forkScoped(warmUp(handle, config.minConnections))

    const withProbeConnection = yield* makeProbe({
      ...options,
      application_name: `${config.applicationName} probe`.slice(0, 63)
    }, pool.HostClient)

    // Read once per pool, but only a success is kept: a failure (the server not up yet) is asked
    // again next time instead of being served for the life of the process.
    let knownVersion: ServerVersion | undefined
    const serverVersion = Effect.suspend(() =>
      knownVersion !== undefined
        ? Effect.succeed(knownVersion)
        : Effect.map(
          sql.withoutTransforms()<{ num: string; text: string }>`SELECT current_setting('server_version_num') AS num,
            current_setting('server_version') AS text`,
          (rows) => {
            const num = Number(rows[0]?.num ?? 0)
            knownVersion = { num, major: Math.floor(num / 10_000), text: rows[0]?.text ?? "unknown" }
            return knownVersion
          }
        )
    )

    return {
      config,
      sql: client,
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
      leaseUntil,
      withProbeConnection
    }
  })
