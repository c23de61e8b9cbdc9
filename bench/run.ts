/**
 * `npm run bench [-- --quick] [-- --only W1,W4]`: the side-by-side benchmark of issue 7.
 *
 * Starts an embedded PostgreSQL (or uses DATABASE_URL), prepares a scratch database, runs W1–W6 with
 * every contender in alternation, prints the Markdown report on stdout (progress goes to stderr) and
 * writes bench/results/latest.json and bench/results/ratios.svg (`--quick`: latest-quick.json and
 * ratios-quick.svg, so a rot check never overwrites the full run's results).
 */
import { readFileSync } from "node:fs"
import { mkdir, writeFile } from "node:fs/promises"
import { fileURLToPath } from "node:url"
import { drizzleOrm } from "./contenders/drizzle.js"
import { effectSql } from "./contenders/effectSql.js"
import { kysely } from "./contenders/kysely.js"
import { ours } from "./contenders/ours.js"
import { oursPromise } from "./contenders/oursPromise.js"
import { pgRetry, rawPg } from "./contenders/pg.js"
import { pgbench, pgbenchVersion } from "./contenders/pgbench.js"
import { slonik } from "./contenders/slonik.js"
import type { Contender } from "./contenders/types.js"
import { hardwareLine, installRoundTripCounter } from "./harness.js"
import { type BenchResults, judgeAims, markdown, svgChart } from "./report.js"
import { type BenchServer, openServer } from "./server.js"
import { runTransactional, type TimingPlan } from "./workloads/transactional.js"
import { runAblation } from "./workloads/w1-ablation.js"
import { w1Workload } from "./workloads/w1-uncontended.js"
import { currentDeadlockTimeout, setDeadlockTimeout, w2Workload } from "./workloads/w2-deadlocks.js"
import { w3Workload } from "./workloads/w3-serialization.js"
import { runHealth } from "./workloads/w4-health.js"
import { runClassification } from "./workloads/w5-classification.js"
import { runMemory } from "./workloads/w6-memory.js"

const WORKLOADS = ["W1", "W2", "W3", "W4", "W5", "W6"] as const
type WorkloadId = typeof WORKLOADS[number]

/** Parsed command line. */
interface Args {
  readonly quick: boolean
  readonly only: ReadonlySet<WorkloadId>
}

/** Reads `--quick` and `--only W1,W2` (also `--only=W1,W2`); exits with usage on anything else. */
export const parseArgs = (argv: ReadonlyArray<string>): Args => {
  let quick = false
  let only: Set<WorkloadId> = new Set(WORKLOADS)
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === "--quick") quick = true
    else if (arg === "--only" || arg.startsWith("--only=")) {
      const value = arg === "--only" ? argv[++i] ?? "" : arg.slice("--only=".length)
      const ids = value.split(",").map((s) => s.trim().toUpperCase()).filter(Boolean)
      const unknown = ids.filter((id) => !(WORKLOADS as ReadonlyArray<string>).includes(id))
      if (unknown.length > 0 || ids.length === 0) usage(`unknown workload(s): ${unknown.join(", ") || "(none)"}`)
      only = new Set(ids as Array<WorkloadId>)
    } else if (arg === "--help" || arg === "-h") usage()
    else usage(`unknown argument: ${arg}`)
  }
  return { quick, only }
}

const usage = (error?: string): never => {
  if (error) process.stderr.write(`${error}\n`)
  process.stderr.write("usage: npm run bench [-- --quick] [-- --only W1,W2,W3,W4,W5,W6]\n")
  process.exit(error ? 2 : 0)
}

/** Durations per mode: the full run fits in about 10 minutes, --quick in about a minute. */
const plans = (quick: boolean) =>
  quick
    ? {
      w1: { rounds: 1, sliceMs: 1000, warmupMs: 300 },
      w2: { rounds: 1, sliceMs: 1000, warmupMs: 200 },
      w2fast: { rounds: 1, sliceMs: 1000, warmupMs: 200 },
      w3: { rounds: 1, sliceMs: 1000, warmupMs: 200 },
      w4: { rounds: 1, samplesPerRound: 30 },
      w5: { rounds: 3, sliceMs: 200 },
      w6: { transactions: 2_000, warmupTransactions: 500 }
    }
    : {
      w1: { rounds: 5, sliceMs: 2000, warmupMs: 1500 },
      w2: { rounds: 3, sliceMs: 3000, warmupMs: 1000 },
      w2fast: { rounds: 3, sliceMs: 2000, warmupMs: 500 },
      w3: { rounds: 3, sliceMs: 2000, warmupMs: 500 },
      w4: { rounds: 3, samplesPerRound: 100 },
      w5: { rounds: 5, sliceMs: 1000 },
      w6: { transactions: 100_000, warmupTransactions: 5_000 }
    } satisfies Record<string, TimingPlan | object>

const root = fileURLToPath(new URL("..", import.meta.url))

const packageVersions = (): Record<string, string> => {
  const versions: Record<string, string> = {}
  for (const name of ["effect", "@effect/sql", "@effect/sql-pg", "pg", "pg-pool", "slonik", "kysely", "drizzle-orm"]) {
    try {
      versions[name] = JSON.parse(readFileSync(`${root}node_modules/${name}/package.json`, "utf8")).version
    } catch {
      versions[name] = "unknown"
    }
  }
  return versions
}

const log = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`)

const main = async () => {
  const args = parseArgs(process.argv.slice(2))
  const plan = plans(args.quick)
  const started = performance.now()
  installRoundTripCounter()
  const pgbenchLine = pgbenchVersion()
  const contenders: Array<Contender> = [ours, effectSql, rawPg, pgRetry, slonik, kysely, drizzleOrm]
  if (pgbenchLine) contenders.push(pgbench)

  log(`starting (${args.quick ? "quick" : "full"} run, workloads ${[...args.only].join(" ")})`)
  let server: BenchServer | undefined
  const stop = async (signal: string) => {
    log(`${signal}: stopping the server`)
    await server?.close().catch(() => {})
    process.exit(130)
  }
  process.once("SIGINT", () => void stop("SIGINT"))
  process.once("SIGTERM", () => void stop("SIGTERM"))

  server = await openServer()
  log(`PostgreSQL ${server.version} (${server.embedded ? "embedded" : "DATABASE_URL"}), max_connections ${server.maxConnections}`)
  const results: BenchResults = {
    meta: {
      date: new Date().toISOString(),
      mode: args.quick ? "quick" : "full",
      durationSeconds: 0,
      postgres: server.version,
      embeddedServer: server.embedded,
      hardware: hardwareLine(),
      pgbench: pgbenchLine ?? null,
      packages: packageVersions(),
      serverDefaultDeadlockTimeout: await currentDeadlockTimeout(server)
    },
    skipped: pgbenchLine ? [] : ["pgbench (PostgreSQL 15+) is not on PATH: no physical reference"],
    aims: []
  }
  try {
    const options = { url: server.url, databaseName: server.databaseName, log }
    if (args.only.has("W1")) {
      results.w1 = await runTransactional(w1Workload(8), contenders.flatMap((c) => (c === ours ? [c, oursPromise] : [c])), plan.w1, options)
      log("W1 ablation (no server)")
      results.w1ablation = await runAblation(args.quick ? { transactions: 2_000, rounds: 1 } : { transactions: 20_000, rounds: 5 })
      results.roundTrips = Object.fromEntries(
        results.w1.contenders.filter((c) => c.roundTripsPerTransaction !== null).map((c) => [c.name, c.roundTripsPerTransaction])
      )
    }
    if (args.only.has("W2")) {
      const defaultTimeout = results.meta.serverDefaultDeadlockTimeout
      results.w2 = [await runTransactional(w2Workload(server, 8, defaultTimeout, "W2"), contenders, plan.w2, options)]
      const fast = await setDeadlockTimeout(server, "50ms")
      if (fast === "50ms") {
        try {
          results.w2.push(await runTransactional(w2Workload(server, 8, fast, "W2-50ms"), contenders, plan.w2fast, options))
        } finally {
          await setDeadlockTimeout(server, undefined)
        }
      } else {
        results.skipped.push("W2 with deadlock_timeout = 50ms: this role may not set deadlock_timeout (superuser only)")
      }
    }
    if (args.only.has("W3")) results.w3 = await runTransactional(w3Workload(server, 8), contenders, plan.w3, options)
    if (args.only.has("W5")) results.w5 = await runClassification(server, plan.w5, log)
    if (args.only.has("W4")) results.w4 = await runHealth(server, plan.w4, log)
    if (args.only.has("W6")) results.w6 = await runMemory(server, plan.w6, log)
  } finally {
    await server.close().catch((error) => log(`closing the server failed: ${String(error)}`))
  }
  results.meta = { ...results.meta, durationSeconds: (performance.now() - started) / 1000 }
  results.aims = judgeAims(results)

  const directory = `${root}bench/results/`
  await mkdir(directory, { recursive: true })
  const suffix = args.quick ? "-quick" : ""
  await writeFile(`${directory}latest${suffix}.json`, JSON.stringify(results, null, 2) + "\n")
  await writeFile(`${directory}ratios${suffix}.svg`, svgChart(results))
  const report = markdown(results)
  await writeFile(`${directory}latest${suffix}.md`, report)
  process.stdout.write(report + "\n")
  log(`wrote bench/results/latest${suffix}.json, latest${suffix}.md and ratios${suffix}.svg in ${Math.round(results.meta.durationSeconds)} s`)
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
    process.exit(1)
  }
)
