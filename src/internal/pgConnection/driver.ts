/**
 * The node-postgres internals this library relies on, in one place: where a cancel request goes and
 * how it is sent, the server version a connection reported, cutting a socket, and whether a client
 * can still send. test/pg-driver-internals.test.ts fails loudly if `pg` changes any of them.
 *
 * @internal
 */
import * as Net from "node:net"
import Pg from "pg"
import { parse as parseConnectionString } from "pg-connection-string"

/** Where a cancel request goes: the server the pool connects to. */
export type CancelTarget = { readonly host: string; readonly port: number } | { readonly path: string }

/** Reads the server address from pool options (URL or discrete fields), as node-postgres would. */
export const cancelTargetOf = (options: Pg.PoolConfig): CancelTarget => {
  let host = options.host ?? "localhost"
  let port = options.port ?? 5432
  if (options.connectionString) {
    const parsed = parseConnectionString(options.connectionString)
    host = parsed.host ?? host
    port = parsed.port ? Number(parsed.port) : port
  }
  return host.startsWith("/") ? { path: `${host}/.s.PGSQL.${port}` } : { host, port }
}

/**
 * Sends PostgreSQL's CancelRequest for whatever `client` runs now. Best effort: it opens its own
 * short-lived socket, so it works while every pool slot and every server connection slot is taken.
 *
 * As libpq does, the request is written and the socket left open until the server closes it (bounded
 * by `graceMillis`): half-closing it right after the write makes PgBouncer before 1.20 drop every
 * client (its bug #801, "bad client state").
 */
export const sendCancelRequest = (fallback: CancelTarget, client: Pg.ClientBase, graceMillis = 2000): void => {
  const { host, port, processID, secretKey } = client as unknown as {
    host?: string
    port?: number
    processID?: number | null
    secretKey?: number | null
  }
  if (processID == null || secretKey == null) return
  // The server this client is connected to (with several hosts, not necessarily the URL's first).
  const target: CancelTarget = typeof host === "string" && host !== "" && port
    ? host.startsWith("/") ? { path: `${host}/.s.PGSQL.${port}` } : { host, port: Number(port) }
    : fallback
  const message = Buffer.alloc(16)
  message.writeInt32BE(16, 0)
  message.writeInt32BE(80877102, 4) // CancelRequest code
  message.writeInt32BE(processID, 8)
  message.writeInt32BE(secretKey, 12)
  const socket = "path" in target ? Net.connect(target.path) : Net.connect(target.port, target.host)
  const timer = setTimeout(() => socket.destroy(), graceMillis)
  timer.unref()
  const close = () => {
    clearTimeout(timer)
    socket.destroy()
  }
  socket.on("error", close)
  // The server (or pooler) closes the connection once it has read the request.
  socket.on("end", close)
  socket.on("close", close)
  socket.on("connect", () => socket.write(message))
}

/**
 * A node-postgres client that keeps what the server reports about itself at start-up
 * (`server_version`, `application_name` ...; the ParameterStatus messages node-postgres reads and
 * drops), so that nothing has to be asked, or cached, per pool.
 */
export class ReportingClient extends Pg.Client {
  /** The server's ParameterStatus reports, by parameter name. */
  readonly serverParameters: Record<string, string> = {}
  /**
   * Whether `processID` is the server backend's pid: `false` behind a pooler such as PgBouncer (which
   * hands out cancel keys of its own), `undefined` until a transaction has compared them.
   */
  processIsBackend: boolean | undefined = undefined
  /**
   * Whether the session was writable when it started (not a hot standby, not read-only by
   * default, as the server reported at start-up; PostgreSQL 14+), `undefined` before that or when
   * the server does not report it. A session that started writable and now reports itself
   * read-only is on a server that changed under it (a demoted primary, a write freeze).
   */
  writableAtStart: boolean | undefined = undefined

  constructor(config?: string | Pg.ClientConfig) {
    super(config)
    const connection = (this as unknown as { connection?: NodeJS.EventEmitter }).connection
    connection?.on("parameterStatus", (message: { parameterName: string; parameterValue: string }) => {
      this.serverParameters[message.parameterName] = message.parameterValue
    })
    connection?.once("readyForQuery", () => {
      const { in_hot_standby, default_transaction_read_only } = this.serverParameters
      if (in_hot_standby !== undefined && default_transaction_read_only !== undefined) {
        this.writableAtStart = in_hot_standby !== "on" && default_transaction_read_only !== "on"
      }
    })
  }
}

/** The process id the connection reported at start-up (BackendKeyData): the backend's, or a pooler's. */
export const processIdOf = (client: Pg.ClientBase): number | undefined => {
  const id = (client as unknown as { processID?: number | null }).processID
  return typeof id === "number" ? id : undefined
}

/** The server's major version as the connection reported it (e.g. 18 for "18.4", 15 for "15.20 (Debian ...)"). */
export const serverMajorOf = (client: Pg.ClientBase): number | undefined => {
  const version = (client as Partial<ReportingClient>).serverParameters?.server_version
  const major = version === undefined ? Number.NaN : Number.parseInt(version, 10)
  return Number.isFinite(major) ? major : undefined
}

/** Cuts a client's socket at once: for a connection that must never be used (or waited on) again. */
export const destroyClient = (client: Pg.ClientBase, reason?: Error): void => {
  const stream = (client as unknown as { connection?: { stream?: { destroy(e?: Error): void } } }).connection?.stream
  try {
    stream?.destroy(reason)
  } catch {
    // already gone
  }
}

/** Whether a client can still send a statement (its socket is open and it has not failed). */
export const isUsable = (client: Pg.ClientBase): boolean => {
  const internals = client as unknown as {
    _queryable?: boolean
    _ending?: boolean
    connection?: { stream?: { destroyed?: boolean } }
  }
  return internals._queryable !== false && internals._ending !== true && internals.connection?.stream?.destroyed !== true
}
