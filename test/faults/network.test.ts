/**
 * Fault suite: a network that black-holes, resets and lags between the application and PostgreSQL
 * (a TCP fault proxy in front of a server of the test's own). Every call must end within its
 * timeout plus `cancelGrace`, leave nothing behind, and the application must be whole after healing.
 */
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { type Context, Deferred, Effect, Fiber, Layer, Option, Redacted } from "effect"
import * as Database from "../../src/Database.js"
import { isDatabaseError } from "../../src/Errors.js"
import * as Health from "../../src/Health.js"
import * as HealthMonitor from "../../src/HealthMonitor.js"
import * as Transaction from "../../src/Transaction.js"
import * as ControlledServer from "../support/ControlledServer.js"
import * as FaultProxy from "../support/FaultProxy.js"

const TIMEOUT = 2000
const GRACE = 1000
/** Scheduling noise on a loaded 2-core machine. */
const SLACK = 700

type App = Context.Context<Database.Database | SqlClient.SqlClient>

const setup = Effect.gen(function*() {
  const server = yield* ControlledServer.make()
  const proxy = yield* FaultProxy.make({ host: "127.0.0.1", port: server.port })
  const context: App = yield* Layer.build(
    Database.layer({
      url: Redacted.make(proxy.via(server.url)),
      maxConnections: 4,
      connectTimeout: "5 seconds",
      cancelGrace: GRACE,
      applicationName: "fault-app"
    })
  )
  const run = <A, E>(effect: Effect.Effect<A, E, Database.Database | SqlClient.SqlClient>) => Effect.provide(effect, context)
  yield* run(Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.unsafe("CREATE TABLE IF NOT EXISTS marks (id serial PRIMARY KEY, label text NOT NULL)")))
  return { server, proxy, context, run }
})

const sqlOf = Effect.map(SqlClient.SqlClient, (sql) => sql)

/** Runs `effect` and returns its error tag and how long it took. */
const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const started = Date.now()
    const exit = yield* Effect.exit(effect)
    const error = exit._tag === "Failure" && exit.cause._tag === "Fail" ? exit.cause.error : undefined
    return {
      millis: Date.now() - started,
      outcome: exit._tag === "Success" ? "Success" : isDatabaseError(error) ? error._tag : `untyped ${exit.cause._tag}`
    }
  })

/** 50 transactions after healing, 8 at a time: all must commit. */
const fiftyAfterHealing = (run: <A, E>(e: Effect.Effect<A, E, Database.Database | SqlClient.SqlClient>) => Effect.Effect<A, E>) =>
  run(Effect.gen(function*() {
    const sql = yield* sqlOf
    const outcomes = yield* Effect.forEach(
      Array.from({ length: 50 }, (_, i) => i),
      (i) => timed(Transaction.withTransaction(sql`INSERT INTO marks (label) VALUES (${`after-${i}`})`)),
      { concurrency: 8 }
    )
    return outcomes.filter((o) => o.outcome === "Success").length
  }))

describe("Faults: the network", () => {
  it.live("a black hole during connect, BEGIN, a statement and COMMIT: each call ends within timeout + cancelGrace", () =>
    Effect.scoped(Effect.gen(function*() {
      const { proxy, run, server } = yield* setup
      const bound = TIMEOUT + GRACE + SLACK
      const report: Record<string, unknown> = {}

      // Connect: a second pool on the same route, with no connection yet: the first one is opened into the hole.
      const unopened = yield* Layer.build(Database.layer({
        url: Redacted.make(proxy.via(server.url)),
        maxConnections: 2,
        connectTimeout: "10 seconds",
        cancelGrace: GRACE
      }))
      yield* proxy.setMode("blackhole")
      const connect = yield* timed(
        Effect.provide(Effect.flatMap(sqlOf, (sql) => Transaction.withTransaction(sql`SELECT 1`, { timeout: TIMEOUT })), unopened)
      )
      report.connect = connect
      expect(connect.outcome).toBe("TransactionTimeout")
      expect(connect.millis).toBeLessThan(bound)
      yield* proxy.setMode("pass")

      // BEGIN: a pooled connection exists; BEGIN goes into the hole.
      yield* run(Effect.flatMap(sqlOf, (sql) => sql`SELECT 1`))
      yield* proxy.setMode("blackhole")
      const begin = yield* timed(run(Effect.flatMap(sqlOf, (sql) => Transaction.withTransaction(sql`SELECT 1`, { timeout: TIMEOUT }))))
      report.begin = begin
      expect(begin.outcome).toBe("TransactionTimeout")
      expect(begin.millis).toBeLessThan(bound)
      yield* proxy.setMode("pass")

      // A statement in the body.
      const statement = yield* timed(run(Effect.flatMap(sqlOf, (sql) =>
        Transaction.withTransaction(
          Effect.gen(function*() {
            yield* sql`SELECT 1`
            yield* proxy.setMode("blackhole")
            yield* sql`SELECT 2`
          }),
          { timeout: TIMEOUT }
        ))))
      report.statement = statement
      expect(statement.outcome).toBe("TransactionTimeout")
      expect(statement.millis).toBeLessThan(bound)
      yield* proxy.setMode("pass")

      // COMMIT sent into the hole: no answer by the deadline plus the grace, so the outcome is unknown.
      const inserted = (label: string) =>
        run(Effect.flatMap(sqlOf, (sql) => sql<{ n: number }>`SELECT count(*)::int AS n FROM marks WHERE label = ${label}`))
          .pipe(Effect.map((rows) => rows[0]!.n))
      const commitInto = (label: string, only?: "replies") =>
        timed(run(Effect.flatMap(sqlOf, (sql) =>
          Transaction.withTransaction(
            Effect.gen(function*() {
              yield* sql`INSERT INTO marks (label) VALUES (${label})`
              yield* proxy.setMode("blackhole", only ? { only } : {})
            }),
            { timeout: TIMEOUT }
          ))))
      const commit = yield* commitInto("both ways")
      report.commit = commit
      expect(commit.outcome).toBe("CommitOutcomeUnknown")
      expect(commit.millis).toBeLessThan(bound)
      yield* proxy.setMode("pass")
      // What really happened: the held COMMIT reached the server only after the server's own limit
      // (idle in transaction past the deadline plus a slack) had ended the transaction: nothing saved.
      yield* Effect.sleep("300 millis")
      report.commitSaved = yield* inserted("both ways")
      expect(report.commitSaved).toBe(0)

      // Only the answers lost: COMMIT reached the server and committed; the caller could not know.
      const replies = yield* commitInto("answer lost", "replies")
      report.commitAnswerLost = replies
      expect(replies.outcome).toBe("CommitOutcomeUnknown")
      expect(replies.millis).toBeLessThan(bound)
      yield* proxy.setMode("pass")
      report.commitAnswerLostSaved = yield* inserted("answer lost")
      expect(report.commitAnswerLostSaved).toBe(1)

      // After healing, 50 of 50.
      expect(yield* fiftyAfterHealing(run)).toBe(50)
      const db = yield* run(Database.Database)
      expect((yield* db.poolStats).inUse).toBe(0)
      console.log(`blackhole: ${JSON.stringify(report)}`)
    })), 120_000)

  it.live("pooled connections stranded by a server restart behind a partition are replaced, not handed out: 50 of 50 after healing", () =>
    Effect.scoped(Effect.gen(function*() {
      const { proxy, run, server } = yield* setup
      // Four open pooled connections.
      yield* run(Effect.flatMap(sqlOf, (sql) =>
        Effect.all(Array.from({ length: 4 }, () => sql.withTransaction(Effect.zipRight(sql`SELECT 1`, Effect.sleep("50 millis")))), {
          concurrency: "unbounded"
        })))
      const db = yield* run(Database.Database)
      expect((yield* db.poolStats).idle).toBe(4)
      // The partition: the server restarts behind it, so none of the four sessions exists any more, and
      // the application is not told (its sockets see nothing until they send).
      yield* proxy.setMode("blackhole")
      yield* server.stop("fast")
      yield* server.start
      yield* proxy.setMode("pass")
      expect((yield* db.poolStats).idle).toBe(4)
      // withTransaction (not the retrying variant): a connection found dead before BEGIN reached the
      // server is replaced at once.
      expect(yield* fiftyAfterHealing(run)).toBe(50)
      expect((yield* db.poolStats).inUse).toBe(0)
    })), 120_000)

  it.live("200 timeouts over a lagging network leave no session idle in transaction, no lock and no pool client in use", () =>
    Effect.scoped(Effect.gen(function*() {
      const { proxy, run, server } = yield* setup
      yield* proxy.setMode("latency", { latencyMillis: 15 })
      const outcomes = yield* run(Effect.flatMap(sqlOf, (sql) =>
        Effect.forEach(
          Array.from({ length: 200 }),
          () => timed(Transaction.withTransaction(sql`SELECT pg_sleep(10)`, { timeout: 150 })),
          { concurrency: 8 }
        )))
      expect(outcomes.every((o) => o.outcome === "TransactionTimeout")).toBe(true)
      const slowest = Math.max(...outcomes.map((o) => o.millis))
      console.log(`timeouts: 200 of 200 TransactionTimeout (timeout 150 ms, 15 ms latency), slowest call ${slowest} ms`)
      expect(slowest).toBeLessThan(150 + GRACE + SLACK)
      yield* proxy.setMode("pass")
      // Connections still being opened for waiters that timed out are handed back as they arrive.
      const db = yield* run(Database.Database)
      let inUse = -1
      for (let i = 0; i < 40 && inUse !== 0; i++) {
        inUse = (yield* db.poolStats).inUse
        if (inUse !== 0) yield* Effect.sleep("50 millis")
      }
      expect(inUse).toBe(0)
      let left = { idle_in_tx: -1, active: -1, locks: -1 }
      for (let i = 0; i < 40; i++) {
        left = (yield* server.query<typeof left>(`
          SELECT
            (SELECT count(*)::int FROM pg_stat_activity WHERE application_name = 'fault-app' AND state LIKE 'idle in transaction%') AS idle_in_tx,
            (SELECT count(*)::int FROM pg_stat_activity WHERE application_name = 'fault-app' AND state = 'active') AS active,
            (SELECT count(*)::int FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE a.application_name = 'fault-app') AS locks`))[0]!
        if (left.idle_in_tx === 0 && left.active === 0 && left.locks === 0) break
        yield* Effect.sleep("50 millis")
      }
      expect(left).toEqual({ idle_in_tx: 0, active: 0, locks: 0 })
    })), 120_000)

  it.live("health: CRITICAL within the probe timeout in a black hole, back after healing, and answers while the pool is exhausted", () =>
    Effect.scoped(Effect.gen(function*() {
      const { context, proxy, run } = yield* setup
      const quiet = {
        // A cold cache and a slow probe round trip on a loaded machine are not what is tested here.
        degraded: { cacheHitRatio: 0, probeLatency: 1000 },
        unhealthy: { cacheHitRatio: 0, probeLatency: 2000 },
        critical: { cacheHitRatio: 0, probeLatency: 4000 }
      }
      const health = yield* Layer.build(
        Health.DatabaseHealth.layer({ probeTimeout: "1 second", thresholds: quiet }).pipe(Layer.provide(Layer.succeedContext(context)))
      )
      const check = Effect.provide(Health.performHealthCheck(), health)
      expect((yield* check).status).toBe("HEALTHY")

      yield* proxy.setMode("blackhole")
      const started = Date.now()
      const inHole = yield* check
      const inHoleMillis = Date.now() - started
      expect(inHole.status).toBe("CRITICAL")
      expect(inHoleMillis).toBeLessThan(1000 + SLACK)
      yield* proxy.setMode("pass")
      expect((yield* check).status).toBe("HEALTHY")

      // The application's pool exhausted: every connection held in a transaction. The probe has a
      // connection of its own, so the check still measures the server, and reports the full pool.
      const release = yield* Deferred.make<void>()
      const holding = yield* Deferred.make<void>()
      let held = 0
      const holders = yield* Effect.forkScoped(run(Effect.flatMap(sqlOf, (sql) =>
        Effect.all(Array.from({ length: 4 }, () =>
          sql.withTransaction(Effect.gen(function*() {
            yield* sql`SELECT 1`
            if (++held === 4) yield* Deferred.succeed(holding, undefined)
            yield* Deferred.await(release)
          }))), { concurrency: "unbounded" }))))
      yield* Deferred.await(holding)
      const whileFull = Date.now()
      const full = yield* check
      const fullMillis = Date.now() - whileFull
      expect(fullMillis).toBeLessThan(1000 + SLACK)
      expect(full.pool.inUse).toBe(4)
      expect(full.figures.connectionPoolUsage.value).toBe(100)
      expect(full.figures.probeLatency.value).not.toBeNull()
      expect(full.figures.serverConnectionUsage.value).not.toBeNull()
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holders)
      console.log(`health: CRITICAL after ${inHoleMillis} ms in a black hole; with the pool full: ${full.status} in ${fullMillis} ms, ${full.pool.inUse}/${full.pool.max} in use`)
    })), 120_000)

  it.live("the monitor goes CRITICAL during a black hole and reports the recovery after healing", () =>
    Effect.scoped(Effect.gen(function*() {
      const { context, proxy } = yield* setup
      const quiet = {
        // A cold cache and a slow probe round trip on a loaded machine are not what is tested here.
        degraded: { cacheHitRatio: 0, probeLatency: 1000 },
        unhealthy: { cacheHitRatio: 0, probeLatency: 2000 },
        critical: { cacheHitRatio: 0, probeLatency: 4000 }
      }
      const seen: Array<string> = []
      const monitor = yield* Layer.build(
        HealthMonitor.HealthMonitor.layer({ interval: "200 millis", onStatusChange: (check) => void seen.push(check.status) }).pipe(
          Layer.provide(Health.DatabaseHealth.layer({ probeTimeout: "500 millis", thresholds: quiet })),
          Layer.provide(Layer.succeedContext(context))
        )
      )
      const latest = Effect.provide(Effect.flatMap(HealthMonitor.HealthMonitor, (m) => m.latest), monitor)
      const waitFor = (status: string) =>
        Effect.gen(function*() {
          for (let i = 0; i < 100; i++) {
            const current = yield* latest
            if (Option.isSome(current) && current.value.status === status) return true
            yield* Effect.sleep("50 millis")
          }
          return false
        })
      expect(yield* waitFor("HEALTHY")).toBe(true)
      yield* proxy.setMode("blackhole")
      expect(yield* waitFor("CRITICAL")).toBe(true)
      yield* proxy.setMode("pass")
      expect(yield* waitFor("HEALTHY")).toBe(true)
      expect(seen).toEqual(["HEALTHY", "CRITICAL", "HEALTHY"])
    })), 120_000)
})
