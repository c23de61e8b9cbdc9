/**
 * What a transaction sends besides the caller's statements: BEGIN with its server-side limits, and
 * the error for a COMMIT the server answered with ROLLBACK. (ROLLBACK and COMMIT themselves are the
 * connection's: see `PgConnection`.)
 *
 * @internal
 */
import { type ClassifyOptions, classifyDatabaseError } from "../../Classify.js"
import type { DatabaseError } from "../../Errors.js"
import type { TransactionConfig } from "./config.js"

/** How far past our own deadline the server's limits sit: they are the backstop, we act first. */
const serverLimitSlackMillis = (remainingMillis: number) => Math.min(1000, Math.max(200, remainingMillis * 0.1))

/**
 * BEGIN, its access mode (READ ONLY when asked; otherwise the server's default) and the server-side limits, in one simple-protocol round trip (measured
 * with pgbench: `SET LOCAL` costs the server less than one `SELECT set_config(...)`). With `askPid`,
 * the session's `pg_backend_pid()` comes back with it (behind a pooler the connection's own process
 * id is not the backend's).
 */
export const beginStatement = (
  config: TransactionConfig,
  remainingMillis: number,
  serverMajor: number,
  askPid: boolean
): string => {
  // The server takes at most 2^31 - 1 ms (about 24.8 days) for these settings.
  const limit = Math.min(2 ** 31 - 1, Math.max(1, Math.ceil(remainingMillis + serverLimitSlackMillis(remainingMillis))))
  // No explicit READ WRITE: a server made read-only by default (a demoted primary, a DBA's write
  // freeze, a cloud provider's disk-full guard) must refuse the writes, not be overruled.
  return `BEGIN ISOLATION LEVEL ${config.isolationLevel}${config.readOnly ? " READ ONLY" : ""}${
    config.deferrable ? " DEFERRABLE" : ""
  }; SET LOCAL statement_timeout = ${limit}; SET LOCAL idle_in_transaction_session_timeout = ${limit}${
    serverMajor >= 17 ? `; SET LOCAL transaction_timeout = ${limit}` : ""
  }${askPid ? "; SELECT pg_backend_pid() AS pid" : ""}`
}

/** The backend pid reported by a BEGIN sent with `askPid`. */
export const pidOfBegin = (result: unknown): number | undefined => {
  const results = Array.isArray(result) ? result : [result]
  const row = (results[results.length - 1] as { rows?: Array<{ pid?: unknown }> } | undefined)?.rows?.[0]
  const pid = Number(row?.pid)
  return Number.isInteger(pid) ? pid : undefined
}

/**
 * A COMMIT answered with `commandTag` other than COMMIT: an error swallowed in the body had aborted
 * the transaction, and nothing was saved.
 */
export const abortedError = (commandTag: string, options: ClassifyOptions): DatabaseError =>
  classifyDatabaseError(
    Object.assign(
      new Error(
        `the transaction was aborted by an earlier statement error that was caught inside it; COMMIT answered ${commandTag} and nothing was saved`
      ),
      { code: "25P02", severity: "ERROR" }
    ),
    options
  )
