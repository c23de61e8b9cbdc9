import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Redacted, Scope } from "effect"
import { execSync } from "node:child_process"
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs"
import { join } from "node:path"
import { tmpdir } from "node:os"
import Pg from "pg"
import * as EmbeddedPostgres from "../src/EmbeddedPostgres.js"

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
})
