/**
 * Figures that need server settings of their own: a tiny shared_buffers for a cold cache, and
 * pg_stat_statements preloaded. This file starts its own embedded PostgreSQL 18 for that, whatever
 * server the rest of the run uses.
 */
import { layer } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Redacted } from "effect"
import Pg from "pg"
import { expect } from "vitest"
import * as Database from "../src/Database.js"
import * as EmbeddedPostgres from "../src/EmbeddedPostgres.js"
import * as Health from "../src/Health.js"

const Server = EmbeddedPostgres.layer({
  settings: { shared_buffers: "1MB", shared_preload_libraries: "pg_stat_statements", max_connections: 20 }
})
const Live = Health.DatabaseHealth.layer().pipe(
  Layer.provideMerge(
    Layer.unwrapEffect(Effect.map(EmbeddedPostgres.EmbeddedPostgres, (server) => Database.layer({ url: server.url })))
  ),
  Layer.provideMerge(Server),
  Layer.orDie
)

/**
 * A session for the workload. Backends publish their counters lazily (PG 15+: up to 10 s after the
 * work when they flushed recently), so this one asks for a flush after each piece of work.
 */
const workload = Effect.gen(function*() {
  const server = yield* EmbeddedPostgres.EmbeddedPostgres
  const client = yield* Effect.acquireRelease(
    Effect.promise(async () => {
      const c = new Pg.Client({ connectionString: Redacted.value(server.url) })
      await c.connect()
      return c
    }),
    (c) => Effect.promise(() => c.end())
  )
  return (text: string, times = 1) =>
    Effect.promise(async () => {
      for (let i = 0; i < times; i++) await client.query(text)
      await client.query("SELECT pg_stat_force_next_flush()")
      await client.query("SELECT 1")
      await new Promise((resolve) => setTimeout(resolve, 50))
    })
})

layer(Live, { timeout: "120 seconds", excludeTestServices: true })("DatabaseHealth with special server settings", (it) => {
  it.effect("a cold cache drives the windowed hit ratio and the status down, and a stats reset is noticed", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const run = yield* workload
      // All work goes through the flushing session, and autovacuum stays off these tables: a late
      // flush or an autoanalyze reading `big` would land in a later window.
      yield* run(`CREATE TABLE big WITH (autovacuum_enabled = false) AS
        SELECT g AS id, repeat('x', 500) AS payload FROM generate_series(1, 20000) g`)
      yield* run("CREATE TABLE small WITH (autovacuum_enabled = false) AS SELECT 1 AS id")
      const [size] = yield* sql<{ bytes: string }>`SELECT pg_table_size('big')::text AS bytes`
      expect(Number(size!.bytes)).toBeGreaterThan(8 * 1024 * 1024)
      // Warm: lots of hits on a small table.
      yield* run("SELECT * FROM small", 800)
      // The first check judges its own window (two samples a second apart), not the warm history.
      const first = yield* Health.performHealthCheck()
      expect(first.details.cacheHitRatioWindow).toMatch(/^two samples [\d.]+ s apart \(first check\)$/)
      expect(first.metrics.cacheHitRatio).toBeNull()
      // Cold: scans of a table far larger than shared_buffers.
      yield* run("SELECT count(*) FROM big", 3)
      const cold = yield* Health.performHealthCheck()
      expect(cold.details.cacheHitRatioWindow).toMatch(/^since the last check, [\d.]+ s ago$/)
      expect(cold.metrics.cacheHitRatio).not.toBeNull()
      expect(cold.metrics.cacheHitRatio!).toBeLessThan(70)
      expect(cold.figures.cacheHitRatio.status).toBe("CRITICAL")
      expect(cold.status).toBe("CRITICAL")
      const advice = cold.recommendations.find((r) => r.includes("shared_buffers"))!
      expect(advice).toContain("shared_buffers = 1MB")
      expect(advice).toContain("public.big")
      // Warm again: the window only sees the new hits.
      yield* run("SELECT * FROM small", 3000)
      const warm = yield* Health.performHealthCheck()
      expect(warm.metrics.cacheHitRatio!).toBeGreaterThan(90)
      // A reset between checks is noticed (the counters restart), not read as a negative window.
      yield* sql`SELECT pg_stat_reset()`
      yield* run("SELECT * FROM small", 600)
      const reset = yield* Health.performHealthCheck()
      expect(reset.details.cacheHitRatioWindow).toBe("since the statistics reset")
      expect(reset.metrics.cacheHitRatio!).toBeGreaterThanOrEqual(0)
      expect(reset.metrics.cacheHitRatio!).toBeLessThanOrEqual(100)
    }).pipe(Effect.scoped))

  it.effect("pg_stat_statements gives server-wide statement times, our probe statements excluded", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`CREATE EXTENSION IF NOT EXISTS pg_stat_statements`
      yield* Health.performHealthCheck()
      yield* Effect.all(Array.from({ length: 3 }, () => sql`SELECT pg_sleep(0.3)`), { concurrency: 3 })
      const check = yield* Health.performHealthCheck()
      expect(check.details.avgQueryTimeSource).toBe("pg_stat_statements")
      expect(check.details.pgStatStatementsSchema).toBe("public")
      // Only the three sleeps ran in the window: the probe's own statements do not dilute them.
      expect(check.metrics.avgQueryTime!).toBeGreaterThanOrEqual(300)
      expect(check.metrics.avgQueryTime!).toBeLessThan(400)
      expect(check.figures.avgQueryTime.status).toBe("UNHEALTHY")
      const advice = check.recommendations.find((r) => r.includes("Statements take"))!
      expect(advice).toMatch(/query id -?\d+ \(mean \d+/)
    }))
})
