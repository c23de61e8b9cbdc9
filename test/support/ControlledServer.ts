/**
 * A second PostgreSQL that a fault test owns: it may stop it (smart, fast, immediate), restart it on
 * the same port and data, and terminate its backends. Its major version follows the server of the
 * run: the embedded PostgreSQL 18 binaries, or those of the machine's PostgreSQL (`pg_config
 * --bindir`, e.g. 15) when the run's server is that one.
 */
import { Effect, Redacted, type Scope } from "effect"
import { execFileSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { chmodSync, existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import Pg from "pg"
import { inject } from "vitest"
import * as EmbeddedPostgres from "../../src/EmbeddedPostgres.js"
import { bundledBinaries, runnableBinaries } from "../../src/internal/embedded/binaries.js"
import {
  type ClusterSpec,
  hasExited,
  initdb,
  type Postmaster,
  startPostmaster,
  stopPostmaster
} from "../../src/internal/embedded/cluster.js"
import { serverUser } from "../../src/internal/embedded/serverUser.js"

export interface ControlledServer {
  /** Superuser URL of its `postgres` database. */
  readonly url: string
  readonly port: number
  readonly major: number
  /** Stops the postmaster (PostgreSQL's shutdown modes). */
  readonly stop: (mode: "smart" | "fast" | "immediate") => Effect.Effect<void>
  /** Starts it again on the same port and data, and waits until it accepts connections. */
  readonly start: Effect.Effect<void>
  /** A superuser session of its own, closed with the scope. */
  readonly session: Effect.Effect<Pg.Client, never, Scope.Scope>
  /** Runs one statement as superuser on a connection of its own. */
  readonly query: <A = Record<string, unknown>>(text: string, values?: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<A>>
}

/** The major version of the run's server, and the binaries of that version. */
const binariesForRun = (): { bin: string; major: number } => {
  if (inject("serverEmbedded")) return { bin: bundledBinaries().bin, major: 18 }
  const version = execFileSync("psql", [inject("serverUrl"), "-Atc", "SHOW server_version_num"], { encoding: "utf8" })
  const major = Math.floor(Number(version.trim()) / 10_000)
  const bin = `/usr/lib/postgresql/${major}/bin`
  if (!existsSync(join(bin, "postgres"))) throw new Error(`no PostgreSQL ${major} binaries in ${bin} for the fault suite`)
  return { bin, major }
}

const connectOnce = async (url: string) => {
  const client = new Pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 })
  client.on("error", () => {})
  await client.connect()
  return client
}

export const make = (settings: Readonly<Record<string, string>> = {}): Effect.Effect<ControlledServer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { bin, major } = binariesForRun()
    const user = serverUser(true)
    const binaries = runnableBinaries({ bin, version: `pg${major}` }, user)
    const directory = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const directory = mkdtempSync(join(tmpdir(), "fault-server-"))
        chmodSync(directory, 0o755)
        return directory
      }),
      (directory) => Effect.sync(() => rmSync(directory, { recursive: true, force: true }))
    )
    const port = yield* EmbeddedPostgres.freePort
    const password = randomBytes(12).toString("hex")
    const output: Array<string> = []
    const spec: ClusterSpec = {
      bin: binaries.bin,
      dataDirectory: join(directory, "data"),
      port,
      password,
      settings: {
        listen_addresses: "127.0.0.1",
        unix_socket_directories: "",
        fsync: "off",
        full_page_writes: "off",
        max_connections: "120",
        ...settings
      },
      user,
      onOutput: (text) => {
        output.push(text)
        if (output.length > 50) output.shift()
      }
    }
    yield* initdb(spec).pipe(Effect.orDie)
    const url = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`
    let postmaster: Postmaster | undefined

    const waitReady = Effect.promise(async () => {
      for (let i = 0; i < 600; i++) {
        if (postmaster && hasExited(postmaster)) throw new Error(`the fault server exited: ${output.join("").slice(-2000)}`)
        try {
          const client = await connectOnce(url)
          await client.end()
          return
        } catch {
          await new Promise((r) => setTimeout(r, 50))
        }
      }
      throw new Error(`the fault server did not start: ${output.join("").slice(-2000)}`)
    })
    const start = Effect.gen(function*() {
      postmaster = yield* startPostmaster(spec).pipe(Effect.orDie)
      yield* waitReady
    })
    const stop = (mode: "smart" | "fast" | "immediate") =>
      Effect.suspend(() => (postmaster ? stopPostmaster(postmaster, mode, 10_000) : Effect.void))

    yield* Effect.acquireRelease(start, () => stop("immediate"))

    return {
      url,
      port,
      major,
      stop,
      start,
      session: Effect.acquireRelease(
        Effect.promise(() => connectOnce(url)),
        (client) => Effect.promise(() => client.end().catch(() => {}))
      ),
      query: <A>(text: string, values: ReadonlyArray<unknown> = []) =>
        Effect.promise(async () => {
          const client = await connectOnce(url)
          try {
            return (await client.query(text, values as Array<unknown>)).rows as ReadonlyArray<A>
          } finally {
            await client.end().catch(() => {})
          }
        })
    }
  })

/** The server's URL, kept Redacted for the library's configuration. */
export const redactedUrl = (server: ControlledServer) => Redacted.make(server.url)
