/**
 * Structured concurrency: when the caller of `withTransaction` is interrupted (a failing sibling in
 * `Effect.all`, `Effect.timeout`, `Fiber.interrupt`, a closing scope) before COMMIT is sent, the work
 * is rolled back and the interruption completes only after that; a COMMIT already sent is waited for.
 */
import { layer } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Deferred, Effect, Exit, Fiber, Option, Scope } from "effect"
import { expect } from "vitest"
import * as Database from "../src/Database.js"
import * as Transaction from "../src/Transaction.js"
import { TestDatabase } from "./support/TestDatabase.js"

const POOL = 10

const rows = Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ n: number }>`SELECT count(*)::int AS n FROM marks`).pipe(
  Effect.map((r) => r[0]!.n)
)

/** What the interrupted transactions may have left: sessions idle in transaction, locks, leased clients. */
const leftovers = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const db = yield* Database.Database
  const [server] = yield* sql<{ idle_in_tx: number; locks: number }>`
    SELECT
      (SELECT count(*)::int FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid()
          AND state LIKE 'idle in transaction%') AS idle_in_tx,
      (SELECT count(*)::int FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE a.datname = current_database() AND l.pid <> pg_backend_pid()) AS locks`
  const pool = yield* db.poolStats
  return { ...server!, inUse: pool.inUse }
})

const clean = { idle_in_tx: 0, locks: 0, inUse: 0 }

/** A transaction that writes a mark, then spends `millis` in the body (outside the database or in it). */
const marking = (label: string, millis: number, where: "client" | "server") =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Transaction.withTransaction(
      Effect.gen(function*() {
        yield* sql`INSERT INTO marks (label) VALUES (${label})`
        if (where === "client") yield* Effect.sleep(`${millis} millis`)
        else yield* sql`SELECT pg_sleep(${millis / 1000})`
      })
    ))

layer(TestDatabase.layerWith({ maxConnections: POOL }), { timeout: "120 seconds", excludeTestServices: true })(
  "Transaction under interruption",
  (it) => {
    // The table, and a warm pool: every transaction below finds an open connection at once, so that
    // "in use" counts leases, not connections still being opened (those are handed back on arrival).
    const setup = Effect.flatMap(SqlClient.SqlClient, (sql) =>
      Effect.zipRight(
        sql.unsafe(`CREATE TABLE IF NOT EXISTS marks (id serial PRIMARY KEY, label text NOT NULL); TRUNCATE marks`),
        Effect.all(Array.from({ length: POOL }, () => sql.withTransaction(Effect.sleep("20 millis"))), {
          concurrency: "unbounded"
        })
      ))

    for (const where of ["client", "server"] as const) {
      it.effect(`a failing sibling in Effect.all rolls back 8 transactions busy on the ${where} before it returns`, () =>
        Effect.gen(function*() {
          yield* setup
          const exit = yield* Effect.all(
            [
              ...Array.from({ length: 8 }, (_, i) => marking(`all-${i}`, 300, where)),
              Effect.zipRight(Effect.sleep("50 millis"), Effect.fail("sibling failed" as const))
            ],
            { concurrency: "unbounded" }
          ).pipe(Effect.exit)
          expect(Exit.isFailure(exit)).toBe(true)
          // The rollbacks happened before Effect.all returned: nothing is left, and nothing commits later.
          expect(yield* leftovers).toEqual(clean)
          expect(yield* rows).toBe(0)
          yield* Effect.sleep("400 millis")
          expect(yield* rows).toBe(0)
        }))
    }

    it.effect("Effect.timeout around withTransaction rolls back before it returns", () =>
      Effect.gen(function*() {
        yield* setup
        const result = yield* marking("timeout", 300, "server").pipe(Effect.timeout("100 millis"), Effect.option)
        expect(Option.isNone(result)).toBe(true)
        expect(yield* leftovers).toEqual(clean)
        yield* Effect.sleep("400 millis")
        expect(yield* rows).toBe(0)
      }))

    it.effect("Fiber.interrupt completes after the rollback", () =>
      Effect.gen(function*() {
        yield* setup
        const fiber = yield* Effect.fork(marking("interrupt", 300, "client"))
        yield* Effect.sleep("100 millis")
        expect(Exit.isInterrupted(yield* Fiber.interrupt(fiber))).toBe(true)
        expect(yield* leftovers).toEqual(clean)
        yield* Effect.sleep("400 millis")
        expect(yield* rows).toBe(0)
      }))

    it.effect("closing the scope that forked it rolls it back before the close completes", () =>
      Effect.gen(function*() {
        yield* setup
        const scope = yield* Scope.make()
        yield* Effect.forkIn(marking("scope", 300, "server"), scope)
        yield* Effect.sleep("100 millis")
        yield* Scope.close(scope, Exit.void)
        expect(yield* leftovers).toEqual(clean)
        yield* Effect.sleep("400 millis")
        expect(yield* rows).toBe(0)
      }))

    it.effect("interrupted while queued for a connection, it never runs", () =>
      Effect.gen(function*() {
        yield* setup
        const sql = yield* SqlClient.SqlClient
        // Every pool slot but one is held (the last one serves this test's own checks).
        const release = yield* Deferred.make<void>()
        const holding = yield* Deferred.make<void>()
        let held = 0
        const holders = yield* Effect.fork(Effect.all(
          Array.from({ length: POOL }, () =>
            sql.withTransaction(Effect.gen(function*() {
              yield* sql`SELECT 1`
              if (++held === POOL) yield* Deferred.succeed(holding, undefined)
              yield* Deferred.await(release)
            }))),
          { concurrency: "unbounded" }
        ))
        yield* Deferred.await(holding)
        const exit = yield* Effect.all(
          [
            ...Array.from({ length: 4 }, (_, i) => marking(`queued-${i}`, 0, "client")),
            Effect.zipRight(Effect.sleep("50 millis"), Effect.fail("sibling failed" as const))
          ],
          { concurrency: "unbounded" }
        ).pipe(Effect.exit)
        expect(Exit.isFailure(exit)).toBe(true)
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(holders)
        yield* Effect.sleep("300 millis")
        expect(yield* rows).toBe(0)
        expect(yield* leftovers).toEqual(clean)
      }))

    it.effect("interrupted during COMMIT, it waits for COMMIT's answer: the work is saved before the interruption completes", () =>
      Effect.gen(function*() {
        yield* setup
        const sql = yield* SqlClient.SqlClient
        yield* sql.unsafe(`
          CREATE OR REPLACE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN PERFORM pg_sleep(0.4); RETURN NULL; END $$;
          DROP TRIGGER IF EXISTS slow_commit ON marks;
          CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON marks
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit();
        `)
        const fiber = yield* Effect.fork(marking("commit", 0, "client"))
        // Wait until COMMIT is running on the server.
        let inCommit = false
        for (let i = 0; i < 100 && !inCommit; i++) {
          const [r] = yield* sql<{ n: number }>`
            SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND state = 'active' AND query = 'COMMIT'`
          inCommit = r!.n === 1
          if (!inCommit) yield* Effect.sleep("10 millis")
        }
        expect(inCommit).toBe(true)
        const interruptedAt = Date.now()
        yield* Fiber.interrupt(fiber)
        // The interruption waited for COMMIT (the trigger sleeps 400 ms) and the row was saved by then.
        expect(Date.now() - interruptedAt).toBeGreaterThan(100)
        expect(yield* rows).toBe(1)
        expect(yield* leftovers).toEqual(clean)
        yield* sql.unsafe(`DROP TRIGGER slow_commit ON marks`)
      }))
  }
)
