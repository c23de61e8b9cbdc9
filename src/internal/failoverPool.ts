/**
 * A `pg.Pool` over several hosts. Each new connection goes to the host the `HostSelector` puts
 * first; a host that refuses, or whose session does not fit `target_session_attrs` (a standby when
 * read-write is wanted, say), goes to the back and the next one is tried, within the same acquisition.
 * So when the primary dies and a standby is promoted, new connections find the new primary without a
 * restart. A statement answered with 25006 (read-only transaction) on a pool that wants read-write
 * tells us the server is no longer the primary: `discardReadOnly` marks that connection for removal.
 *
 * @internal
 */
import Pg from "pg"
import {
  type HostAddress,
  HostSelector,
  sameAddress,
  type SessionState,
  sessionMatches,
  type TargetSessionAttrs
} from "./hosts.js"
import { ReportingClient } from "./pgConnection.js"

/** The session a connected client has, from its start-up reports (PostgreSQL 14+), else asked. */
const sessionStateOf = (client: ReportingClient, done: (error: Error | undefined, state?: SessionState) => void) => {
  const reported = client.serverParameters
  if (reported.in_hot_standby !== undefined && reported.default_transaction_read_only !== undefined) {
    return done(undefined, {
      inHotStandby: reported.in_hot_standby === "on",
      defaultReadOnly: reported.default_transaction_read_only === "on"
    })
  }
  client.query(
    "SELECT pg_is_in_recovery() AS standby, current_setting('default_transaction_read_only') AS read_only",
    (error: Error | null, result: Pg.QueryResult<{ standby: boolean; read_only: string }>) => {
      if (error) return done(error)
      const row = result.rows[0]
      done(undefined, { inHotStandby: row?.standby === true, defaultReadOnly: row?.read_only === "on" })
    }
  )
}

/** The address a client was made for. */
const addressOf = (client: Pg.ClientBase): HostAddress => {
  const { host, port } = client as unknown as { host: string; port: number }
  return { host, port: Number(port) }
}

/** Why a reached server was not kept (a failure of acquisition like a refused connection). */
export class SessionMismatch extends Error {
  readonly code = "08006"
}

export interface FailoverPoolOptions extends Pg.PoolConfig {
  readonly hosts: ReadonlyArray<HostAddress>
  readonly targetSessionAttrs: TargetSessionAttrs
}

/** A pool over several hosts, with the client class it makes connections with (for the health probe). */
export type FailoverPool = Pg.Pool & { readonly selector: HostSelector; readonly HostClient: typeof ReportingClient }

/** Builds the pool: one `HostSelector` shared by its clients. */
export const makeFailoverPool = (options: FailoverPoolOptions): FailoverPool => {
  const selector = new HostSelector(options.hosts, options.targetSessionAttrs)
  const { hosts: _hosts, targetSessionAttrs, ...poolConfig } = options
  const BaseClient = (poolConfig.Client ?? ReportingClient) as typeof ReportingClient
  // Each new client is made for the host the selector puts first at that moment.
  class HostClient extends BaseClient {
    readonly address: HostAddress

    constructor(config?: string | Pg.ClientConfig) {
      const address = selector.candidates()[0]!.address
      const given = typeof config === "object" ? config : {}
      // pg-pool keeps the password non-enumerable (out of logs): a spread would drop it.
      super({ ...given, password: given.password, host: address.host, port: address.port })
      this.address = address
    }

    // A failed connection names the host it was made for: with concurrent acquisitions the
    // selector's order may have moved since the attempt began, so that host is the one to blame.
    // (pg-pool calls the callback form.)
    override connect(callback?: any): any {
      if (typeof callback !== "function") return super.connect()
      return super.connect((error: Error | null, ...rest: Array<unknown>) => {
        if (error) failedAddresses.set(error, this.address)
        return (callback as (...args: Array<unknown>) => unknown)(error, ...rest)
      })
    }
  }
  const failedAddresses = new WeakMap<Error, HostAddress>()
  // Clients whose session was checked against target_session_attrs.
  const checked = new WeakSet<Pg.PoolClient>()
  // Tries up to one full round of candidates for each acquisition.
  class FailoverPool extends Pg.Pool {
    readonly selector = selector
    readonly HostClient = HostClient

    override connect(): Promise<Pg.PoolClient>
    override connect(callback: (err: Error | undefined, client: Pg.PoolClient | undefined, done: (release?: unknown) => void) => void): void
    override connect(callback?: (err: Error | undefined, client: Pg.PoolClient | undefined, done: (release?: unknown) => void) => void): Promise<Pg.PoolClient> | void {
      if (!callback) {
        return new Promise((resolve, reject) =>
          this.connect((error, client) => (error || !client ? reject(error) : resolve(client)))
        )
      }
      const candidates = selector.candidates()
      let tries = 0
      const attempt = (): void => {
        const pass = candidates[Math.min(tries, candidates.length - 1)]!.pass
        tries++
        super.connect((error, client, release) => {
          if (error || !client) {
            // A refused or failed connection: that host goes last, try the next one. A failure no
            // host caused (the wait for a slot of a full pool timed out, the pool is ending) blames
            // none and is the caller's at once.
            const failedHost = error ? failedAddresses.get(error) : undefined
            if (tries < candidates.length && failedHost) {
              selector.failed(failedHost)
              return attempt()
            }
            return callback(error, undefined, () => {})
          }
          if (checked.has(client)) return callback(undefined, client, release)
          sessionStateOf(client as unknown as ReportingClient, (stateError, state) => {
            const address = addressOf(client)
            if (!stateError && state && sessionMatches(targetSessionAttrs, state, pass)) {
              checked.add(client)
              selector.succeeded(address)
              return callback(undefined, client, release)
            }
            const reason = stateError ??
              new SessionMismatch(
                `${address.host}:${address.port} is ${state?.inHotStandby ? "a standby" : "read-only"}, not ${targetSessionAttrs}`
              )
            selector.failed(address)
            release(reason)
            if (tries < candidates.length) return attempt()
            callback(reason, undefined, () => {})
          })
        })
      }
      attempt()
    }
  }
  return new FailoverPool({ ...poolConfig, Client: HostClient }) as FailoverPool
}

/**
 * The server a pooled connection reached is no longer the primary: it answered 25006 (read-only
 * transaction) and now reports itself a standby or read-only. Nothing of the transaction was
 * committed there; the connection is discarded, and the caller gets a connection failure (08006),
 * which `withTransactionRetry` retries on the next host that fits.
 */
export class ServerDemoted extends Error {
  readonly code = "08006"
  constructor(readonly address: HostAddress, cause: Error) {
    super(`${address.host}:${address.port} is no longer a writable primary (${cause.message}); its connection was discarded`, { cause })
    this.name = "ServerDemoted"
  }
}

/**
 * A statement failed on `client` with 25006 (read-only transaction). When the server now reports
 * itself a standby or read-only by default, the connection must not be reused (the error returned
 * is what the caller sees), in two cases: the pool wants a writable primary (`read-write`,
 * `primary`; that host also goes last), or the session started writable and the server turned
 * read-only under it (any pool, one host or several: a primary demoted behind a virtual IP or DNS
 * name, a write freeze). A write in a transaction the caller made read-only also fails with 25006;
 * then the server still reports itself writable, and nothing is discarded.
 */
export const discardReadOnly = (
  selector: HostSelector | undefined,
  client: Pg.ClientBase,
  error: Error
): Error | undefined => {
  if ((error as { code?: unknown }).code !== "25006") return undefined
  const reporting = client as Partial<ReportingClient>
  const reported = reporting.serverParameters ?? {}
  const standby = reported.in_hot_standby === "on"
  const readOnly = standby || reported.default_transaction_read_only === "on"
  if (!readOnly) return undefined
  const wantsPrimary = selector !== undefined && (selector.attrs === "read-write" || selector.attrs === "primary")
  const demoted = wantsPrimary
    ? standby || selector.attrs === "read-write"
    : reporting.writableAtStart === true
  if (!demoted) return undefined
  const address = addressOf(client)
  if (selector?.hosts.some((h) => sameAddress(h, address))) selector.failed(address)
  return new ServerDemoted(address, error)
}
