/**
 * `npm start` as a user runs it: the built demo (dist/demo/main.js, emitted by `tsc -p tsconfig.json`
 * before vitest in `npm test`) with DATABASE_URL set to a fresh database on this run's server.
 */
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { fileURLToPath } from "node:url"
import Pg from "pg"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { withDatabaseName } from "./support/TestDatabase.js"

const mainJs = fileURLToPath(new URL("../dist/demo/main.js", import.meta.url))
const packageRoot = fileURLToPath(new URL("..", import.meta.url))

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs the built demo with `env`, killing it after `timeoutMillis`. */
const runDemo = (env: NodeJS.ProcessEnv, timeoutMillis: number): Promise<Run> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [mainJs], { cwd: packageRoot, env, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMillis)
    child.on("error", reject)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })

/** A raw client on `url` for one task, outside anything under test. */
const withClient = async <A>(url: string, task: (client: Pg.Client) => Promise<A>): Promise<A> => {
  const client = new Pg.Client({ connectionString: url })
  client.on("error", () => {})
  await client.connect()
  try {
    return await task(client)
  } finally {
    await client.end().catch(() => {})
  }
}

/**
 * The URL the demo gets. A server without a password in its URL (trust auth, as in CI's
 * PostgreSQL 15) gets a made-up one, which trust ignores: the demo must hide it all the same.
 */
const withSomePassword = (url: string): { url: string; password: string } => {
  const parsed = new URL(url)
  if (parsed.password === "") parsed.password = `demo-secret-${randomBytes(6).toString("hex")}`
  return { url: parsed.toString(), password: decodeURIComponent(parsed.password) }
}

describe("npm start (the demo)", () => {
  const serverUrl = inject("serverUrl")
  const name = `demo_${randomBytes(5).toString("hex")}`
  const target = withSomePassword(withDatabaseName(serverUrl, name))

  beforeAll(() => withClient(serverUrl, (c) => c.query(`CREATE DATABASE ${name}`)))
  afterAll(() => withClient(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)))

  it("checks every claim of its five steps, exits 0, never prints the password and leaves the database clean", async () => {
    const run = await runDemo({ ...process.env, DATABASE_URL: target.url, NO_COLOR: "1" }, 110_000)
    const output = `${run.stdout}\n${run.stderr}`

    expect(run.code, output).toBe(0)
    for (const section of [1, 2, 3, 4, 5]) {
      expect(run.stdout, `section ${section}`).toMatch(new RegExp(`^━━ ${section} · `, "m"))
    }
    expect(run.stdout).not.toContain("✗")
    expect(run.stdout).toMatch(/^✓ all \d+ claims checked and true/m)
    expect(run.stdout.match(/^ {2}✓ /gm)?.length ?? 0).toBeGreaterThanOrEqual(20)
    expect(output).not.toContain(target.password)
    expect(output).not.toContain(encodeURIComponent(target.password))

    const leftovers = await withClient(target.url, (c) =>
      c.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgr\\_demo\\_%'`)
    )
    expect(leftovers.rows).toEqual([])
  }, 120_000)
})
