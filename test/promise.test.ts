/**
 * The Promise API (`effect-pg-resilience/promise`) on a real server: commit and rollback, the errors
 * Promise callers catch, options checked before anything is sent, retries on real deadlocks and
 * serialization failures, the AbortSignal both ways, one pool shared with Effect code, health checks
 * and their schedule, and `close()`.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Metric, Option, Runtime, Stream } from "effect"
import { randomBytes } from "node:crypto"
import Pg from "pg"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import * as Database from "../src/Database.js"
import * as HealthMonitor from "../src/HealthMonitor.js"
import * as P from "../src/promise.js"
import * as Transaction from "../src/Transaction.js"
import { type FreshDatabase, freshDatabase } from "./support/TestDatabase.js"

let fresh: FreshDatabase
let url: string
let admin: Pg.Client
const opened: Array<P.PromiseDatabase> = []

beforeAll(async () => {
  fresh = await freshDatabase(`
    CREATE TABLE items (id serial PRIMARY KEY, label text NOT NULL UNIQUE);
    CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL);
    CREATE TABLE counters (id int PRIMARY KEY, value int NOT NULL);
  `)
  url = fresh.url
  admin = fresh.admin
})

afterEach(async () => {
  await Promise.all(opened.splice(0).map((db) => db.close()))
  await admin.query("TRUNCATE items; DELETE FROM accounts; DELETE FROM counters")
})

afterAll(async () => {
  await fresh?.close()
})

/** A database with its own application_name, so that its sessions can be told apart. */
const open = (options: Omit<P.CreateDatabaseOptions, "url" | "applicationName"> = {}) => {
  const applicationName = `promise-${randomBytes(4).toString("hex")}`
  const db = P.createDatabase({ url, applicationName, ...options })
  opened.push(db)
  return { db, applicationName }
}

const count = (table: string) => fresh.count(table)

/** Sessions of one application: all of them, and those idle in a transaction. */
const sessions = async (applicationName: string) => {
  const { rows } = await admin.query(
    `SELECT count(*)::int AS total,
            count(*) FILTER (WHERE state LIKE 'idle in transaction%')::int AS idle_in_tx
       FROM pg_stat_activity WHERE application_name LIKE $1`,
    [`${applicationName}%`]
  )
  return { total: rows[0].total as number, idleInTransaction: rows[0].idle_in_tx as number }
}

const settle = <A>(promise: Promise<A>) => promise.then(() => undefined, (error: unknown) => error)

const waitFor = async (condition: () => Promise<boolean> | boolean, limitMs = 5000) => {
  const until = Date.now() + limitMs
  while (!(await condition())) {
    if (Date.now() > until) throw new Error("condition not reached in time")
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe("the subpath export", () => {
  it("effect-pg-resilience/promise resolves to the built module, whose Promise API runs a transaction", async () => {
    const built = await import("effect-pg-resilience/promise")
    expect(Object.keys(built)).toEqual(expect.arrayContaining(Object.keys(P)))
    const db = built.createDatabase({ url })
    try {
      expect(await db.withTransaction(async (ctx) => (await ctx.sql<{ n: number }>`SELECT 41 + 1 AS n`)[0]!.n)).toBe(42)
    } finally {
      await db.close()
    }
  })
})

describe("commit and rollback", () => {
  it("commits what the function did and resolves with its value; the context describes the transaction", async () => {
    const { db } = open()
    const result = await db.withTransaction(async (ctx) => {
      const [first] = await ctx.sql<{ id: number }>`INSERT INTO items (label) VALUES (${"a"}) RETURNING id`
      await ctx.query("INSERT INTO items (label) VALUES ($1)", ["b"])
      const [session] = await ctx.sql<{ pid: number; level: string }>`
        SELECT pg_backend_pid() AS pid, current_setting('transaction_isolation') AS level`
      return { id: first!.id, ctx: { id: ctx.id, attempt: ctx.attempt, level: ctx.isolationLevel, pid: ctx.backendPid }, session }
    }, { isolationLevel: "REPEATABLE READ" })
    expect(result.id).toBeGreaterThan(0)
    expect(result.ctx.id).toMatch(/^[0-9a-f-]{36}$/)
    expect(result.ctx.attempt).toBe(1)
    expect(result.ctx.level).toBe("REPEATABLE READ")
    expect(result.session!.level).toBe("repeatable read")
    expect(result.ctx.pid).toBe(result.session!.pid)
    expect(await count("items")).toBe(2)
  })

  it("rolls back when the function throws, and rejects with the very error it threw", async () => {
    const { db, applicationName } = open()
    const mine = new Error("business rule broken")
    const error = await settle(db.withTransaction(async (ctx) => {
      await ctx.sql`INSERT INTO items (label) VALUES (${"kept?"})`
      throw mine
    }))
    expect(error).toBe(mine)
    expect(await count("items")).toBe(0)
    expect((await sessions(applicationName)).idleInTransaction).toBe(0)
  })

  it("statements started without awaiting: COMMIT waits for them, and a failing one fails the transaction with its own error, never as an unhandled rejection", async () => {
    const { db, applicationName } = open()
    const unhandled: Array<unknown> = []
    const onUnhandled = (reason: unknown) => void unhandled.push(reason)
    process.on("unhandledRejection", onUnhandled)
    try {
      // Both started, neither awaited: both are part of the transaction.
      await db.withTransaction(async (ctx) => {
        void ctx.sql`INSERT INTO items (label) VALUES (${"one"})`
        void ctx.query("INSERT INTO items (label) VALUES ($1)", ["two"])
      })
      expect(await count("items")).toBe(2)
      // One of them fails (a unique violation decided by the server): the call rejects with it.
      const error = await settle(db.withTransaction(async (ctx) => {
        void ctx.sql`INSERT INTO items (label) VALUES (${"three"})`
        void ctx.sql`INSERT INTO items (label) VALUES (${"one"})`
      }))
      expect(error).toBeInstanceOf(P.ConstraintViolation)
      // The function throws while a statement it did not await still runs: that statement is
      // cancelled, and only the function's error reaches the caller.
      const mine = new Error("gave up")
      const thrownError = await settle(db.withTransaction(async (ctx) => {
        void ctx.sql`SELECT pg_sleep(5)`
        throw mine
      }))
      expect(thrownError).toBe(mine)
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(unhandled).toEqual([])
      expect(await count("items")).toBe(2)
      expect((await sessions(applicationName)).idleInTransaction).toBe(0)
    } finally {
      process.off("unhandledRejection", onUnhandled)
    }
  })

  it("refuses statements through a context whose transaction has ended", async () => {
    const { db } = open()
    let stale: P.TransactionContext | undefined
    await db.withTransaction(async (ctx) => {
      stale = ctx
      await ctx.sql`SELECT 1`
    })
    const error = await settle(stale!.sql`INSERT INTO items (label) VALUES (${"late"})`)
    expect(error).toBeInstanceOf(P.QueryError)
    expect(await count("items")).toBe(0)
  })
})

describe("errors reach Promise callers as the DatabaseError classes", () => {
  it("a unique violation is a ConstraintViolation instance, not a FiberFailure, and the seed's helpers read it", async () => {
    const { db } = open()
    await db.query("INSERT INTO items (label) VALUES ('taken')")
    const error = await settle(db.withTransaction(async (ctx) => {
      await ctx.sql`INSERT INTO items (label) VALUES (${"fresh"})`
      await ctx.sql`INSERT INTO items (label) VALUES (${"taken"})`
    }))
    expect(Runtime.isFiberFailure(error)).toBe(false)
    expect(error).toBeInstanceOf(P.ConstraintViolation)
    expect(error).toBeInstanceOf(Error)
    const violation = error as P.ConstraintViolation
    expect(violation.category).toBe(P.DatabaseErrorCategory.CONSTRAINT_VIOLATION)
    expect(violation.recoveryAction).toBe(P.DatabaseRecoveryAction.FIX_DATA)
    expect(violation.kind).toBe("unique")
    expect(violation.field).toBe("label")
    expect(violation.userMessage).not.toContain("taken")
    expect(P.classifyDatabaseError(error)).toEqual({
      category: "CONSTRAINT_VIOLATION",
      isRetryable: false,
      recoveryAction: "FIX_DATA",
      userMessage: violation.userMessage,
      technicalMessage: violation.technicalMessage,
      constraint: "items_label_key",
      field: "label"
    })
    expect(Object.getPrototypeOf(P.classifyDatabaseError(error))).toBe(Object.prototype)
    expect(P.isDatabaseErrorRetryable(error)).toBe(false)
    expect(P.getDatabaseErrorMessage(error)).toBe(violation.userMessage)
    expect(P.getDatabaseRecoveryAction(error)).toBe("FIX_DATA")
    expect(await count("items")).toBe(1)
  })

  it("db.query rejects with the classified error too", async () => {
    const { db } = open()
    const error = await settle(db.query("SELECT * FROM no_such_table"))
    expect(error).toBeInstanceOf(P.QueryError)
    expect((error as P.QueryError).sqlState).toBe("42P01")
    expect(await db.query<{ n: number }>("SELECT $1::int AS n", [7])).toEqual([{ n: 7 }])
  })
})

describe("options are checked before anything is sent", () => {
  it("createDatabase throws DatabaseConfigError naming the field, for bad values and unknown keys", () => {
    const field = (options: unknown) => {
      try {
        P.createDatabase(options as P.CreateDatabaseOptions)
      } catch (error) {
        expect(error).toBeInstanceOf(P.DatabaseConfigError)
        expect(String(error)).not.toContain("s3cret")
        return (error as P.DatabaseConfigError).field
      }
      return "no error"
    }
    expect(field({ url: "mysql://u:s3cret@h/db" })).toBe("url")
    expect(field({ url, maxConnection: 5 })).toBe("maxConnection")
    expect(field({ url, maxConnections: 0 })).toBe("maxConnections")
    expect(field({ url, connectTimeout: -5 })).toBe("connectTimeout")
    expect(field({ url, probeTimeout: 0 })).toBe("probeTimeout")
    // The health service's own range (1 ms to 10 minutes), checked here, not when the first call builds it.
    expect(field({ url, probeTimeout: 700_000 })).toBe("probeTimeout")
    expect(field({ url, probeTimeout: 0.5 })).toBe("probeTimeout")
    expect(field({ url, healthThresholds: { degraded: { cacheHitRatio: 150 } } })).toBe(
      "healthThresholds.degraded.cacheHitRatio"
    )
    expect(field(null)).toBe("config")
    // Milliseconds, as in the seed; an explicit undefined is the default.
    expect(field({ url, connectTimeout: 1500, idleTimeout: undefined, probeTimeout: 2000 })).toBe("no error")
  })

  it("a transaction's bad option rejects with TransactionConfigError naming it, and the function never runs", async () => {
    const { db, applicationName } = open()
    let ran = 0
    const fn = async () => {
      ran++
    }
    const field = async (options: unknown) => {
      const error = await settle(db.withTransaction(fn, options as P.TransactionOptions))
      expect(error).toBeInstanceOf(P.TransactionConfigError)
      return (error as P.TransactionConfigError).field
    }
    expect(await field({ isolation: "SERIALIZABLE" })).toBe("isolation")
    expect(await field({ isolationLevel: "SERIALISABLE" })).toBe("isolationLevel")
    expect(await field({ timeout: -1 })).toBe("timeout")
    expect(await field({ maxRetries: 1.5 })).toBe("maxRetries")
    expect(await field({ signal: "stop" })).toBe("signal")
    expect(await field({ deferrable: true })).toBe("deferrable")
    expect(ran).toBe(0)
    expect((await sessions(applicationName)).total).toBe(0)
    await db.withTransaction(fn, { timeout: 5000, maxRetries: undefined, signal: undefined })
    expect(ran).toBe(1)
  })
})

describe("retries", () => {
  it("a real deadlock is retried: both transfers commit, one of them on its second attempt", async () => {
    const { db } = open({ maxConnections: 4 })
    await admin.query("INSERT INTO accounts VALUES (1, 100), (2, 100)")
    const attempts: Array<number> = []
    let arrived = 0
    let release: () => void
    const bothLocked = new Promise<void>((resolve) => (release = resolve))
    const transfer = (from: number, to: number) =>
      db.withTransaction(async (ctx) => {
        attempts.push(ctx.attempt)
        await ctx.sql`UPDATE accounts SET balance = balance - 10 WHERE id = ${from}`
        if (ctx.attempt === 1) {
          if (++arrived === 2) release()
          await bothLocked
        }
        await ctx.sql`UPDATE accounts SET balance = balance + 10 WHERE id = ${to}`
      })
    await Promise.all([transfer(1, 2), transfer(2, 1)])
    expect(attempts.sort()).toEqual([1, 1, 2])
    const { rows } = await admin.query("SELECT id, balance FROM accounts ORDER BY id")
    expect(rows).toEqual([{ id: 1, balance: 100 }, { id: 2, balance: 100 }])
  })

  it("a real serialization failure (40001) is retried under SERIALIZABLE; with retries off it reaches the caller", async () => {
    const { db } = open({ maxConnections: 4 })
    await admin.query("INSERT INTO counters VALUES (1, 0)")
    const increment = (options: P.TransactionOptions) => {
      let arrived = 0
      let release: () => void
      const bothRead = new Promise<void>((resolve) => (release = resolve))
      const one = () =>
        db.withTransaction(async (ctx) => {
          const [row] = await ctx.sql<{ value: number }>`SELECT value FROM counters WHERE id = 1`
          if (ctx.attempt === 1) {
            if (++arrived === 2) release()
            await bothRead
          }
          await ctx.sql`UPDATE counters SET value = ${row!.value + 1} WHERE id = 1`
          return ctx.attempt
        }, options)
      return Promise.allSettled([one(), one()])
    }
    const retried = await increment({ isolationLevel: "SERIALIZABLE" })
    expect(retried.map((r) => r.status)).toEqual(["fulfilled", "fulfilled"])
    expect(retried.map((r) => (r as PromiseFulfilledResult<number>).value).sort()).toEqual([1, 2])
    expect((await admin.query("SELECT value FROM counters")).rows[0].value).toBe(2)

    const once = await increment({ isolationLevel: "SERIALIZABLE", retryDeadlocks: false })
    const rejected = once.filter((r): r is PromiseRejectedResult => r.status === "rejected")
    expect(rejected).toHaveLength(1)
    expect(rejected[0]!.reason).toBeInstanceOf(P.SerializationFailure)
    expect(P.classifyDatabaseError(rejected[0]!.reason).recoveryAction).toBe("RETRY")
    expect(P.isDatabaseErrorRetryable(rejected[0]!.reason)).toBe(true)
    expect((await admin.query("SELECT value FROM counters")).rows[0].value).toBe(3)
  })
})

describe("AbortSignal, both ways", () => {
  it("the caller aborting mid-statement rolls back: nothing committed, no session idle in transaction", async () => {
    // A long cancelGrace: only cancelling the running statement (not cutting the connection) ends it early.
    const { db, applicationName } = open({ cancelGrace: 10_000 })
    const controller = new AbortController()
    const reason = new Error("user navigated away")
    let seen: AbortSignal | undefined
    const call = settle(db.withTransaction(async (ctx) => {
      seen = ctx.signal
      await ctx.sql`INSERT INTO items (label) VALUES (${"aborted"})`
      await ctx.sql`SELECT pg_sleep(5)`
    }, { signal: controller.signal }))
    await waitFor(async () => (await admin.query("SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(%' AND application_name = $1", [applicationName])).rowCount === 1)
    const started = Date.now()
    controller.abort(reason)
    expect(await call).toBe(reason)
    // Does not hang: the statement was cancelled rather than waited for.
    expect(Date.now() - started).toBeLessThan(3000)
    expect(seen?.aborted).toBe(true)
    expect(seen?.reason).toBe(reason)
    expect(await count("items")).toBe(0)
    expect((await sessions(applicationName)).idleInTransaction).toBe(0)
    expect((await db.poolStats()).inUse).toBe(0)
  })

  it("the caller aborting while the function waits on something else rolls back too", async () => {
    const { db, applicationName } = open()
    const controller = new AbortController()
    let inserted!: () => void
    const didInsert = new Promise<void>((resolve) => (inserted = resolve))
    const call = settle(db.withTransaction(async (ctx) => {
      await ctx.sql`INSERT INTO items (label) VALUES (${"waiting"})`
      inserted()
      await new Promise((resolve) => setTimeout(resolve, 2000)) // ignores its signal on purpose
      await ctx.sql`INSERT INTO items (label) VALUES (${"after the wait"})`
    }, { signal: controller.signal }))
    await didInsert
    controller.abort()
    const error = await call
    expect((error as DOMException).name).toBe("AbortError")
    expect((await sessions(applicationName)).idleInTransaction).toBe(0)
    expect(await count("items")).toBe(0)
    // The function's later statement is refused, never sent on a pooled connection.
    await new Promise((resolve) => setTimeout(resolve, 2200))
    expect(await count("items")).toBe(0)
  })

  it("an abort that arrives while COMMIT is in flight does not hide the commit: the call resolves", async () => {
    // A deferred constraint trigger makes COMMIT itself take half a second.
    await admin.query(`
      CREATE TABLE IF NOT EXISTS slow_commits (id serial PRIMARY KEY);
      CREATE OR REPLACE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN PERFORM pg_sleep(0.5); RETURN NULL; END $$;
      DROP TRIGGER IF EXISTS slow_commit ON slow_commits;
      CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON slow_commits
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit();
      TRUNCATE slow_commits;
    `)
    const { db, applicationName } = open()
    const controller = new AbortController()
    const call = db.withTransaction(async (ctx) => {
      await ctx.sql`INSERT INTO slow_commits DEFAULT VALUES`
      return "saved"
    }, { signal: controller.signal })
    await waitFor(async () => (await admin.query("SELECT 1 FROM pg_stat_activity WHERE query = 'COMMIT' AND state = 'active' AND application_name = $1", [applicationName])).rowCount === 1)
    controller.abort()
    expect(await call).toBe("saved")
    expect(await count("slow_commits")).toBe(1)
  })

  it("an already aborted signal rejects at once and runs nothing", async () => {
    const { db, applicationName } = open()
    let ran = false
    const error = await settle(db.withTransaction(async () => {
      ran = true
    }, { signal: AbortSignal.abort(new Error("too late")) }))
    expect((error as Error).message).toBe("too late")
    expect(ran).toBe(false)
    expect((await sessions(applicationName)).total).toBe(0)
  })

  it("the deadline aborts ctx.signal (TimeoutError), rolls back, and rejects with TransactionTimeout", async () => {
    const { db, applicationName } = open()
    let reason: unknown
    const error = await settle(db.withTransaction(async (ctx) => {
      await ctx.sql`INSERT INTO items (label) VALUES (${"too slow"})`
      await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve))
      reason = ctx.signal.reason
    }, { timeout: 300 }))
    expect(error).toBeInstanceOf(P.TransactionTimeout)
    expect((error as P.TransactionTimeout).recoveryAction).toBe("RETRY")
    expect((reason as DOMException).name).toBe("TimeoutError")
    expect(await count("items")).toBe(0)
    expect((await sessions(applicationName)).idleInTransaction).toBe(0)
  })

  it("the deadline ends the call even when the function ignores its signal", async () => {
    const { db } = open()
    const started = Date.now()
    const error = await settle(db.withTransaction(async (ctx) => {
      await ctx.sql`INSERT INTO items (label) VALUES (${"ignored"})`
      await new Promise((resolve) => setTimeout(resolve, 3000))
    }, { timeout: 300 }))
    expect(error).toBeInstanceOf(P.TransactionTimeout)
    expect(Date.now() - started).toBeLessThan(2500)
    expect(await count("items")).toBe(0)
  })

  it("db.query's signal cancels the statement on the server", async () => {
    const { db, applicationName } = open()
    const controller = new AbortController()
    const call = settle(db.query("SELECT pg_sleep(5)", [], { signal: controller.signal }))
    await waitFor(async () => (await admin.query("SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(%' AND application_name = $1", [applicationName])).rowCount === 1)
    controller.abort()
    expect((await call as DOMException).name).toBe("AbortError")
    await waitFor(async () => (await admin.query("SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND application_name = $1", [applicationName])).rowCount === 0, 3000)
  })
})

describe("one pool, one engine for Promise and Effect code", () => {
  it("db.layer hands Effect code the same pool: an Effect transaction waits for the Promise one on a pool of 1", async () => {
    const { db } = open({ maxConnections: 1 })
    const order: Array<string> = []
    let proceed!: () => void
    const gate = new Promise<void>((resolve) => (proceed = resolve))
    let holding!: () => void
    const isHolding = new Promise<void>((resolve) => (holding = resolve))
    const promiseSide = db.withTransaction(async (ctx) => {
      await ctx.sql`INSERT INTO items (label) VALUES (${"promise"})`
      holding()
      await gate
      order.push("promise commits")
    })
    await isHolding
    const effectSide = Effect.gen(function*() {
      const database = yield* Database.Database
      const stats = yield* database.poolStats
      yield* Effect.sync(() => proceed())
      yield* Transaction.withTransaction(
        Effect.flatMap(SqlClient.SqlClient, (sql) => sql`INSERT INTO items (label) VALUES (${"effect"})`)
      )
      order.push("effect commits")
      return { stats, pool: database.pool }
    }).pipe(Effect.provide(db.layer))
    const [, effectResult] = await Promise.all([promiseSide, Effect.runPromise(effectSide)])
    // The Effect side saw the Promise side's connection in use: one pool.
    expect(effectResult.stats).toMatchObject({ inUse: 1, max: 1 })
    expect(effectResult.pool).toBe(await db.runtime.runPromise(Effect.map(Database.Database, (d) => d.pool)))
    expect(order).toEqual(["promise commits", "effect commits"])
    expect(await count("items")).toBe(2)
  })

  it("Promise transactions feed the same transaction metrics", async () => {
    const { db } = open()
    const commits = Effect.map(Metric.value(Transaction.metrics.commits), (state) => state.count)
    const before = await Effect.runPromise(commits)
    await db.withTransaction(async (ctx) => ctx.sql`SELECT 1`)
    await db.withTransaction(async (ctx) => ctx.sql`SELECT 1`)
    expect(await Effect.runPromise(commits)).toBe(before + 2)
  })
})

describe("health", () => {
  it("performHealthCheck gives the seed's shape; bad thresholds reject with HealthThresholdsError", async () => {
    const { db } = open()
    const check = await db.performHealthCheck()
    expect(Object.values(P.DatabaseHealthStatus)).toContain(check.status)
    expect(check.metrics).toHaveProperty("connectionPoolUsage")
    expect(Array.isArray(check.recommendations)).toBe(true)
    expect(new Date(check.lastChecked).toISOString()).toBe(check.lastChecked)
    const error = await settle(db.performHealthCheck({ degraded: { avgQueryTime: -1 } }))
    expect(error).toBeInstanceOf(P.HealthThresholdsError)
  })

  it("scheduleHealthChecks calls back with the first result and its stop function stops the checks", async () => {
    const { db, applicationName } = open()
    const seen: Array<string> = []
    const stop = db.scheduleHealthChecks(100, (check) => {
      seen.push(check.status)
    })
    await waitFor(() => seen.length > 0)
    // The checks run on the probe connection: its last query keeps moving while scheduled.
    const probeQueryStart = async () =>
      String((await admin.query(
        "SELECT max(query_start)::text AS at FROM pg_stat_activity WHERE application_name = $1",
        [`${applicationName} probe`]
      )).rows[0].at)
    const first = await probeQueryStart()
    await waitFor(async () => (await probeQueryStart()) !== first)
    await stop()
    // A check cut short by stop() discards its probe connection: read once that has settled.
    await new Promise((resolve) => setTimeout(resolve, 100))
    const stopped = await probeQueryStart()
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(await probeQueryStart()).toBe(stopped)
    expect(() => db.scheduleHealthChecks(0)).toThrow(P.HealthMonitorConfigError)
    expect(() => db.scheduleHealthChecks(100, "callback" as never)).toThrow(P.HealthMonitorConfigError)
  })
})

describe("one health monitor for both styles (createDatabase({ healthMonitor }))", () => {
  it("Effect code gets the shared HealthMonitor from db.layer, and scheduleHealthChecks follows that very monitor", async () => {
    const applicationName = `promise-${randomBytes(4).toString("hex")}`
    const db = P.createDatabase({ url, applicationName, healthMonitor: { interval: 200 } })
    opened.push(db)
    // Effect code subscribes to the monitor before its first result...
    const effectSide = db.runtime.runPromise(
      Effect.flatMap(HealthMonitor.HealthMonitor, (monitor) => Stream.runHead(monitor.results))
    )
    // ...and so does the Promise side, without an interval of its own.
    const promiseSide: Array<P.DatabaseHealthCheck> = []
    const stop = db.scheduleHealthChecks(undefined, (check) => {
      promiseSide.push(check)
    })
    const first = Option.getOrThrow(await effectSide)
    await waitFor(() => promiseSide.length > 0)
    // The same result object: one monitor, not two checking side by side.
    expect(promiseSide[0]).toBe(first)
    const latest = await Effect.runPromise(
      Effect.flatMap(HealthMonitor.HealthMonitor, (monitor) => monitor.latest).pipe(Effect.provide(db.layer))
    )
    expect(Option.isSome(latest)).toBe(true)
    await stop()
    // Only the shared monitor's probe runs: one probe session for this database.
    const { rows } = await admin.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1",
      [`${applicationName} probe`]
    )
    expect(rows[0].n).toBeLessThanOrEqual(1)
  })

  it("rejects bad monitor settings before anything is built, naming the field", () => {
    expect(() => P.createDatabase({ url, healthMonitor: { interval: 0 } })).toThrow(/healthMonitor\.interval/)
    expect(() => P.createDatabase({ url, healthMonitor: { confirmations: 0 } })).toThrow(/healthMonitor\.confirmations/)
    expect(() => P.createDatabase({ url, healthMonitor: { intervall: 100 } as never })).toThrow(/healthMonitor\.intervall/)
  })
})

describe("close()", () => {
  it("waits for the calls in flight, leaves no connection open, and refuses later calls", async () => {
    const { db, applicationName } = open({ maxConnections: 1 })
    await db.query("SELECT pg_sleep(0.05)")
    await db.performHealthCheck()
    db.scheduleHealthChecks(50)
    let finish!: () => void
    const inFlight = db.withTransaction(async (ctx) => {
      await ctx.sql`INSERT INTO items (label) VALUES (${"in flight"})`
      await new Promise<void>((resolve) => (finish = resolve))
      return "committed"
    })
    await waitFor(() => finish !== undefined)
    // Accepted before close(), still waiting for the only connection: it runs too.
    const queued = db.withTransaction(async (ctx) => {
      await ctx.sql`INSERT INTO items (label) VALUES (${"queued"})`
      return "committed too"
    })
    await waitFor(async () => (await db.poolStats()).waiting === 1)
    expect((await sessions(applicationName)).total).toBeGreaterThan(1)
    const closed = db.close()
    expect(await settle(db.query("SELECT 1"))).toBeInstanceOf(P.DatabaseClosedError)
    finish()
    expect(await inFlight).toBe("committed")
    expect(await queued).toBe("committed too")
    await closed
    await db.close()
    expect(await count("items")).toBe(2)
    await waitFor(async () => (await sessions(applicationName)).total === 0, 3000)
    const error = await settle(db.withTransaction(async () => 1))
    expect(error).toBeInstanceOf(P.DatabaseClosedError)
    expect(() => db.scheduleHealthChecks(100)).toThrow(P.DatabaseClosedError)
  })

  it("cancels a query in flight (it has no deadline to wait for): it rejects with DatabaseClosedError, cancelled on the server", async () => {
    const { db, applicationName } = open()
    const sleeping = settle(db.query("SELECT pg_sleep(3600)"))
    await waitFor(async () => {
      const { rows } = await admin.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'SELECT pg_sleep(3600)%' AND state = 'active'",
        [applicationName]
      )
      return rows[0].n === 1
    })
    const started = Date.now()
    await db.close()
    expect(Date.now() - started).toBeLessThan(10_000)
    expect(await sleeping).toBeInstanceOf(P.DatabaseClosedError)
    await waitFor(async () => (await sessions(applicationName)).total === 0, 3000)
  })
})
