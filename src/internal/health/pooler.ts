/**
 * A connection pooler in front of the server (PgBouncer, or another that hands out cancel keys of its
 * own): detected when the connection's reported backend pid is not the backend's
 * `pg_backend_pid()`, and read through PgBouncer's admin console (`SHOW POOLS`, `SHOW DATABASES`)
 * when one is configured. Clients waiting in the pooler cannot be seen from PostgreSQL at all. Pure:
 * the console's rows in, figures, details and unknowns out.
 *
 * @internal
 */
import * as Schema from "effect/Schema"
import type { HealthFigure } from "./figures.js"
import type { HealthDetails, UnknownFigure } from "./model.js"

/** PgBouncer answers int8 columns, which node-postgres hands over as text. */
const Count = Schema.Union(Schema.Number, Schema.NumberFromString)
const OptionalCount = Schema.optionalWith(Schema.NullOr(Count), { default: () => null })

/** A row of `SHOW POOLS` (the columns used; PgBouncer 1.18 to 1.24 have them all). */
export const PoolRow = Schema.Struct({
  database: Schema.String,
  user: Schema.String,
  cl_active: Count,
  cl_waiting: Count,
  sv_active: Count,
  sv_idle: Count,
  sv_used: Count,
  sv_tested: OptionalCount,
  sv_login: OptionalCount,
  maxwait: Count,
  maxwait_us: OptionalCount,
  pool_mode: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null })
})
export type PoolRow = typeof PoolRow.Type

/** A row of `SHOW DATABASES` (the pool size of each database). */
export const DatabaseRow = Schema.Struct({
  name: Schema.String,
  pool_size: OptionalCount,
  current_connections: OptionalCount
})
export type DatabaseRow = typeof DatabaseRow.Type

/** What one read of the admin console found, or why it could not read it. */
export type ConsoleReading =
  | { readonly pools: ReadonlyArray<PoolRow>; readonly databases: ReadonlyArray<DatabaseRow> }
  | { readonly failure: string }

/** One pool as the details show it. */
export interface PoolDetails {
  readonly database: string
  readonly user: string
  readonly mode: string | null
  readonly clientsActive: number
  readonly clientsWaiting: number
  readonly serversActive: number
  readonly serversIdle: number
  readonly serversUsed: number
  /** Being tested or logging in. */
  readonly serversOther: number
  /** The pool's `pool_size` (from `SHOW DATABASES`), when known. */
  readonly poolSize: number | null
  readonly maxWaitSeconds: number
}

/** Pools listed in the details (the most waited on first). */
export const poolsListed = 10

const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits

/**
 * The pooler's figures: from the console when it answered; else unknown (ignored by default),
 * with the advice to configure the console when a pooler was detected.
 */
export const poolerFigures = (
  found: {
    /** The pid the connection reported at start-up (BackendKeyData), when known. */
    readonly clientPid: number | null
    /** `pg_backend_pid()` of the same connection. */
    readonly backendPid: number | null
    /** Whether an admin console is configured, and what it answered. */
    readonly console: ConsoleReading | undefined
  },
  figures: Record<HealthFigure, number | null>,
  unknown: Array<UnknownFigure>
): NonNullable<HealthDetails["pooler"]> => {
  const mismatch = found.clientPid !== null && found.backendPid !== null && found.clientPid !== found.backendPid
  const console = found.console
  figures.poolerClientsWaiting = null
  figures.poolerMaxWaitSeconds = null
  const via: Array<"backend pid" | "admin console"> = mismatch ? ["backend pid"] : []
  const pids = { clientPid: found.clientPid, backendPid: found.backendPid }
  if (console === undefined) {
    if (mismatch) {
      unknown.push({
        figure: "pooler",
        reason: `A connection pooler stands between this check and the server (the connection reports pid ${found.clientPid}, ` +
          `the server's backend is pid ${found.backendPid}): clients waiting in it cannot be seen from PostgreSQL. ` +
          "Give the check the pooler's admin console (poolerAdminUrl, or --pooler-admin-url: e.g. postgres://monitor@pgbouncer:6432/pgbouncer, " +
          "a user listed in admin_users or stats_users) to report clients waiting and its server pools.",
        remedy: true
      })
    }
    return { detected: mismatch, via, ...pids }
  }
  if ("failure" in console) {
    unknown.push({
      figure: "pooler",
      reason: `The pooler's admin console did not answer (${console.failure}): clients waiting in it are unknown. ` +
        "Check poolerAdminUrl (database pgbouncer, a user in admin_users or stats_users).",
      remedy: true
    })
    return { detected: mismatch, via, ...pids, consoleFailure: console.failure }
  }
  const sizes = new Map(console.databases.map((d) => [d.name, d.pool_size]))
  const pools: Array<PoolDetails> = console.pools
    .filter((p) => p.database !== "pgbouncer")
    .map((p) => ({
      database: p.database,
      user: p.user,
      mode: p.pool_mode,
      clientsActive: p.cl_active,
      clientsWaiting: p.cl_waiting,
      serversActive: p.sv_active,
      serversIdle: p.sv_idle,
      serversUsed: p.sv_used,
      serversOther: (p.sv_tested ?? 0) + (p.sv_login ?? 0),
      poolSize: sizes.get(p.database) ?? null,
      maxWaitSeconds: round(p.maxwait + (p.maxwait_us ?? 0) / 1e6)
    }))
    .sort((a, b) => b.maxWaitSeconds - a.maxWaitSeconds || b.clientsWaiting - a.clientsWaiting)
  figures.poolerClientsWaiting = pools.reduce((sum, p) => sum + p.clientsWaiting, 0)
  figures.poolerMaxWaitSeconds = pools.reduce((max, p) => Math.max(max, p.maxWaitSeconds), 0)
  return {
    detected: true,
    via: [...via, "admin console"],
    ...pids,
    pools: pools.slice(0, poolsListed),
    poolCount: pools.length
  }
}
