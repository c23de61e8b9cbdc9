import { layer } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Cause, Deferred, Effect, Exit, Fiber, HashMap, Logger, LogLevel, Metric, Option, Random, Ref, Schedule, Tracer } from "effect"
import { expect } from "vitest"
import * as Database from "../src/Database.js"
import * as Transaction from "../src/Transaction.js"
import { TestDatabase } from "./support/TestDatabase.js"

const POOL = 10

const setup = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`
    CREATE TABLE IF NOT EXISTS items (id int PRIMARY KEY, label text NOT NULL);
    CREATE TABLE IF NOT EXISTS accounts (id int PRIMARY KEY, balance bigint NOT NULL);
    CREATE TABLE IF NOT EXISTS doctors (name text PRIMARY KEY, on_call boolean NOT NULL);
  `)
})

/** The TransactionConfigError an effect died with (invalid options written in the program are defects). */
const configDefect = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.exit(effect), (exit) => {
    const defect = Exit.isFailure(exit) ? Cause.dieOption(exit.cause) : Option.none()
    if (Option.isSome(defect) && defect.value instanceof Transaction.TransactionConfigError) return Effect.succeed(defect.value)
    return Effect.dieMessage(`expected a TransactionConfigError defect, got ${Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "success"}`)
  })

const count = (table: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql(table)}`).pipe(
    Effect.map((rows) => rows[0]!.n)
  )

/** Sessions of this database other than the caller that are idle in a transaction or hold locks. */
const leftovers = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ idle_in_tx: number; locks: number }>`
    SELECT
      (SELECT count(*)::int FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid()
          AND state LIKE 'idle in transaction%') AS idle_in_tx,
      (SELECT count(*)::int FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE a.datname = current_database() AND l.pid <> pg_backend_pid()) AS locks`
  return rows[0]!
})

layer(TestDatabase.layerWith({ maxConnections: POOL }), { timeout: "120 seconds", excludeTestServices: true })(
  "Transaction",
  (it) => {
    it.effect("runs at the requested isolation level with server-side limits from the deadline", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const db = yield* Database.Database
        const { major } = yield* db.serverVersion
        for (const level of ["READ UNCOMMITTED", "READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"] as const) {
          const [row] = yield* Transaction.withTransaction(
            sql<{ level: string; ro: string; st: string; idle: string; tt: string | null }>`
              SELECT current_setting('transaction_isolation') AS level,
                     current_setting('transaction_read_only') AS ro,
                     current_setting('statement_timeout') AS st,
                     current_setting('idle_in_transaction_session_timeout') AS idle,
                     current_setting('transaction_timeout', true) AS tt`,
            { isolationLevel: level, timeout: "5 seconds" }
          )
          expect(row!.level).toBe(level.toLowerCase())
          expect(row!.ro).toBe("off")
          // The limit is what remained of the 5 s deadline at BEGIN, plus a 10% slack so that our
          // own deadline (graceful cancel and ROLLBACK) fires first.
          const ms = (text: string) => (text.endsWith("ms") ? Number(text.slice(0, -2)) : Number(text.slice(0, -1)) * 1000)
          expect(ms(row!.st)).toBeGreaterThan(5000)
          expect(ms(row!.st)).toBeLessThanOrEqual(5500)
          expect(ms(row!.idle)).toBe(ms(row!.st))
          if (major >= 17) expect(ms(row!.tt!)).toBe(ms(row!.st))
        }
        // Outside the transaction the session settings are back to their defaults.
        const [after] = yield* sql<{ st: string }>`SELECT current_setting('statement_timeout') AS st`
        expect(after!.st).toBe("0")
      }))

    it.effect("commits on success and rolls back every step on failure", () =>
      Effect.gen(function*() {
        yield* setup
        const sql = yield* SqlClient.SqlClient
        yield* sql`TRUNCATE items`
        yield* Transaction.withTransaction(
          Effect.zipRight(sql`INSERT INTO items VALUES (1, 'one')`, sql`INSERT INTO items VALUES (2, 'two')`)
        )
        expect(yield* count("items")).toBe(2)
        const exit = yield* Transaction.withTransaction(
          Effect.gen(function*() {
            yield* sql`INSERT INTO items VALUES (3, 'three')`
            yield* sql`INSERT INTO items VALUES (4, 'four')`
            return yield* Effect.fail("user-error" as const)
          })
        ).pipe(Effect.exit)
        expect(exit).toEqual(Exit.fail("user-error"))
        expect(yield* count("items")).toBe(2)
        // A defect rolls back too.
        const died = yield* Transaction.withTransaction(
          Effect.zipRight(sql`INSERT INTO items VALUES (5, 'five')`, Effect.die("boom"))
        ).pipe(Effect.exit)
        expect(Exit.isFailure(died)).toBe(true)
        expect(yield* count("items")).toBe(2)
        expect(yield* leftovers).toEqual({ idle_in_tx: 0, locks: 0 })
      }))

    it.effect("a real deadlock between two fibers is retried and both commit", () =>
      Effect.gen(function*() {
        yield* setup
        const sql = yield* SqlClient.SqlClient
        yield* sql`TRUNCATE accounts`
        yield* sql`INSERT INTO accounts VALUES (1, 100), (2, 100)`
        const aLocked = yield* Deferred.make<void>()
        const bLocked = yield* Deferred.make<void>()
        const attempts = yield* Ref.make<Array<number>>([])
        const transfer = (first: number, second: number, mine: Deferred.Deferred<void>, theirs: Deferred.Deferred<void>) =>
          Transaction.withTransaction(
            Effect.gen(function*() {
              const tx = yield* Transaction.CurrentTransaction
              yield* Ref.update(attempts, (a) => [...a, tx.attempt])
              yield* sql`UPDATE accounts SET balance = balance - 10 WHERE id = ${first}`
              yield* Deferred.succeed(mine, undefined)
              yield* Deferred.await(theirs)
              yield* sql`UPDATE accounts SET balance = balance + 10 WHERE id = ${second}`
            })
          )
        const [a, b] = yield* Effect.all([transfer(1, 2, aLocked, bLocked), transfer(2, 1, bLocked, aLocked)], {
          concurrency: 2
        })
        expect([a, b]).toEqual([undefined, undefined])
        const seen = yield* Ref.get(attempts)
        expect(seen.filter((n) => n === 1)).toHaveLength(2)
        expect(seen.filter((n) => n === 2)).toHaveLength(1)
        const rows = yield* sql<{ id: number; balance: string }>`SELECT id, balance FROM accounts ORDER BY id`
        expect(rows.map((r) => Number(r.balance))).toEqual([100, 100])
      }))

    it.effect("write skew under SERIALIZABLE fails at COMMIT, is retried, and the invariant holds", () =>
      Effect.gen(function*() {
        yield* setup
        const sql = yield* SqlClient.SqlClient
        yield* sql`TRUNCATE doctors`
        yield* sql`INSERT INTO doctors VALUES ('alice', true), ('bob', true)`
        const bothRead = yield* Deferred.make<void>()
        const aliceRead = yield* Deferred.make<void>()
        const aliceCommitted = yield* Deferred.make<void>()
        const bobUpdated = yield* Deferred.make<void>()
        const bodiesCompleted = yield* Ref.make<Array<string>>([])
        const goOffCall = (name: string) =>
          Transaction.withTransaction(
            Effect.gen(function*() {
              const tx = yield* Transaction.CurrentTransaction
              const [row] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM doctors WHERE on_call`
              if (name === "alice") yield* Deferred.succeed(aliceRead, undefined)
              else yield* Deferred.succeed(bothRead, undefined)
              if (tx.attempt === 1) yield* Deferred.await(name === "alice" ? bothRead : aliceRead)
              if (row!.n >= 2) yield* sql`UPDATE doctors SET on_call = false WHERE name = ${name}`
              // alice commits only after bob's update went through, and bob's first body ends only after
              // alice committed: bob's conflict can surface only at COMMIT.
              if (name === "bob" && tx.attempt === 1) yield* Deferred.succeed(bobUpdated, undefined)
              if (name === "alice" && tx.attempt === 1) yield* Deferred.await(bobUpdated)
              if (name === "bob" && tx.attempt === 1) yield* Deferred.await(aliceCommitted)
              yield* Ref.update(bodiesCompleted, (b) => [...b, `${name}#${tx.attempt}`])
            }),
            { isolationLevel: "SERIALIZABLE" }
          )
        const alice = goOffCall("alice").pipe(Effect.zipLeft(Deferred.succeed(aliceCommitted, undefined)))
        yield* Effect.all([alice, goOffCall("bob")], { concurrency: 2 })
        const completed = yield* Ref.get(bodiesCompleted)
        // bob's first body ran to its end: the serialization failure came from COMMIT.
        expect(completed).toContain("bob#1")
        expect(completed).toContain("bob#2")
        const [onCall] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM doctors WHERE on_call`
        expect(onCall!.n).toBe(1)
      }))

    it.effect("16 fibers moving money between 10 hot accounts keep the total and see no deadlock", () =>
      Effect.gen(function*() {
        yield* setup
        const sql = yield* SqlClient.SqlClient
        yield* sql`TRUNCATE accounts`
        yield* sql`INSERT INTO accounts SELECT g, 1000 FROM generate_series(1, 10) g`
        const until = Date.now() + 3000
        const committed = yield* Ref.make(0)
        const worker = Effect.gen(function*() {
          while (Date.now() < until) {
            const from = yield* Random.nextIntBetween(1, 11)
            let to = yield* Random.nextIntBetween(1, 11)
            if (to === from) to = (to % 10) + 1
            const amount = yield* Random.nextIntBetween(1, 50)
            yield* Transaction.withTransaction(
              Effect.zipRight(
                sql`UPDATE accounts SET balance = balance - ${amount} WHERE id = ${from}`,
                sql`UPDATE accounts SET balance = balance + ${amount} WHERE id = ${to}`
              )
            )
            yield* Ref.update(committed, (n) => n + 1)
          }
        })
        // Any failure (a deadlock reaching the caller included) fails this test.
        yield* Effect.all(Array.from({ length: 16 }, () => worker), { concurrency: "unbounded" })
        const [total] = yield* sql<{ sum: string }>`SELECT sum(balance)::text AS sum FROM accounts`
        expect(total!.sum).toBe("10000")
        expect(yield* Ref.get(committed)).toBeGreaterThan(16)
        expect(yield* leftovers).toEqual({ idle_in_tx: 0, locks: 0 })
      }))

    it.effect("pg_sleep past the timeout fails with TransactionTimeout before the statement ends, 200 times, leaving nothing behind", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const db = yield* Database.Database
        const durations = yield* Effect.forEach(
          Array.from({ length: 200 }),
          () =>
            Effect.gen(function*() {
              const started = Date.now()
              const error = yield* Effect.flip(
                Transaction.withTransaction(sql`SELECT pg_sleep(10)`, { timeout: "100 millis" })
              )
              expect(error._tag).toBe("TransactionTimeout")
              return Date.now() - started
            }),
          { concurrency: POOL }
        )
        // Order, not speed (timing belongs to the benchmark): each ended before its pg_sleep(10) could.
        expect(Math.max(...durations)).toBeLessThan(10_000)
        expect(yield* leftovers).toEqual({ idle_in_tx: 0, locks: 0 })
        // A connection still being opened for a waiter whose deadline passed is handed back on arrival.
        let stats = yield* db.poolStats
        for (let i = 0; i < 40 && (stats.inUse > 0 || stats.waiting > 0); i++) {
          yield* Effect.sleep("25 millis")
          stats = yield* db.poolStats
        }
        expect(stats.inUse).toBe(0)
        expect(stats.waiting).toBe(0)
        const [sleeping] = yield* sql<{ n: number }>`
          SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(10)%' AND state = 'active'`
        expect(sleeping!.n).toBe(0)
        // The pool is usable at once afterwards.
        expect(yield* Transaction.withTransaction(sql<{ one: number }>`SELECT 1 AS one`)).toEqual([{ one: 1 }])
      }))

    it.effect("statements run concurrently in one transaction: the deadline cancels the one still running after another ended", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const started = Date.now()
        const error = yield* Effect.flip(Transaction.withTransaction(
          // node-postgres queues the second behind the first on the transaction's connection.
          Effect.all([sql`SELECT pg_sleep(0.05)`, sql`SELECT pg_sleep(10)`], { concurrency: "unbounded" }),
          { timeout: "4 seconds" }
        ))
        const elapsed = Date.now() - started
        expect(error._tag).toBe("TransactionTimeout")
        // Our own cancel stopped it at the deadline. Without it, only the server's statement_timeout
        // backstop would, 400 ms past the deadline (10 % of 4 s).
        expect(elapsed).toBeGreaterThanOrEqual(4000)
        expect(elapsed).toBeLessThan(4300)
        expect(yield* leftovers).toEqual({ idle_in_tx: 0, locks: 0 })
      }))

    it.effect("times out, not before its deadline, while every pool client is held", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const release = yield* Deferred.make<void>()
        const held = yield* Ref.make(0)
        const holders = yield* Effect.forEach(
          Array.from({ length: POOL }),
          () =>
            Transaction.withTransaction(
              Effect.zipRight(Ref.update(held, (n) => n + 1), Deferred.await(release))
            ).pipe(Effect.fork)
        )
        while ((yield* Ref.get(held)) < POOL) yield* Effect.sleep("10 millis")
        const started = Date.now()
        const error = yield* Effect.flip(Transaction.withTransaction(sql`SELECT 1`, { timeout: "300 millis" }))
        const took = Date.now() - started
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.joinAll(holders)
        expect(error._tag).toBe("TransactionTimeout")
        // Not early (a lower bound cannot flake on a slow machine); how late is the benchmark's question.
        expect(took).toBeGreaterThanOrEqual(290)
        expect(yield* Ref.get(held)).toBe(POOL)
      }))

    it.effect("a write in a readOnly transaction fails with 25006", () =>
      Effect.gen(function*() {
        yield* setup
        const sql = yield* SqlClient.SqlClient
        const error = yield* Effect.flip(
          Transaction.withTransaction(sql`INSERT INTO items VALUES (99, 'x')`, { readOnly: true })
        )
        expect(error.sqlState).toBe("25006")
      }))

    it.effect("deferrable is only accepted with SERIALIZABLE and readOnly, and then really is deferrable", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const sent = (yield* Database.Database).statementStats
        const before = (yield* sent).count
        for (const config of [
          { deferrable: true },
          { deferrable: true, readOnly: true },
          { deferrable: true, isolationLevel: "SERIALIZABLE" as const }
        ]) {
          const error = yield* configDefect(Transaction.withTransaction(sql`SELECT 1`, config))
          expect(error.field).toBe("deferrable")
        }
        // Nothing reached the server.
        expect((yield* sent).count).toBe(before)
        const [row] = yield* Transaction.withTransaction(
          sql<{ d: string; ro: string }>`SELECT current_setting('transaction_deferrable') AS d,
            current_setting('transaction_read_only') AS ro`,
          { deferrable: true, readOnly: true, isolationLevel: "SERIALIZABLE" }
        )
        expect(row).toEqual({ d: "on", ro: "on" })
      }))

    it.effect("a deadline further away than a Node timer can wait (30 days) does not fire at once", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const [row] = yield* Transaction.withTransaction(sql<{ one: number }>`SELECT pg_sleep(0.05), 1 AS one`, {
          timeout: "30 days"
        })
        expect(row!.one).toBe(1)
      }))

    it.effect("invalid options are rejected before anything is sent, naming the field", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const sent = (yield* Database.Database).statementStats
        const before = (yield* sent).count
        const cases: Array<[Transaction.TransactionConfigInput, string]> = [
          [{ isolationLevel: "SNAPSHOT" as never }, "isolationLevel"],
          [{ timeout: -5 }, "timeout"],
          [{ timeout: "whenever" as never }, "timeout"],
          [{ maxRetries: 1.5 }, "maxRetries"],
          [{ maxRetries: -1 }, "maxRetries"],
          [{ schedule: "fast" as never }, "schedule"]
        ]
        for (const [config, field] of cases) {
          const error = yield* configDefect(Transaction.withTransaction(sql`SELECT 1`, config))
          expect(error.field).toBe(field)
          // The same options read at runtime are a typed failure.
          const typed = yield* Effect.flip(Transaction.makeConfig(config))
          expect(typed._tag).toBe("TransactionConfigError")
          expect(typed.field).toBe(field)
        }
        // An unknown key (a typo) is never ignored.
        const typo = yield* configDefect(Transaction.withTransaction(sql`SELECT 1`, { isolationlevel: "SERIALIZABLE" } as never))
        expect(typo.field).toBe("isolationlevel")
        expect(typo.reason).toContain("not an option")
        // Nothing of the invalid calls reached the server.
        expect((yield* sent).count).toBe(before)
        // An explicit undefined means the default.
        const maybe: number | undefined = undefined
        yield* Transaction.withTransaction(sql`SELECT 1`, { maxRetries: maybe, timeout: undefined })
        expect((yield* sent).count).toBeGreaterThan(before)
        // A validated configuration is accepted as it is.
        const made = yield* Transaction.makeConfig({ isolationLevel: "REPEATABLE READ" })
        const [level] = yield* Transaction.withTransaction(sql<{ l: string }>`SELECT current_setting('transaction_isolation') AS l`, made)
        expect(level!.l).toBe("repeatable read")
      }))

    it.effect("a failed nested call rolls back to its savepoint and the outer transaction continues", () =>
      Effect.gen(function*() {
        yield* setup
        const sql = yield* SqlClient.SqlClient
        yield* sql`TRUNCATE items`
        const depths = yield* Ref.make<Array<number>>([])
        yield* Transaction.withTransaction(
          Effect.gen(function*() {
            yield* sql`INSERT INTO items VALUES (1, 'outer before')`
            const nested = yield* Transaction.withTransaction(
              Effect.gen(function*() {
                const tx = yield* Transaction.CurrentTransaction
                yield* Ref.update(depths, (d) => [...d, tx.depth])
                yield* sql`INSERT INTO items VALUES (2, 'nested')`
                yield* sql`INSERT INTO items VALUES (1, 'duplicate')`
              })
            ).pipe(Effect.either)
            expect(nested._tag).toBe("Left")
            if (nested._tag === "Left") expect(nested.left._tag).toBe("ConstraintViolation")
            // A stock sql.withTransaction inside joins as a savepoint too.
            const stock = yield* sql.withTransaction(
              Effect.zipRight(sql`INSERT INTO items VALUES (3, 'stock nested')`, Effect.fail("nope" as const))
            ).pipe(Effect.either)
            expect(stock._tag).toBe("Left")
            yield* sql`INSERT INTO items VALUES (4, 'outer after')`
          })
        )
        const rows = yield* sql<{ id: number }>`SELECT id FROM items ORDER BY id`
        expect(rows.map((r) => r.id)).toEqual([1, 4])
        expect(yield* Ref.get(depths)).toEqual([1])
      }))

    it.effect("a nested call asking for another isolation level fails clearly", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const error = yield* configDefect(
          Transaction.withTransaction(
            Transaction.withTransaction(sql`SELECT 1`, { isolationLevel: "SERIALIZABLE" }),
            { isolationLevel: "READ COMMITTED" }
          )
        )
        expect(error.field).toBe("isolationLevel")
        expect(error.message).toContain("SERIALIZABLE")
      }))

    it.effect("an error swallowed in the body makes the call fail and saves nothing", () =>
      Effect.gen(function*() {
        yield* setup
        const sql = yield* SqlClient.SqlClient
        yield* sql`TRUNCATE items`
        yield* sql`INSERT INTO items VALUES (1, 'existing')`
        const error = yield* Effect.flip(
          Transaction.withTransaction(
            Effect.gen(function*() {
              yield* sql`INSERT INTO items VALUES (2, 'would be lost')`
              yield* Effect.ignore(sql`INSERT INTO items VALUES (1, 'duplicate')`)
            })
          )
        )
        expect(error._tag).toBe("QueryError")
        expect(error.message).toContain("nothing was saved")
        expect(yield* count("items")).toBe(1)
        expect(yield* leftovers).toEqual({ idle_in_tx: 0, locks: 0 })
      }))

    it.effect("a ConstraintViolation is not retried, even by withTransactionRetry", () =>
      Effect.gen(function*() {
        yield* setup
        const sql = yield* SqlClient.SqlClient
        yield* sql`TRUNCATE items`
        yield* sql`INSERT INTO items VALUES (1, 'existing')`
        const attempts = yield* Ref.make(0)
        const error = yield* Effect.flip(
          Transaction.withTransactionRetry(
            Effect.zipRight(Ref.update(attempts, (n) => n + 1), sql`INSERT INTO items VALUES (1, 'again')`)
          )
        )
        expect(error._tag).toBe("ConstraintViolation")
        expect(yield* Ref.get(attempts)).toBe(1)
      }))

    it.effect("a connection lost while COMMIT is in flight is CommitOutcomeUnknown and is not retried", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const test = yield* TestDatabase
        yield* sql.unsafe(`
          CREATE TABLE IF NOT EXISTS slow_commits (id int PRIMARY KEY);
          CREATE OR REPLACE FUNCTION sleep_at_commit() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN PERFORM pg_sleep(5); RETURN NULL; END $$;
          DROP TRIGGER IF EXISTS slow_commit ON slow_commits;
          CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON slow_commits
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION sleep_at_commit();
        `)
        const admin = yield* test.connect()
        const attempts = yield* Ref.make(0)
        const pid = yield* Deferred.make<number>()
        const fiber = yield* Transaction.withTransactionRetry(
          Effect.gen(function*() {
            const tx = yield* Transaction.CurrentTransaction
            yield* Ref.update(attempts, (n) => n + 1)
            yield* Deferred.succeed(pid, tx.backendPid)
            yield* sql`INSERT INTO slow_commits VALUES (1)`
          })
        ).pipe(Effect.fork)
        const backend = yield* Deferred.await(pid)
        // Wait until the backend is inside COMMIT (running the deferred trigger), then kill it.
        let inCommit = false
        for (let i = 0; i < 100 && !inCommit; i++) {
          const r = yield* Effect.promise(() =>
            admin.query(
              "SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1 AND state = 'active' AND query LIKE '%COMMIT%'",
              [backend]
            )
          )
          inCommit = r.rows[0].n === 1
          if (!inCommit) yield* Effect.sleep("20 millis")
        }
        expect(inCommit).toBe(true)
        yield* Effect.promise(() => admin.query("SELECT pg_terminate_backend($1)", [backend]))
        const failure = yield* Effect.flip(Fiber.join(fiber))
        expect(failure._tag).toBe("CommitOutcomeUnknown")
        if (failure._tag === "CommitOutcomeUnknown") {
          expect(failure.recoveryAction).toBe("VERIFY_COMMIT")
          expect(failure.isRetryable).toBe(false)
        }
        expect(yield* Ref.get(attempts)).toBe(1)
        // The broken connection did not go back to the pool.
        const [alive] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ${backend}`
        expect(alive!.n).toBe(0)
        yield* sql`SELECT 1`
      }).pipe(Effect.scoped))

    it.effect("interruption from outside rolls back like a timeout, without an error", () =>
      Effect.gen(function*() {
        yield* setup
        const sql = yield* SqlClient.SqlClient
        yield* sql`TRUNCATE items`
        const inserted = yield* Deferred.make<void>()
        const fiber = yield* Transaction.withTransaction(
          Effect.gen(function*() {
            yield* sql`INSERT INTO items VALUES (7, 'interrupted')`
            yield* Deferred.succeed(inserted, undefined)
            yield* sql`SELECT pg_sleep(10)`
          })
        ).pipe(Effect.fork)
        yield* Deferred.await(inserted)
        yield* Effect.sleep("50 millis")
        const started = Date.now()
        const exit = yield* Fiber.interrupt(fiber)
        expect(Exit.isInterrupted(exit)).toBe(true)
        // The interruption cancelled the statement: it returned before pg_sleep(10) could end.
        expect(Date.now() - started).toBeLessThan(10_000)
        expect(yield* count("items")).toBe(0)
        expect(yield* leftovers).toEqual({ idle_in_tx: 0, locks: 0 })
      }))
  }
)

layer(TestDatabase.layer, { timeout: "60 seconds", excludeTestServices: true })("Transaction observability", (it) => {
  const metricCount = (metric: Metric.Metric.Counter<number>) => Effect.map(Metric.value(metric), (state) => state.count)

  it.effect("counts commits, rollbacks, retries by reason and timeouts", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const m = Transaction.metrics
      const deadlockRetries = Metric.tagged(m.retries, "reason", "Deadlock")
      const before = {
        commits: yield* metricCount(m.commits),
        rollbacks: yield* metricCount(m.rollbacks),
        retries: yield* metricCount(deadlockRetries),
        timeouts: yield* metricCount(m.timeouts),
        durations: (yield* Metric.value(m.duration)).count
      }
      yield* Transaction.withTransaction(sql`SELECT 1`)
      let first = true
      yield* Transaction.withTransaction(
        Effect.suspend(() => {
          if (!first) return sql`SELECT 1`
          first = false
          return sql.unsafe(`DO $$ BEGIN RAISE EXCEPTION 'scripted' USING ERRCODE = '40P01'; END $$`)
        }),
        { schedule: Schedule.spaced("1 millis") }
      )
      yield* Effect.flip(Transaction.withTransaction(sql`SELECT pg_sleep(5)`, { timeout: "50 millis" }))
      expect(yield* metricCount(m.commits)).toBe(before.commits + 2)
      expect(yield* metricCount(m.rollbacks)).toBe(before.rollbacks + 2)
      expect(yield* metricCount(deadlockRetries)).toBe(before.retries + 1)
      expect(yield* metricCount(m.timeouts)).toBe(before.timeouts + 1)
      expect((yield* Metric.value(m.duration)).count).toBe(before.durations + 3)
    }))

  it.effect("logs each retry and the final failure with the transaction id; the log level changes nothing sent", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const db = yield* Database.Database
      yield* sql`CREATE TABLE IF NOT EXISTS notes (id serial PRIMARY KEY, body text)`
      const lines: Array<{ message: string; annotations: Record<string, unknown> }> = []
      const recorder = Logger.make(({ annotations, message }) => {
        lines.push({
          message: String(Array.isArray(message) ? message[0] : message),
          annotations: Object.fromEntries(HashMap.toEntries(annotations))
        })
      })
      const logged = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        effect.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, recorder)), Logger.withMinimumLogLevel(LogLevel.Debug))

      // The same statements reach the server whatever the log level.
      const statements = Effect.map(db.statementStats, (s) => s.count)
      const insert = Transaction.withTransaction(sql`INSERT INTO notes (body) VALUES ('x')`)
      const atInfo = yield* statements
      yield* insert
      const atDebug = yield* statements
      yield* logged(insert)
      const after = yield* statements
      expect(after - atDebug).toBe(atDebug - atInfo)

      lines.length = 0
      const error = yield* logged(
        Effect.flip(
          Transaction.withTransaction(
            sql.unsafe(`DO $$ BEGIN RAISE EXCEPTION 'scripted' USING ERRCODE = '40001'; END $$`),
            { schedule: Schedule.spaced("1 millis"), maxRetries: 2 }
          )
        )
      )
      expect(error._tag).toBe("SerializationFailure")
      const retries = lines.filter((l) => l.message.includes("retrying"))
      const failures = lines.filter((l) => l.message === "transaction failed")
      expect(retries).toHaveLength(2)
      expect(failures).toHaveLength(1)
      const id = failures[0]!.annotations.transactionId
      expect(String(id)).toMatch(/^[0-9a-f-]{36}$/)
      for (const line of retries) {
        expect(line.annotations.transactionId).toBe(id)
        expect(line.annotations.sqlState).toBe("40001")
        expect(line.annotations.reason).toBe("SerializationFailure")
      }
      expect(failures[0]!.annotations).toMatchObject({ tag: "SerializationFailure", attempts: 3, category: "TRANSACTION_ERROR" })
    }))
})

interface RecordedSpan {
  readonly name: string
  readonly parent: string | undefined
  readonly kind: Tracer.SpanKind
  readonly attributes: Map<string, unknown>
  readonly events: Array<{ readonly name: string; readonly attributes: Record<string, unknown> }>
}

/** A tracer that keeps every span it is asked for, so a test can read names, parents and attributes. */
const recordingTracer = (spans: Array<RecordedSpan>) => {
  let next = 0
  return Tracer.make({
    context: (f) => f(),
    span: (name, parent, context, links, startTime, kind) => {
      const attributes = new Map<string, unknown>()
      const spanId = `span-${++next}`
      const parentName = Option.getOrUndefined(Option.map(parent, (p) => (p._tag === "Span" ? p.name : "external")))
      const events: RecordedSpan["events"] = []
      spans.push({ name, parent: parentName, kind, attributes, events })
      let status: Tracer.SpanStatus = { _tag: "Started", startTime }
      return {
        _tag: "Span",
        name,
        spanId,
        traceId: "trace",
        parent,
        context,
        get status() {
          return status
        },
        attributes,
        links,
        sampled: true,
        kind,
        end: (endTime, exit) => {
          status = { _tag: "Ended", startTime, endTime, exit }
        },
        attribute: (key, value) => {
          attributes.set(key, value)
        },
        event: (name, _time, attributes) => {
          events.push({ name, attributes: attributes ?? {} })
        },
        addLinks: () => {}
      }
    }
  })
}

layer(TestDatabase.layer, { timeout: "60 seconds", excludeTestServices: true })("Transaction tracing", (it) => {
  it.effect("one client span per transaction, its statements inside it, attempts and retries as its events", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const spans: Array<RecordedSpan> = []
      let first = true
      yield* Transaction.withTransaction(
        Effect.suspend(() => {
          if (!first) return sql`SELECT 1`
          first = false
          return sql.unsafe(`DO $$ BEGIN RAISE EXCEPTION 'scripted' USING ERRCODE = '40001'; END $$`)
        }),
        { isolationLevel: "SERIALIZABLE", schedule: Schedule.spaced("5 millis") }
      ).pipe(Effect.withTracer(recordingTracer(spans)))
      const transaction = spans.filter((s) => s.name === "pg.transaction")
      expect(transaction).toHaveLength(1)
      const span = transaction[0]!
      expect(span.kind).toBe("client")
      expect(span.attributes.get("db.system.name")).toBe("postgresql")
      expect(span.attributes.get("db.transaction.isolation_level")).toBe("SERIALIZABLE")
      expect(span.attributes.get("db.transaction.attempts")).toBe(2)
      expect(String(span.attributes.get("db.transaction.id"))).toMatch(/^[0-9a-f-]{36}$/)
      const failed = span.events.filter((e) => e.name === "db.transaction.attempt.failed")
      expect(failed).toHaveLength(1)
      expect(failed[0]!.attributes).toMatchObject({ "db.transaction.attempt": 1, "db.transaction.phase": "body", "db.response.status_code": "40001" })
      const retries = span.events.filter((e) => e.name === "db.transaction.retry")
      expect(retries).toHaveLength(1)
      expect(retries[0]!.attributes).toMatchObject({ "db.transaction.retry.reason": "SerializationFailure", "db.transaction.retry.delay_ms": 5 })
      // The statements of both attempts are children of the transaction's span.
      const statements = spans.filter((s) => s.name !== "pg.transaction")
      expect(statements.length).toBeGreaterThanOrEqual(2)
      expect(statements.every((s) => s.parent === "pg.transaction")).toBe(true)
    }))
})

layer(TestDatabase.layerWith({ maxConnections: 3, cancelGrace: "300 millis" }), {
  timeout: "60 seconds",
  excludeTestServices: true
})("Transaction on a backend that stops answering", (it) => {
  it.effect("when neither the cancel nor the ROLLBACK is confirmed, the connection is destroyed, not reused", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const db = yield* Database.Database
      const pid = yield* Deferred.make<number>()
      const fiber = yield* Transaction.withTransaction(
        Effect.gen(function*() {
          const tx = yield* Transaction.CurrentTransaction
          yield* Deferred.succeed(pid, tx.backendPid)
          yield* sql`SELECT pg_sleep(5)`
        }),
        { timeout: "500 millis", retryDeadlocks: false }
      ).pipe(Effect.flip, Effect.fork)
      const backend = yield* Deferred.await(pid)
      yield* Effect.sleep("100 millis")
      // The backend freezes: it can answer neither the cancel request nor the ROLLBACK.
      process.kill(backend, "SIGSTOP")
      const started = Date.now()
      const error = yield* Fiber.join(fiber).pipe(Effect.ensuring(Effect.sync(() => process.kill(backend, "SIGCONT"))))
      expect(error._tag).toBe("TransactionTimeout")
      // Deadline, cancel grace and ROLLBACK grace ended it, not the 5 s sleep (order, not speed).
      expect(Date.now() - started).toBeLessThan(5000)
      // The pool never got that client back: every connection it hands out now is another backend.
      const stats = yield* db.poolStats
      expect(stats.inUse).toBe(0)
      const pids = yield* Effect.forEach(
        Array.from({ length: 3 }),
        () =>
          sql.withTransaction(
            Effect.zipLeft(sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`, Effect.sleep("30 millis"))
          ),
        { concurrency: "unbounded" }
      )
      expect(pids.map((rows) => rows[0]!.pid)).not.toContain(backend)
      // Once resumed, the frozen backend finds its socket closed and ends: it holds nothing.
      let alive = 1
      for (let i = 0; i < 100 && alive > 0; i++) {
        yield* Effect.sleep("50 millis")
        alive = (yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ${backend}`)[0]!.n
      }
      expect(alive).toBe(0)
    }))
})
