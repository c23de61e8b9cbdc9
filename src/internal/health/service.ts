/**
 * The live health service: one check at a time on the probe's own connection, windowed figures
 * against the previous check (or, on the first check, against a sample taken `firstCheckWindow`
 * earlier, so that even a one-shot check judges what happens now), the expensive pass on a cadence
 * of its own, evidence for the recommendations, and the gauges.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Ref from "effect/Ref"
import { classifyDatabaseError } from "../../Classify.js"
import type { DatabaseService, PoolStats } from "../../Database.js"
import type { DatabaseHealthCheck, DatabaseHealthService, HealthSnapshot, UnknownFigure } from "./model.js"
import { evaluateHealth, levelOf } from "./evaluate.js"
import { noFigures } from "./figures.js"
import { recordGauges } from "./gauges.js"
import type { ServiceConfig } from "./options.js"
import {
  type CheapSample,
  makeProbeContext,
  type ProbeContext,
  readCheap,
  readEvidence,
  readExpensive,
  readFirstSample
} from "./probe.js"
import { type ExpensiveState, nextExpensive } from "./expensive.js"
import { type ConsoleReading, poolerFigures } from "./pooler.js"
import { readConsole } from "./poolerConsole.js"
import { type Baseline, buildSnapshot, type Counters, countersOf } from "./snapshot.js"
import type { HealthThresholds } from "./thresholds.js"

/** What one service remembers between checks. */
interface State {
  readonly counters: Counters | undefined
  readonly expensive: ExpensiveState | undefined
  /** When the expensive pass is due next (milliseconds, `performance.now()` origin). */
  readonly expensiveDueAt: number
}

/** Real time: the window is about the server's real counters, whatever clock the caller's fiber has. */
const sleepReal = (millis: number): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    const timer = setTimeout(() => resume(Effect.void), millis)
    return Effect.sync(() => clearTimeout(timer))
  })

const describeFailure = (error: unknown): string => {
  if (typeof error === "string") return error
  try {
    return classifyDatabaseError(error).technicalMessage
  } catch {
    return error instanceof Error ? error.message : "the probe failed"
  }
}

/**
 * The result for a server that could not be checked; with what the pooler's admin console said,
 * when one is configured (behind a saturated PgBouncer the probe itself queues, and the clients
 * waiting there are what explains it).
 */
export const unreachable = (pool: PoolStats, failure: string, console?: ConsoleReading): HealthSnapshot => {
  const figures = noFigures()
  figures.connectionPoolUsage = pool.max > 0 ? Math.round((pool.inUse / pool.max) * 10_000) / 100 : 0
  figures.poolWaiting = pool.waiting
  const unknown: Array<UnknownFigure> = []
  const details = console === undefined
    ? {}
    : { pooler: poolerFigures({ clientPid: null, backendPid: null, console }, figures, unknown) }
  return { reachable: false, failure, pool, figures, activeConnections: null, idleConnections: null, details, unknown }
}

/** Builds the live service on a `Database`. */
export const make = (db: DatabaseService, config: ServiceConfig): Effect.Effect<DatabaseHealthService> =>
  Effect.gen(function*() {
    const state = yield* Ref.make<State>({ counters: undefined, expensive: undefined, expensiveDueAt: 0 })
    const context: ProbeContext = makeProbeContext()
    // Windowed figures need one check at a time.
    const lock = yield* Effect.makeSemaphore(1)
    const timeoutMillis = Duration.toMillis(config.probeTimeout)
    const cadence = `every ${Duration.format(config.expensiveInterval)}`

    /** One round on the probe's connection, bounded by the probe timeout; any failure is a reason. */
    const onProbe = <A>(what: (client: Parameters<Parameters<DatabaseService["withProbeConnection"]>[0]>[0]) => Promise<A>) =>
      db.withProbeConnection((client) => Effect.tryPromise(() => what(client))).pipe(
        Effect.timeoutFail({
          duration: config.probeTimeout,
          onTimeout: () => `no answer within ${Duration.format(config.probeTimeout)}`
        }),
        Effect.mapError(describeFailure),
        Effect.tapError(() =>
          Effect.sync(() => {
            context.variant = undefined
          })
        ),
        Effect.either
      )

    const cheap = onProbe((client) => readCheap(client, context))
    // The pooler's admin console, on its own connection (so also when the probe queues in the pooler).
    const consoleReading: Effect.Effect<ConsoleReading | undefined> = config.poolerAdminUrl === undefined
      ? Effect.succeed(undefined)
      : readConsole(config.poolerAdminUrl, timeoutMillis)

    const expensivePass = (previous: ExpensiveState | undefined) =>
      Effect.gen(function*() {
        const result = yield* onProbe((client) => readExpensive(client, context))
        const now = yield* Clock.currentTimeMillis
        return nextExpensive(
          previous,
          Either.isRight(result) ? result.right : { failure: result.left },
          performance.now(),
          new Date(now).toISOString()
        )
      })

    const evidence = (snapshot: HealthSnapshot, t: HealthThresholds): Effect.Effect<HealthSnapshot> => {
      const slow = levelOf("avgQueryTime", snapshot.figures.avgQueryTime, t)
      const cold = levelOf("cacheHitRatio", snapshot.figures.cacheHitRatio, t)
      const schema = snapshot.details.avgQueryTimeSource === "pg_stat_statements" ? snapshot.details.pgStatStatementsSchema ?? null : null
      const want = {
        statementsSchema: schema !== null && slow !== "HEALTHY" && slow !== "UNKNOWN" ? schema : null,
        coldCache: cold !== "HEALTHY" && cold !== "UNKNOWN"
      }
      if (want.statementsSchema === null && !want.coldCache) return Effect.succeed(snapshot)
      return db.withProbeConnection((client) => Effect.tryPromise(() => readEvidence(client, context, want))).pipe(
        Effect.timeout(`${Math.min(2000, timeoutMillis)} millis`),
        Effect.map((found) => ({ ...snapshot, details: { ...snapshot.details, ...found } })),
        Effect.orElseSucceed(() => snapshot)
      )
    }

    const measure = (t: HealthThresholds): Effect.Effect<HealthSnapshot> =>
      Effect.gen(function*() {
        const remembered = yield* Ref.get(state)
        let baseline: Baseline
        if (remembered.counters !== undefined) {
          baseline = { kind: "previous check", counters: remembered.counters }
        } else if (Duration.toMillis(config.firstCheckWindow) > 0) {
          // First check: a first sample, then the real one a short window later.
          const first = yield* onProbe((client) => readFirstSample(client, context))
          if (Either.isLeft(first)) return unreachable(yield* db.poolStats, first.left, yield* consoleReading)
          const at = performance.now()
          baseline = { kind: "first check", counters: countersOf(first.right, yield* db.statementStats, at) }
          yield* sleepReal(Duration.toMillis(config.firstCheckWindow))
        } else {
          baseline = { kind: "none" }
        }
        const [sampled, pooler] = yield* Effect.all([cheap, consoleReading], { concurrency: 2 })
        const pool = yield* db.poolStats
        if (Either.isLeft(sampled)) return unreachable(pool, sampled.left, pooler)
        const sample: CheapSample = sampled.right
        const counters = countersOf(sample, yield* db.statementStats, performance.now())
        let expensive = remembered.expensive
        let expensiveDueAt = remembered.expensiveDueAt
        if (expensive === undefined || performance.now() >= expensiveDueAt) {
          expensive = yield* expensivePass(expensive)
          expensiveDueAt = performance.now() + Duration.toMillis(config.expensiveInterval)
        }
        yield* Ref.set(state, { counters, expensive, expensiveDueAt })
        const snapshot = buildSnapshot({
          pool,
          sample,
          counters,
          baseline,
          expensive,
          expensiveCadence: cadence,
          expectedReplicas: config.expectedReplicas,
          pooler
        })
        return yield* evidence(snapshot, t)
      })

    const check = (custom?: HealthThresholds): Effect.Effect<DatabaseHealthCheck> =>
      lock.withPermits(1)(
        Effect.gen(function*() {
          const t = custom ?? config.thresholds
          const snapshot = yield* measure(t)
          const now = yield* Clock.currentTimeMillis
          const result = evaluateHealth(snapshot, t, new Date(now))
          yield* recordGauges(result)
          return result
        })
      )

    return {
      check,
      thresholds: config.thresholds,
      probeTimeout: config.probeTimeout,
      firstCheckWindow: config.firstCheckWindow
    }
  })
