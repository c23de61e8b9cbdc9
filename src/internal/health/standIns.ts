/**
 * Results that stand in for a measured one: a scripted result (`layerTest`) and the CRITICAL
 * result for a check that itself failed. Built by `evaluateHealth`, so they have the same shape.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import type { PoolStats } from "../../Database.js"
import { evaluateHealth } from "./evaluate.js"
import { noFigures } from "./figures.js"
import type { DatabaseHealthCheck, DatabaseHealthService, DatabaseHealthStatus } from "./model.js"
import { defaultThresholds, type HealthThresholds } from "./thresholds.js"

const emptyPool: PoolStats = { total: 0, idle: 0, inUse: 0, waiting: 0, max: 0 }

const blank = (reachable: boolean, failure?: string) => ({
  reachable,
  ...(failure !== undefined ? { failure } : {}),
  pool: emptyPool,
  figures: noFigures(),
  activeConnections: null,
  idleConnections: null,
  details: {},
  unknown: []
})

/** A scripted result: the given fields over a blank result. */
export const scriptedCheck = (
  scripted: Partial<DatabaseHealthCheck> & { readonly status: DatabaseHealthStatus },
  at: Date
): DatabaseHealthCheck => ({
  ...evaluateHealth(blank(true), defaultThresholds, at),
  message: `${scripted.status} (scripted)`,
  ...scripted
})

/** CRITICAL, every figure unknown, saying that the check itself failed and why. */
export const failedHealthCheck = (reason: string, thresholds: HealthThresholds, checkedAt: Date): DatabaseHealthCheck => ({
  ...evaluateHealth(blank(false, reason), thresholds, checkedAt),
  message: `CRITICAL: the health check itself failed (${reason}), so the state of the database is unknown`,
  recommendations: [
    "A check that does not finish points at the server or the network (overload, locks, a connection that never answers): " +
    "check the server's load and pg_stat_activity. A check that crashes points at code: the line the HealthMonitor logged with it has the cause " +
    "(a custom DatabaseHealth service, or a bug to report to effect-pg-resilience)."
  ]
})

/** A service that plays back scripted results in order (the last one repeats): `Health.layerTest`. */
export const scriptedService = (
  results: ReadonlyArray<Partial<DatabaseHealthCheck> & { readonly status: DatabaseHealthStatus }>
): Effect.Effect<DatabaseHealthService> =>
  Effect.map(Ref.make(0), (index) => ({
    thresholds: defaultThresholds,
    check: () =>
      Effect.gen(function*() {
        const i = yield* Ref.getAndUpdate(index, (n) => n + 1)
        const now = yield* Clock.currentTimeMillis
        return scriptedCheck(results[Math.min(i, results.length - 1)] ?? { status: "HEALTHY" }, new Date(now))
      })
  }))
