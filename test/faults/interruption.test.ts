/**
 * Fault suite: the caller interrupted while BEGIN is on a slow wire (a proxy adding latency), by each
 * of Effect's interruption paths. Nothing may commit, the interruption completes only once the
 * session is clean, and the pool gets everything back.
 */
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Effect, Exit, Fiber, Layer, Redacted, Scope } from "effect"
import * as Database from "../../src/Database.js"
import * as Transaction from "../../src/Transaction.js"
import * as ControlledServer from "../support/ControlledServer.js"
import * as FaultProxy from "../support/FaultProxy.js"

const LATENCY = 150

const setup = Effect.gen(function*() {
  const server = yield* ControlledServer.make()
  const proxy = yield* FaultProxy.make({ host: "127.0.0.1", port: server.port })
  const context = yield* Layer.build(
    Database.layer({ url: Redacted.make(proxy.via(server.url)), maxConnections: 4, applicationName: "fault-app" })
  )
  const run = <A, E>(effect: Effect.Effect<A, E, Database.Database | SqlClient.SqlClient>) => Effect.provide(effect, context)
  const sql = yield* run(SqlClient.SqlClient)
  yield* sql.unsafe("CREATE TABLE marks (id serial PRIMARY KEY, label text NOT NULL)")
  // Open connections first: the interruption must land in BEGIN, not while connecting. (A session that
  // had a cancel request sent to it is never reused, so this is done again before each case.)
  const warm = run(Effect.all(Array.from({ length: 4 }, () => sql.withTransaction(Effect.zipRight(sql`SELECT 1`, Effect.sleep("20 millis")))), {
    concurrency: "unbounded"
  }))
  yield* warm
  yield* proxy.setMode("latency", { latencyMillis: LATENCY })
  const db = yield* run(Database.Database)
  const mark = Transaction.withTransaction(sql`INSERT INTO marks (label) VALUES ('should never commit')`)
  /** After the interruption completed: nothing committed, nothing left open, every client back. */
  const clean = (path: string) => Effect.gen(function*() {
    expect((yield* db.poolStats).inUse, path).toBe(0)
    yield* proxy.setMode("pass")
    yield* Effect.sleep(`${3 * LATENCY} millis`)
    const [left] = yield* server.query<{ rows: number; idle_in_tx: number }>(`
      SELECT (SELECT count(*)::int FROM marks) AS rows,
             (SELECT count(*)::int FROM pg_stat_activity
               WHERE application_name = 'fault-app' AND state LIKE 'idle in transaction%') AS idle_in_tx`)
    expect(left, path).toEqual({ rows: 0, idle_in_tx: 0 })
    yield* warm
    yield* proxy.setMode("latency", { latencyMillis: LATENCY })
  })
  return { run, mark, clean }
})

describe("Faults: interrupted while BEGIN is on the wire", () => {
  it.live("by a failing sibling in Effect.all, Effect.timeout, Fiber.interrupt and a closing scope", () =>
    Effect.scoped(Effect.gen(function*() {
      const { clean, mark, run } = yield* setup
      const inBegin = `${LATENCY / 2} millis` as const

      const all = yield* run(Effect.all([mark, mark, Effect.zipRight(Effect.sleep(inBegin), Effect.fail("sibling"))], {
        concurrency: "unbounded"
      })).pipe(Effect.exit)
      expect(Exit.isFailure(all)).toBe(true)
      yield* clean("Effect.all")

      const timedOut = yield* run(mark).pipe(Effect.timeout(inBegin), Effect.exit)
      expect(Exit.isFailure(timedOut)).toBe(true)
      yield* clean("Effect.timeout")

      const fiber = yield* Effect.fork(run(mark))
      yield* Effect.sleep(inBegin)
      expect(Exit.isInterrupted(yield* Fiber.interrupt(fiber))).toBe(true)
      yield* clean("Fiber.interrupt")

      const scope = yield* Scope.make()
      yield* Effect.forkIn(run(mark), scope)
      yield* Effect.sleep(inBegin)
      yield* Scope.close(scope, Exit.void)
      yield* clean("scope close")
    })), 120_000)
})
