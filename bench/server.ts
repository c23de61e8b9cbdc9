/**
 * The server the benchmark runs on: `DATABASE_URL` when it is set, else an embedded PostgreSQL 18
 * started for the run (max_connections = 400 so that W4 can open 300 idle sessions). All work
 * happens in a scratch database created here and dropped at the end.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import { randomBytes } from "node:crypto"
import Pg from "pg"
import * as EmbeddedPostgres from "../dist/EmbeddedPostgres.js"
import { setupStatements } from "./schema.js"

/** The server and the scratch database of this run. */
export interface BenchServer {
  /** URL of the scratch database (secret). */
  readonly url: string
  readonly databaseName: string
  readonly embedded: boolean
  /** `server_version`, e.g. "18.4". */
  readonly version: string
  readonly maxConnections: number
  readonly superuser: boolean
  /** A new raw client on the scratch database; the caller ends it. */
  readonly connect: (options?: Omit<Pg.ClientConfig, "connectionString">) => Promise<Pg.Client>
  /** One statement on a short-lived client. */
  readonly query: <R extends Pg.QueryResultRow = Pg.QueryResultRow>(text: string, values?: Array<unknown>) => Promise<Array<R>>
  /** Drops the scratch database and stops the embedded server. */
  readonly close: () => Promise<void>
}

const withDatabase = (url: string, name: string): string => {
  const parsed = new URL(url)
  parsed.pathname = `/${name}`
  return parsed.toString()
}

const connectTo = async (url: string, options: Omit<Pg.ClientConfig, "connectionString"> = {}): Promise<Pg.Client> => {
  const client = new Pg.Client({ ...options, connectionString: url })
  client.on("error", () => {})
  await client.connect()
  return client
}

const once = async <R extends Pg.QueryResultRow>(url: string, text: string, values?: Array<unknown>) => {
  const client = await connectTo(url)
  try {
    return (await client.query<R>(text, values)).rows
  } finally {
    await client.end().catch(() => {})
  }
}

/** Starts (or finds) the server and prepares a fresh scratch database with the workload tables. */
export const openServer = async (): Promise<BenchServer> => {
  const scope = Effect.runSync(Scope.make())
  const closeScope = () => Effect.runPromise(Scope.close(scope, Exit.void))
  try {
    const resolved = await Effect.runPromise(
      EmbeddedPostgres.resolveDatabaseUrl({ settings: { max_connections: 400 } }).pipe(Scope.extend(scope))
    )
    const serverUrl = Redacted.value(resolved.url)
    const databaseName = `bench_${randomBytes(5).toString("hex")}`
    await once(serverUrl, `CREATE DATABASE ${databaseName}`)
    const url = withDatabase(serverUrl, databaseName)
    for (const statement of setupStatements) await once(url, statement)
    const [facts] = await once<{ version: string; max: string; superuser: string }>(
      url,
      "SELECT current_setting('server_version') AS version, current_setting('max_connections') AS max, " +
        "current_setting('is_superuser') AS superuser"
    )
    return {
      url,
      databaseName,
      embedded: resolved.embedded,
      version: facts?.version ?? "unknown",
      maxConnections: Number(facts?.max ?? 100),
      superuser: facts?.superuser === "on",
      connect: (options) => connectTo(url, options),
      query: (text, values) => once(url, text, values),
      close: async () => {
        try {
          await once(serverUrl, `DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`)
        } finally {
          await closeScope()
        }
      }
    }
  } catch (error) {
    await closeScope()
    throw error
  }
}
