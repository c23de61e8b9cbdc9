/**
 * pgbench, the physical reference: the same transactions as a pgbench script (C, libpq, extended
 * protocol like the node drivers), 8 clients on 2 threads. With `--max-tries=4` it retries deadlocks
 * and serialization failures itself (PostgreSQL 15+ pgbench), without backoff.
 */
import { execFile, spawnSync } from "node:child_process"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pgbenchScripts } from "../schema.js"
import { type Contender, newTally, type Tally } from "./types.js"

/** Whether a pgbench that knows `--max-tries` (PostgreSQL 15+) is on PATH, and its version line. */
export const pgbenchVersion = (): string | undefined => {
  const result = spawnSync("pgbench", ["--version"], { encoding: "utf8" })
  if (result.status !== 0) return undefined
  const line = result.stdout.trim()
  const major = Number(/(\d+)/.exec(line)?.[1] ?? 0)
  return major >= 15 ? line : undefined
}

const number = (output: string, pattern: RegExp): number => Number(pattern.exec(output)?.[1] ?? Number.NaN)

/** Reads pgbench's summary into a tally. */
export const parsePgbench = (output: string): Tally => {
  const tally = newTally()
  tally.deltas = undefined
  tally.committed = number(output, /number of transactions actually processed: (\d+)/)
  tally.failed = number(output, /number of failed transactions: (\d+)/) || 0
  const retries = number(output, /total number of retries: (\d+)/)
  tally.retries = Number.isFinite(retries) ? retries : 0
  tally.attempts = -1
  const tps = number(output, /tps = ([\d.]+)/)
  tally.elapsedMs = tps > 0 ? (tally.committed / tps) * 1000 : Number.NaN
  const deadlocks = number(output, /number of deadlock failures: (\d+)/)
  const serialization = number(output, /number of serialization failures: (\d+)/)
  if (deadlocks > 0) tally.failuresByCode["40P01"] = deadlocks
  if (serialization > 0) tally.failuresByCode["40001"] = serialization
  return tally
}

/** pgbench, as a contender (only when it is on PATH; the password goes through PGPASSWORD). */
export const pgbench: Contender = {
  name: "pgbench",
  label: "pgbench (C, libpq)",
  retries: true,
  inProcess: false,
  open: async ({ url }) => {
    const directory = await mkdtemp(join(tmpdir(), "pgr-bench-"))
    const parsed = new URL(url)
    const env: NodeJS.ProcessEnv = { ...process.env, PGHOST: decodeURIComponent(parsed.hostname) }
    if (parsed.port) env.PGPORT = parsed.port
    if (parsed.username) env.PGUSER = decodeURIComponent(parsed.username)
    if (parsed.password) env.PGPASSWORD = decodeURIComponent(parsed.password)
    env.PGDATABASE = decodeURIComponent(parsed.pathname.slice(1))
    delete env.DATABASE_URL
    return {
      run: async (slice) => {
        const script = join(directory, `${slice.kind}.sql`)
        await writeFile(script, pgbenchScripts[slice.kind] + "\n")
        const seconds = Math.max(1, Math.round(slice.durationMs / 1000))
        const args = [
          "-n", "-M", "extended", "-c", String(slice.workers), "-j", "2", "-T", String(seconds), "-f", script,
          ...(slice.kind === "touch" ? [] : ["--max-tries=4", "--failures-detailed"])
        ]
        const output = await new Promise<string>((resolve, reject) =>
          execFile("pgbench", args, { env, encoding: "utf8" }, (error, stdout, stderr) => {
            const text = `${stdout}\n${stderr}`
            if (error && !/number of transactions actually processed/.test(text)) {
              reject(new Error(`pgbench failed: ${stderr.trim().split("\n").slice(-3).join(" | ")}`))
            } else resolve(text)
          })
        )
        return parsePgbench(output)
      },
      close: () => rm(directory, { recursive: true, force: true })
    }
  }
}
