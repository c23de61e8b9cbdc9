/**
 * PgBouncer from Debian's packages (`apt-get install -y pgbouncer`, 1.18 on Debian 12) in transaction
 * mode on a port of its own, in front of a server of the test's choice. It runs as the server's
 * user when this process is root (PgBouncer refuses to run as root).
 */
import { Effect, type Scope } from "effect"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import Pg from "pg"
import * as EmbeddedPostgres from "../../src/EmbeddedPostgres.js"
import { serverUser } from "../../src/internal/embedded/serverUser.js"

export const binary = "/usr/sbin/pgbouncer"

export interface PgBouncer {
  /** URL of the `app` database through PgBouncer (as the server's superuser). */
  readonly url: string
  readonly port: number
  readonly version: string
  /** Whether the PgBouncer process is still running. */
  readonly alive: () => boolean
  /** What it printed, for a failing test's message. */
  readonly log: () => string
}

export const make = (
  server: { readonly url: string },
  settings: Readonly<Record<string, string | number>> = {}
): Effect.Effect<PgBouncer, never, Scope.Scope> =>
  Effect.gen(function*() {
    if (!existsSync(binary)) {
      return yield* Effect.die(new Error(`PgBouncer is not installed (${binary}): apt-get install -y pgbouncer`))
    }
    const version = execFileSync(binary, ["--version"], { encoding: "utf8" }).split("\n")[0]!.trim()
    const target = new URL(server.url)
    const user = serverUser(true)
    const directory = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const directory = mkdtempSync(join(tmpdir(), "pgbouncer-"))
        chmodSync(directory, 0o755)
        return directory
      }),
      (directory) => Effect.sync(() => rmSync(directory, { recursive: true, force: true }))
    )
    const port = yield* EmbeddedPostgres.freePort
    const password = decodeURIComponent(target.password)
    const ini = [
      "[databases]",
      `app = host=${target.hostname} port=${target.port} dbname=${target.pathname.slice(1) || "postgres"} ` +
      `user=${decodeURIComponent(target.username)}${password === "" ? "" : ` password=${password}`}`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      "auth_type = trust",
      `auth_file = ${join(directory, "users.txt")}`,
      "pool_mode = transaction",
      "default_pool_size = 10",
      "max_client_conn = 200",
      "ignore_startup_parameters = extra_float_digits,options",
      `logfile = ${join(directory, "pgbouncer.log")}`,
      ...Object.entries(settings).map(([k, v]) => `${k} = ${v}`)
    ].join("\n")
    writeFileSync(join(directory, "pgbouncer.ini"), ini)
    writeFileSync(join(directory, "users.txt"), `"${decodeURIComponent(target.username)}" ""\n`)
    if (user) for (const f of ["pgbouncer.ini", "users.txt"]) chownSync(join(directory, f), user.uid, user.gid)
    if (user) chownSync(directory, user.uid, user.gid)
    let output = ""
    const child: ChildProcess = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const child = spawn(binary, [join(directory, "pgbouncer.ini")], { ...(user ?? {}), stdio: ["ignore", "pipe", "pipe"] })
        child.stdout!.on("data", (c: Buffer) => (output += c.toString()))
        child.stderr!.on("data", (c: Buffer) => (output += c.toString()))
        return child
      }),
      (child) =>
        Effect.promise(() =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve()
            child.on("exit", () => resolve())
            child.kill("SIGINT")
            setTimeout(() => child.kill("SIGKILL"), 5000).unref()
          })
        )
    )
    const url = `postgres://${target.username}@127.0.0.1:${port}/app`
    // Ready when a query goes through.
    yield* Effect.promise(async () => {
      for (let i = 0; i < 200; i++) {
        const client = new Pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 })
        client.on("error", () => {})
        try {
          await client.connect()
          await client.query("SELECT 1")
          await client.end()
          return
        } catch {
          await client.end().catch(() => {})
          await new Promise((r) => setTimeout(r, 50))
        }
      }
      throw new Error(`PgBouncer did not start: ${output}`)
    })
    return {
      url,
      port,
      version,
      alive: () => child.exitCode === null && child.signalCode === null,
      log: () => output
    }
  })
