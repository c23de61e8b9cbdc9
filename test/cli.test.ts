/**
 * The built CLI, spawned as a user would, against a server of its own (an embedded PostgreSQL 18
 * with 20 connection slots, so that this file alone decides how full it is).
 */
import { layer } from "@effect/vitest"
import { Effect, Redacted, Schema } from "effect"
import { execFile, spawn } from "node:child_process"
import { execSync } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import Pg from "pg"
import { expect } from "vitest"
import * as EmbeddedPostgres from "../src/EmbeddedPostgres.js"
import * as Health from "../src/Health.js"

const cli = join(import.meta.dirname, "..", "dist", "cli", "main.js")

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const run = (args: ReadonlyArray<string>, env: Record<string, string | undefined> = {}) =>
  Effect.async<Run>((resume) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { env: { ...process.env, DATABASE_URL: undefined, NO_COLOR: "1", ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : null) : 0
        resume(Effect.succeed({ code, stdout, stderr }))
      }
    )
  })

const tmp = mkdtempSync(join(tmpdir(), "cli-test-"))
const file = (name: string, content: unknown) => {
  const path = join(tmp, name)
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content))
  return path
}
// The cache hit ratio of a brand-new server is noise; these tests drive the status through
// connection slots, so that figure is switched off for them.
const quietCache = { degraded: { cacheHitRatio: 0 }, unhealthy: { cacheHitRatio: 0 }, critical: { cacheHitRatio: 0 } }
const thresholdsFile = file("quiet.json", quietCache)

/** Opens `n` extra sessions on the server, closed with the scope. */
const openSessions = (url: string, n: number) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      Promise.all(Array.from({ length: n }, async () => {
        const client = new Pg.Client({ connectionString: url })
        client.on("error", () => {})
        await client.connect()
        return client
      }))
    ),
    (clients) => Effect.promise(() => Promise.all(clients.map((c) => c.end().catch(() => {}))))
  )

const Server = EmbeddedPostgres.layer({ settings: { max_connections: 20, superuser_reserved_connections: 3 } })

layer(Server, { timeout: "180 seconds", excludeTestServices: true })("pg-resilience CLI", (it) => {
  it.effect("health exit codes follow the monitoring convention, driven by real connection slots", () =>
    Effect.gen(function*() {
      const server = yield* EmbeddedPostgres.EmbeddedPostgres
      const url = Redacted.value(server.url)
      const password = new URL(url).password
      // 17 slots for ordinary sessions; the probe takes one.
      const cases: Array<[number, string, number]> = [
        [0, "HEALTHY", 0],
        [13, "DEGRADED", 1], // 14/17 = 82%
        [14, "UNHEALTHY", 2], // 15/17 = 88%
        [16, "CRITICAL", 2] // 17/17 = 100%
      ]
      for (const [extra, status, code] of cases) {
        const result = yield* Effect.scoped(
          Effect.zipRight(openSessions(url, extra), run(["health", "--url", url, "--thresholds", thresholdsFile]))
        )
        expect(result.stdout).toContain(`Status: ${status}`)
        expect(result.code).toBe(code)
        expect(result.stdout + result.stderr).not.toContain(password)
      }
      const port = yield* EmbeddedPostgres.freePort
      const refused = yield* run(["health", "--url", `postgres://app:zebra-pass-12@127.0.0.1:${port}/app`])
      expect(refused.code).toBe(2)
      expect(refused.stdout).toContain("Status: CRITICAL")
      expect(refused.stdout).toMatch(/ECONNREFUSED/)
      expect(refused.stdout + refused.stderr).not.toContain("zebra-pass-12")
    }))

  it.effect("--json prints a DatabaseHealthCheck that matches its schema", () =>
    Effect.gen(function*() {
      const server = yield* EmbeddedPostgres.EmbeddedPostgres
      const result = yield* run(["health", "--json", "--thresholds", thresholdsFile], {
        DATABASE_URL: Redacted.value(server.url)
      })
      expect(result.code).toBe(0)
      const check = Schema.decodeUnknownSync(Health.DatabaseHealthCheckJson)(JSON.parse(result.stdout))
      expect(check.status).toBe("HEALTHY")
      expect(check.details.serverVersion).toMatch(/^18\./)
    }))

  it.effect("bad input is one clear line and exit 3, never a stack trace or a password", () =>
    Effect.gen(function*() {
      const server = yield* EmbeddedPostgres.EmbeddedPostgres
      const url = Redacted.value(server.url)
      const cases: Array<[ReadonlyArray<string>, RegExp]> = [
        [["health", "--url", url, "--thresholds", file("bad.json", { degraded: { avgQueryTime: 900 } })], /thresholds file .*avgQueryTime must not fall/],
        [["health", "--url", url, "--thresholds", file("broken.json", "{ not json")], /is not valid JSON/],
        [["health", "--url", url, "--thresholds", join(tmp, "missing.json")], /cannot read thresholds file .*ENOENT/],
        [["health", "--url", "mysql://app:zebra-pass-34@db/app"], /url must be a postgres:\/\//],
        [["health", "--url", url, "--bogus"], /--bogus/],
        [["watch", "--url", url, "--interval", "soon"], /--interval soon is not a duration/]
      ]
      for (const [args, message] of cases) {
        const result = yield* run(args)
        expect(result.code).toBe(3)
        const lines = result.stderr.trim().split("\n").filter((l) => l.trim() !== "")
        expect(lines).toHaveLength(1)
        expect(lines[0]).toMatch(message)
        expect(result.stderr).not.toMatch(/\n\s+at /)
        expect(result.stdout + result.stderr).not.toContain("zebra-pass-34")
        expect(result.stdout + result.stderr).not.toContain(new URL(url).password)
      }
    }))

  it.effect("--help works on every command", () =>
    Effect.gen(function*() {
      for (const command of [[], ["health"], ["watch"], ["serve"], ["setup"]]) {
        const result = yield* run([...command, "--help"])
        expect(result.code).toBe(0)
        expect(result.stdout).toContain("USAGE")
      }
    }))

  it.effect("watch prints one line per check when not a terminal and marks each status change", () =>
    Effect.gen(function*() {
      const server = yield* EmbeddedPostgres.EmbeddedPostgres
      const url = Redacted.value(server.url)
      const child = spawn(process.execPath, [cli, "watch", "--url", url, "--interval", "700ms", "--count", "3", "--thresholds", thresholdsFile], {
        env: { ...process.env, NO_COLOR: "1" }
      })
      let stdout = ""
      child.stdout.on("data", (d) => (stdout += String(d)))
      // After the first line, fill the server: the next checks are CRITICAL.
      while (!stdout.includes("\n")) yield* Effect.sleep("20 millis")
      yield* openSessions(url, 16)
      const code = yield* Effect.async<number | null>((resume) => {
        child.on("exit", (c) => resume(Effect.succeed(c)))
      })
      const lines = stdout.trim().split("\n")
      expect(code).toBe(0)
      expect(lines.filter((l) => / (HEALTHY|DEGRADED|UNHEALTHY|CRITICAL) /.test(l) && !l.includes("STATUS CHANGED"))).toHaveLength(3)
      expect(lines[0]).toContain(" HEALTHY ")
      expect(lines.filter((l) => l.includes("STATUS CHANGED HEALTHY -> CRITICAL"))).toHaveLength(1)
    }).pipe(Effect.scoped))

  it.effect("serve answers /livez, /readyz, /health and /metrics; /readyz follows the server down and up", () =>
    Effect.gen(function*() {
      const server = yield* EmbeddedPostgres.EmbeddedPostgres
      const port = yield* EmbeddedPostgres.freePort
      const child = yield* Effect.acquireRelease(
        Effect.sync(() =>
          spawn(process.execPath, [
            cli, "serve", "--url", Redacted.value(server.url), "--port", String(port), "--interval", "200ms",
            "--probe-timeout", "500", "--thresholds", thresholdsFile
          ], { env: { ...process.env, NO_COLOR: "1" } })
        ),
        (child) => Effect.sync(() => child.kill("SIGINT"))
      )
      let output = ""
      child.stdout.on("data", (d) => (output += String(d)))
      child.stderr.on("data", (d) => (output += String(d)))
      const get = (path: string) =>
        Effect.promise(() =>
          fetch(`http://127.0.0.1:${port}${path}`).then(
            async (r) => ({ status: r.status, body: await r.text(), type: r.headers.get("content-type") ?? "" }),
            () => ({ status: 0, body: "", type: "" })
          )
        )
      const waitFor = (path: string, status: number) =>
        Effect.gen(function*() {
          for (let i = 0; i < 300; i++) {
            const response = yield* get(path)
            if (response.status === status) return response
            yield* Effect.sleep("50 millis")
          }
          throw new Error(`${path} never answered ${status}; output: ${output}`)
        })

      expect((yield* waitFor("/livez", 200)).body).toBe("ok\n")
      expect((yield* waitFor("/readyz", 200)).body).toBe("HEALTHY\n")
      const health = yield* get("/health")
      expect(health.status).toBe(200)
      Schema.decodeUnknownSync(Health.DatabaseHealthCheckJson)(JSON.parse(health.body))

      const metrics = yield* get("/metrics")
      expect(metrics.status).toBe(200)
      expect(metrics.type).toContain("text/plain")
      for (const line of metrics.body.trim().split("\n")) {
        expect(line).toMatch(/^(# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+|[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf))$/)
      }
      for (const name of ["pg_resilience_health_status", "pg_resilience_health_connection_pool_usage", "pg_resilience_transaction_commits_total"]) {
        expect(metrics.body).toContain(`\n${name}`)
      }

      // The server goes away (every process of the cluster stopped): not ready, and back.
      const pids = [server.pid!, ...execSync(`pgrep -P ${server.pid}`, { encoding: "utf8" }).trim().split("\n").map(Number)]
      for (const pid of pids) process.kill(pid, "SIGSTOP")
      try {
        const down = yield* waitFor("/readyz", 503)
        expect(down.body).toBe("CRITICAL\n")
        // /livez never touches the database.
        expect((yield* get("/livez")).status).toBe(200)
      } finally {
        for (const pid of pids) process.kill(pid, "SIGCONT")
      }
      expect((yield* waitFor("/readyz", 200)).body).toBe("HEALTHY\n")
      expect(output).not.toContain(new URL(Redacted.value(server.url)).password)
    }).pipe(Effect.scoped))

  it.effect("setup grants what a restricted role needs and says what it changed", () =>
    Effect.gen(function*() {
      const server = yield* EmbeddedPostgres.EmbeddedPostgres
      const url = Redacted.value(server.url)
      yield* Effect.scoped(
        Effect.flatMap(openSessions(url, 1), ([admin]) => Effect.promise(() => admin!.query("CREATE ROLE app_reader LOGIN")))
      )
      const first = yield* run(["setup", "--url", url, "--role", "app_reader"])
      expect(first.code).toBe(0)
      expect(first.stdout).toContain("changed: granted pg_monitor to app_reader")
      expect(first.stdout).toContain("changed: created extension pg_stat_statements")
      const again = yield* run(["setup", "--url", url, "--role", "app_reader"])
      expect(again.stdout).toContain("nothing to change")
      const definer = yield* run(["setup", "--url", url, "--role", "app_reader", "--security-definer"])
      expect(definer.stdout).toContain("changed: created resilience_monitor.stat_activity()")
      const missing = yield* run(["setup", "--url", url, "--role", "nobody_here"])
      expect(missing.code).toBe(3)
      expect(missing.stderr.trim()).toBe("pg-resilience: setup failed: role nobody_here does not exist")
    }))
})
