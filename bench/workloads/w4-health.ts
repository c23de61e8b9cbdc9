/**
 * W4, health probe cost: latency of one `performHealthCheck` with 10, 100 and 300 idle server
 * sessions open (raw pg clients), and while the application pool is saturated (every slot busy and
 * callers queued). The scenarios alternate over rounds; p50/p99 are over all samples of a scenario.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type Pg from "pg"
import * as Database from "../../dist/Database.js"
import * as Health from "../../dist/Health.js"
import { makeRuntime } from "../contenders/effectRuntime.js"
import { percentile, perRoundRatios, rotate, sleep, type Spread, spread } from "../harness.js"
import type { BenchServer } from "../server.js"

/** One scenario's latencies. */
export interface HealthScenarioResult {
  readonly name: string
  readonly idleSessions: number
  readonly saturated: boolean
  readonly samples: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
  /** Status of the checks in this scenario, counted. */
  readonly statuses: Record<string, number>
  /** Pool figures the last check of the scenario reported. */
  readonly pool: { readonly inUse: number; readonly waiting: number; readonly max: number } | null
}

/** W4 results. */
export interface HealthResult {
  readonly scenarios: ReadonlyArray<HealthScenarioResult>
  /** p50 with the most idle sessions / p50 with 10, pooled over all rounds. */
  readonly p50Ratio: number
  readonly p99Ratio: number
  /** The same p50 ratio per round. */
  readonly p50RatioPerRound: Spread
  readonly mostIdle: number
  readonly note?: string
  readonly rounds: number
}

/** Application pool size during W4 (small, so that saturating it is cheap). */
const APP_POOL = 4

/** Runs W4. */
export const runHealth = async (
  server: BenchServer,
  plan: { readonly rounds: number; readonly samplesPerRound: number },
  log: (line: string) => void
): Promise<HealthResult> => {
  // Room on the server: leave the app pool, the probe, superuser-reserved slots and other sessions free.
  const [room] = await server.query<{ used: string; reserved: string }>(
    "SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') AS used, " +
      "current_setting('superuser_reserved_connections') AS reserved"
  )
  const available = server.maxConnections - Number(room?.used ?? 0) - Number(room?.reserved ?? 3) - APP_POOL - 12
  const mostIdle = Math.max(10, Math.min(300, available))
  const note = mostIdle < 300
    ? `the server allows ${server.maxConnections} connections: the largest level is ${mostIdle} idle sessions, not 300`
    : undefined
  const levels = [...new Set([10, Math.min(100, mostIdle), mostIdle])]
  const scenarios = [
    ...levels.map((idle) => ({ name: `${idle} idle sessions`, idle, saturated: false })),
    { name: "app pool saturated (10 idle sessions)", idle: 10, saturated: true }
  ]

  const idleClients: Array<Pg.Client> = []
  const setIdle = async (n: number) => {
    while (idleClients.length > n) await idleClients.pop()!.end().catch(() => {})
    while (idleClients.length < n) {
      const batch = Math.min(25, n - idleClients.length)
      idleClients.push(...(await Promise.all(Array.from({ length: batch }, () => server.connect()))))
    }
  }

  const runtime = await makeRuntime(
    Health.DatabaseHealth.layer().pipe(
      Layer.provideMerge(Database.layer({ url: Redacted.make(server.url), maxConnections: APP_POOL })),
      Layer.orDie
    )
  )
  const latencies = new Map<string, Array<number>>(scenarios.map((s) => [s.name, []]))
  const perRoundP50 = new Map<string, Array<number>>(scenarios.map((s) => [s.name, []]))
  const statuses = new Map<string, Record<string, number>>(scenarios.map((s) => [s.name, {}]))
  const pools = new Map<string, HealthScenarioResult["pool"]>()
  const check = async () => {
    const started = performance.now()
    const result = await runtime.runPromise(Health.performHealthCheck())
    return { ms: performance.now() - started, result }
  }
  try {
    for (let i = 0; i < 20; i++) await check()
    for (let round = 0; round < plan.rounds; round++) {
      for (const scenario of rotate(scenarios, round)) {
        await setIdle(scenario.idle)
        let saturating = scenario.saturated
        const load = scenario.saturated
          ? runtime.runPromise(
            Effect.all(
              Array.from({ length: APP_POOL * 3 }, () =>
                Effect.gen(function*() {
                  const sql = yield* SqlClient.SqlClient
                  while (saturating) yield* Effect.ignore(sql`SELECT pg_sleep(0.05)`)
                })),
              { concurrency: "unbounded", discard: true }
            )
          )
          : Promise.resolve()
        await sleep(scenario.saturated ? 300 : 100)
        const round_: Array<number> = []
        let last: Health.DatabaseHealthCheck | undefined
        for (let i = 0; i < plan.samplesPerRound; i++) {
          const { ms, result } = await check()
          round_.push(ms)
          last = result
          const counts = statuses.get(scenario.name)!
          counts[result.status] = (counts[result.status] ?? 0) + 1
        }
        saturating = false
        await load
        if (last) pools.set(scenario.name, { inUse: last.pool.inUse, waiting: last.pool.waiting, max: last.pool.max })
        latencies.get(scenario.name)!.push(...round_)
        const p50 = percentile([...round_].sort((a, b) => a - b), 50)
        perRoundP50.get(scenario.name)!.push(p50)
        log(`W4 round ${round + 1}/${plan.rounds} ${scenario.name}: p50 ${p50.toFixed(2)} ms`)
      }
    }
  } finally {
    await setIdle(0)
    await runtime.dispose()
  }
  const results = scenarios.map((scenario): HealthScenarioResult => {
    const sorted = [...latencies.get(scenario.name)!].sort((a, b) => a - b)
    return {
      name: scenario.name,
      idleSessions: scenario.idle,
      saturated: scenario.saturated,
      samples: sorted.length,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      maxMs: sorted[sorted.length - 1] ?? Number.NaN,
      statuses: statuses.get(scenario.name)!,
      pool: pools.get(scenario.name) ?? null
    }
  })
  const base = results.find((r) => !r.saturated && r.idleSessions === 10)!
  const most = results.find((r) => !r.saturated && r.idleSessions === mostIdle)!
  return {
    scenarios: results,
    p50Ratio: most.p50Ms / base.p50Ms,
    p99Ratio: most.p99Ms / base.p99Ms,
    p50RatioPerRound: spread(perRoundRatios(perRoundP50.get(most.name)!, perRoundP50.get(base.name)!)),
    mostIdle,
    ...(note ? { note } : {}),
    rounds: plan.rounds
  }
}
