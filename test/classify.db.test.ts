/**
 * Classification of real PostgreSQL failures: each condition of issue 3 is produced on a real server
 * and the resulting error is checked for tag, category, retryability, recovery action, SQLSTATE,
 * constraint and field, and for a userMessage free of the row's (distinctive) values.
 *
 * `excludeTestServices`: deadlocks and timeouts need the real clock (`it.live` would not get the
 * layer's services inside a layer suite).
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { layer } from "@effect/vitest"
import { Deferred, Effect, Either, Exit, Fiber, Layer, Redacted, Schedule } from "effect"
import { randomBytes } from "node:crypto"
import Pg from "pg"
import { expect } from "vitest"
import * as Classify from "../src/Classify.js"
import * as Database from "../src/Database.js"
import * as EmbeddedPostgres from "../src/EmbeddedPostgres.js"
import type * as Errors from "../src/Errors.js"
import { TestDatabase } from "./support/TestDatabase.js"

const Setup = Layer.effectDiscard(
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const statements = [
      `CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL UNIQUE, name varchar(10), nickname text)`,
      `CREATE TABLE memberships (org_id int NOT NULL, email text NOT NULL, UNIQUE (org_id, email))`,
      `CREATE TABLE posts (id serial PRIMARY KEY, author_id int REFERENCES users (id), title text)`,
      `CREATE TABLE products (id serial PRIMARY KEY, price numeric CHECK (price > 0))`,
      `CREATE TABLE bookings (id serial PRIMARY KEY, during int4range, EXCLUDE USING gist (during WITH &&))`,
      `CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL)`,
      `INSERT INTO accounts VALUES (1, 100), (2, 100), (3, 100)`,
      `CREATE TABLE doctors (id int PRIMARY KEY, on_call boolean NOT NULL)`,
      `INSERT INTO doctors VALUES (1, true), (2, true)`,
      `CREATE TABLE secrets (id int, payload text)`,
      `CREATE TABLE slow_commits (id serial PRIMARY KEY, payload text)`,
      `CREATE FUNCTION sleep_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(30); RETURN NULL; END $$`,
      `CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON slow_commits
         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION sleep_at_commit()`
    ]
    for (const statement of statements) yield* sql.unsafe(statement)
  }).pipe(Effect.orDie)
)

/** The failure of a statement, classified. */
const failureOf = <A>(self: Effect.Effect<A, SqlError, any>) => Effect.flip(Classify.refineErrors(self))

/** Asserts the classification and that the userMessage leaks no value, SQL, constraint or table name. */
const expectClassified = (
  error: Errors.DatabaseError,
  expected: Partial<Record<keyof Errors.DatabaseError | "kind" | "foreignKey" | "referencedTable", unknown>>,
  values: ReadonlyArray<string> = []
) => {
  expect(error).toMatchObject(expected)
  for (const value of values) {
    expect(error.userMessage).not.toContain(value)
    expect(error.technicalMessage.length).toBeGreaterThan(0)
  }
  expect(error.userMessage).not.toMatch(/\b(SELECT|INSERT|UPDATE|DELETE|relation|constraint)\b/i)
  if (error.constraint !== undefined) expect(error.userMessage).not.toContain(error.constraint)
  if (error.table !== undefined) expect(error.userMessage).not.toMatch(new RegExp(`\\b${error.table}\\b`))
}

const rawQuery = (client: Pg.Client, text: string, values: ReadonlyArray<unknown> = []) =>
  Effect.tryPromise({ try: () => client.query(text, [...values]), catch: (error) => error })

const backendPid = (client: Pg.Client) =>
  Effect.map(rawQuery(client, "SELECT pg_backend_pid() AS pid"), (r) => r.rows[0].pid as number).pipe(Effect.orDie)

/** Waits until the backend `pid` waits on a lock (`Lock`), runs a statement (`active`) or runs COMMIT. */
const waitFor = (pid: number, what: "lock" | "active" | "commit") =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ ok: boolean }>`
      SELECT (CASE ${what}
        WHEN 'lock' THEN wait_event_type = 'Lock'
        WHEN 'commit' THEN state = 'active' AND query = 'COMMIT'
        ELSE state = 'active' END) AS ok
      FROM pg_stat_activity WHERE pid = ${pid}`
    if (rows[0]?.ok !== true) return yield* Effect.fail("not yet" as const)
  }).pipe(Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo("10 seconds"))), Effect.orDie)

layer(Layer.provideMerge(Setup, TestDatabase.layer), { timeout: "60 seconds", excludeTestServices: true })("classification of real errors", (it) => {
  it.effect("unique violation on one column", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const email = "zebra-unique-7731@example.com"
      yield* sql`INSERT INTO users (email) VALUES (${email})`
      const error = yield* failureOf(sql`INSERT INTO users (email) VALUES (${email})`)
      expectClassified(error, {
        _tag: "ConstraintViolation",
        kind: "unique",
        category: "CONSTRAINT_VIOLATION",
        isRetryable: false,
        recoveryAction: "FIX_DATA",
        sqlState: "23505",
        constraint: "users_email_key",
        table: "users",
        field: "email"
      }, [email])
      expect(error.userMessage).toBe("A record with this email already exists.")
      expect(error.technicalMessage).toContain(email)
    }))

  it.effect("unique violation on a composite key", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const email = "zebra-member-9155@example.com"
      yield* sql`INSERT INTO memberships (org_id, email) VALUES (424242, ${email})`
      const error = yield* failureOf(sql`INSERT INTO memberships (org_id, email) VALUES (424242, ${email})`)
      expectClassified(error, {
        _tag: "ConstraintViolation",
        kind: "unique",
        sqlState: "23505",
        constraint: "memberships_org_id_email_key",
        table: "memberships",
        fields: ["org_id", "email"]
      }, [email, "424242"])
      expect(error.field).toBeUndefined()
      expect(error.userMessage).toBe("A record with this combination of org id and email already exists.")
    }))

  it.effect("foreign key violation on insert", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const error = yield* failureOf(sql`INSERT INTO posts (author_id, title) VALUES (987654, 'zebra-post-1')`)
      expectClassified(error, {
        _tag: "ConstraintViolation",
        kind: "foreign_key",
        foreignKey: "missing_reference",
        referencedTable: "users",
        recoveryAction: "FIX_DATA",
        sqlState: "23503",
        constraint: "posts_author_id_fkey",
        table: "posts",
        field: "author_id"
      }, ["987654", "zebra-post-1"])
    }))

  it.effect("foreign key violation on delete", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const email = "zebra-author-6620@example.com"
      const [user] = yield* sql<{ id: number }>`INSERT INTO users (email) VALUES (${email}) RETURNING id`
      yield* sql`INSERT INTO posts (author_id, title) VALUES (${user!.id}, 'zebra-post-2')`
      const error = yield* failureOf(sql`DELETE FROM users WHERE email = ${email}`)
      expectClassified(error, {
        _tag: "ConstraintViolation",
        kind: "foreign_key",
        foreignKey: "still_referenced",
        referencedTable: "posts",
        sqlState: "23503",
        constraint: "posts_author_id_fkey",
        table: "posts",
        field: "id"
      }, [email, String(user!.id)])
    }))

  it.effect("not-null violation", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const error = yield* failureOf(sql`INSERT INTO users (email, nickname) VALUES (NULL, 'zebra-notnull-5521')`)
      expectClassified(error, {
        _tag: "ConstraintViolation",
        kind: "not_null",
        sqlState: "23502",
        table: "users",
        field: "email"
      }, ["zebra-notnull-5521"])
      expect(error.userMessage).toBe("The email field is required.")
    }))

  it.effect("check violation, with and without the constraint registry", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const insert = sql`INSERT INTO products (price) VALUES (-17.25)`
      const error = yield* failureOf(insert)
      expectClassified(error, {
        _tag: "ConstraintViolation",
        kind: "check",
        sqlState: "23514",
        constraint: "products_price_check",
        table: "products",
        field: "price"
      }, ["-17.25", "17.25"])
      const registered = yield* failureOf(insert).pipe(
        Effect.provide(Classify.layerConstraints({
          products_price_check: { field: "amount", userMessage: "Prices must be positive." }
        }))
      )
      expect(registered).toMatchObject({ field: "amount", userMessage: "Prices must be positive." })
    }))

  it.effect("exclusion violation", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`INSERT INTO bookings (during) VALUES ('[7100,7200)')`
      const error = yield* failureOf(sql`INSERT INTO bookings (during) VALUES ('[7150,7250)')`)
      expectClassified(error, {
        _tag: "ConstraintViolation",
        kind: "exclusion",
        recoveryAction: "FIX_DATA",
        sqlState: "23P01",
        constraint: "bookings_during_excl",
        table: "bookings",
        field: "during"
      }, ["7100", "7150", "7250"])
    }))

  it.effect("value too long", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const error = yield* failureOf(sql`INSERT INTO users (email, name) VALUES ('x@example.com', 'zebra-too-long-8812')`)
      expectClassified(error, {
        _tag: "InvalidData",
        category: "CONSTRAINT_VIOLATION",
        isRetryable: false,
        recoveryAction: "FIX_DATA",
        sqlState: "22001"
      }, ["zebra-too-long-8812"])
    }))

  it.effect("invalid input syntax", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const error = yield* failureOf(sql`SELECT ${"zebra-syntax-3319"}::int AS n`)
      expectClassified(error, { _tag: "InvalidData", recoveryAction: "FIX_DATA", sqlState: "22P02" }, [
        "zebra-syntax-3319"
      ])
      expect(error.technicalMessage).toContain("zebra-syntax-3319")
    }))

  it.effect("division by zero", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const error = yield* failureOf(sql`SELECT 4711 / (SELECT count(*) FROM secrets)::int AS n`)
      expectClassified(error, { _tag: "InvalidData", recoveryAction: "FIX_DATA", sqlState: "22012" }, ["4711"])
    }))

  it.effect("deadlock between two concurrent transactions", () =>
    Effect.gen(function*() {
      const db = yield* TestDatabase
      const a = yield* db.connect()
      const b = yield* db.connect()
      for (const client of [a, b]) {
        yield* rawQuery(client, "SET deadlock_timeout = '100ms'")
        yield* rawQuery(client, "BEGIN")
      }
      const pidA = yield* backendPid(a)
      yield* rawQuery(a, "UPDATE accounts SET balance = balance - 1 WHERE id = 1")
      yield* rawQuery(b, "UPDATE accounts SET balance = balance - 1 WHERE id = 2")
      const first = yield* Effect.fork(Effect.either(rawQuery(a, "UPDATE accounts SET balance = balance + 1 WHERE id = 2")))
      yield* waitFor(pidA, "lock")
      const second = yield* Effect.either(rawQuery(b, "UPDATE accounts SET balance = balance + 1 WHERE id = 1"))
      const results = [yield* Fiber.join(first), second]
      for (const client of [a, b]) yield* Effect.ignore(rawQuery(client, "ROLLBACK"))
      const failures = results.filter(Either.isLeft).map((result) => result.left)
      expect(failures).toHaveLength(1)
      const error = Classify.classifyDatabaseError(failures[0])
      expectClassified(error, {
        _tag: "Deadlock",
        category: "TRANSACTION_ERROR",
        isRetryable: true,
        recoveryAction: "RETRY",
        sqlState: "40P01"
      })
    }).pipe(Effect.scoped))

  it.effect("serialization failure (write skew under SERIALIZABLE), raised at COMMIT as a defect", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const db = yield* TestDatabase
      const other = yield* db.connect()
      yield* rawQuery(other, "BEGIN ISOLATION LEVEL SERIALIZABLE")
      yield* rawQuery(other, "SELECT count(*) FROM doctors WHERE on_call")
      const transaction = sql.withTransaction(
        Effect.gen(function*() {
          yield* sql`SET TRANSACTION ISOLATION LEVEL SERIALIZABLE`
          yield* sql`SELECT count(*) FROM doctors WHERE on_call`
          yield* sql`UPDATE doctors SET on_call = false WHERE id = 2`
          // the other transaction takes doctor 1 off call and commits first
          yield* rawQuery(other, "UPDATE doctors SET on_call = false WHERE id = 1").pipe(Effect.orDie)
          yield* rawQuery(other, "COMMIT").pipe(Effect.orDie)
        })
      )
      const error = yield* failureOf(transaction)
      expectClassified(error, {
        _tag: "SerializationFailure",
        category: "TRANSACTION_ERROR",
        isRetryable: true,
        recoveryAction: "RETRY",
        sqlState: "40001"
      })
      // a server ERROR at COMMIT is a definite rollback, not an unknown outcome
      expect(Classify.classifyCommitFailure(error.cause)._tag).toBe("SerializationFailure")
    }).pipe(Effect.scoped))

  it.effect("statement timeout", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const error = yield* failureOf(sql.withTransaction(
        Effect.zipRight(sql`SET LOCAL statement_timeout = '100ms'`, sql`SELECT pg_sleep(5)`)
      ))
      expectClassified(error, {
        _tag: "QueryTimeout",
        category: "TIMEOUT_ERROR",
        isRetryable: true,
        recoveryAction: "RETRY",
        sqlState: "57014"
      })
    }))

  it.effect("lock timeout", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const db = yield* TestDatabase
      const holder = yield* db.connect()
      yield* rawQuery(holder, "BEGIN")
      yield* rawQuery(holder, "SELECT * FROM accounts WHERE id = 3 FOR UPDATE")
      const error = yield* failureOf(sql.withTransaction(
        Effect.zipRight(sql`SET LOCAL lock_timeout = '100ms'`, sql`UPDATE accounts SET balance = 31337 WHERE id = 3`)
      ))
      yield* Effect.ignore(rawQuery(holder, "ROLLBACK"))
      expectClassified(error, {
        _tag: "QueryTimeout",
        category: "TIMEOUT_ERROR",
        isRetryable: true,
        recoveryAction: "RETRY",
        sqlState: "55P03"
      }, ["31337"])
    }).pipe(Effect.scoped))

  it.effect("permission denied for a restricted role", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const role = `zebra_restricted_${randomBytes(4).toString("hex")}`
      yield* Effect.acquireRelease(
        sql.unsafe(`CREATE ROLE ${role} NOLOGIN`),
        () => Effect.ignore(sql.unsafe(`DROP ROLE IF EXISTS ${role}`))
      )
      const error = yield* failureOf(sql.withTransaction(
        Effect.zipRight(sql.unsafe(`SET LOCAL ROLE ${role}`), sql`SELECT payload FROM secrets`)
      ))
      expectClassified(error, {
        _tag: "PermissionDenied",
        category: "PERMISSION_ERROR",
        isRetryable: false,
        recoveryAction: "CHECK_PERMISSIONS",
        sqlState: "42501"
      }, [role, "secrets"])
    }).pipe(Effect.scoped))

  it.effect("undefined table", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const error = yield* failureOf(sql`SELECT * FROM zebra_missing_table`)
      expectClassified(error, {
        _tag: "QueryError",
        category: "QUERY_ERROR",
        isRetryable: false,
        recoveryAction: "NONE",
        sqlState: "42P01"
      }, ["zebra_missing_table"])
    }))

  it.effect("syntax error", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const error = yield* failureOf(sql.unsafe("SELEC 'zebra-syntax-1'"))
      expectClassified(error, { _tag: "QueryError", recoveryAction: "NONE", sqlState: "42601" }, ["zebra-syntax-1", "SELEC"])
    }))

  it.effect("read-only transaction (25006)", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const error = yield* failureOf(sql.withTransaction(
        Effect.zipRight(sql`SET TRANSACTION READ ONLY`, sql`INSERT INTO secrets (payload) VALUES ('zebra-ro-77')`)
      ))
      expectClassified(error, {
        _tag: "QueryError",
        category: "QUERY_ERROR",
        isRetryable: false,
        recoveryAction: "NONE",
        sqlState: "25006"
      }, ["zebra-ro-77"])
    }))

  it.effect("connection refused on a closed port, without the password", () =>
    Effect.gen(function*() {
      // A port that was free a moment ago: nothing listens on it.
      const port = yield* EmbeddedPostgres.freePort
      const password = "zebra-Secret-pw-2291"
      const url = `postgres://app:${password}@127.0.0.1:${port}/app`
      const raw = new Pg.Client({ connectionString: url })
      const rawError = yield* Effect.flip(Effect.tryPromise({ try: () => raw.connect(), catch: (e) => e }))
      const fromDriver = Classify.classifyDatabaseError(rawError)
      expectClassified(fromDriver, {
        _tag: "ConnectionError",
        category: "CONNECTION_ERROR",
        isRetryable: true,
        recoveryAction: "CHECK_NETWORK",
        errorCode: "ECONNREFUSED"
      })
      expect(fromDriver.sqlState).toBeUndefined()
      // through the library's own pool and @effect/sql
      const viaPool = yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        return yield* failureOf(sql`SELECT 1`)
      }).pipe(
        Effect.provide(Database.layer({ url: Redacted.make(url), connectTimeout: "2 seconds" })),
        Effect.catchAll((error) => Effect.succeed(Classify.classifyDatabaseError(error)))
      )
      expectClassified(viaPool, { _tag: "ConnectionError", isRetryable: true, recoveryAction: "CHECK_NETWORK" })
      expect(viaPool.technicalMessage).not.toContain(password)
      expect(viaPool.userMessage).not.toContain(password)
    }))

  it.effect("backend terminated by pg_terminate_backend", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const db = yield* TestDatabase
      // a raw client receives the server's FATAL 57P01 as the query's error
      const client = yield* db.connect()
      const rawPid = yield* backendPid(client)
      const rawQueryFiber = yield* Effect.fork(Effect.flip(rawQuery(client, "SELECT pg_sleep(30)")))
      yield* waitFor(rawPid, "active")
      yield* sql`SELECT pg_terminate_backend(${rawPid})`
      const rawError = Classify.classifyDatabaseError(yield* Fiber.join(rawQueryFiber))
      expectClassified(rawError, {
        _tag: "ConnectionError",
        category: "CONNECTION_ERROR",
        isRetryable: true,
        recoveryAction: "CHECK_NETWORK",
        sqlState: "57P01"
      })
      // through the pool and @effect/sql, inside a transaction
      const pid = yield* Deferred.make<number>()
      const victim = yield* Effect.fork(failureOf(sql.withTransaction(
        Effect.gen(function*() {
          const [row] = yield* sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`
          yield* Deferred.succeed(pid, row!.pid)
          yield* sql`SELECT pg_sleep(30)`
        })
      )))
      const victimPid = yield* Deferred.await(pid)
      yield* waitFor(victimPid, "active")
      yield* sql`SELECT pg_terminate_backend(${victimPid})`
      const error = yield* Fiber.join(victim)
      expectClassified(error, {
        _tag: "ConnectionError",
        category: "CONNECTION_ERROR",
        isRetryable: true,
        recoveryAction: "CHECK_NETWORK"
      })
      // pg reports either the FATAL 57P01 or, having seen the socket close first, "Connection
      // terminated unexpectedly" (no SQLSTATE): both are the same retryable connection loss
      expect([undefined, "57P01"]).toContain(error.sqlState)
      // the pool recovers
      expect(yield* sql`SELECT 1 AS one`).toEqual([{ one: 1 }])
    }).pipe(Effect.scoped))

  it.effect("a backend killed while COMMIT runs: the failure of that COMMIT is an unknown commit outcome", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const db = yield* TestDatabase
      const client = yield* db.connect()
      const pid = yield* backendPid(client)
      yield* rawQuery(client, "BEGIN")
      yield* rawQuery(client, "INSERT INTO slow_commits (payload) VALUES ('zebra-commit-404')")
      // COMMIT runs the deferred trigger (30 s of pg_sleep): it is in flight until the kill.
      const commit = yield* Effect.fork(Effect.flip(rawQuery(client, "COMMIT")))
      yield* waitFor(pid, "commit")
      yield* sql`SELECT pg_terminate_backend(${pid})`
      const commitError = yield* Fiber.join(commit)
      const error = Classify.classifyCommitFailure(commitError)
      expectClassified(error, {
        _tag: "CommitOutcomeUnknown",
        category: "TRANSACTION_ERROR",
        isRetryable: false,
        recoveryAction: "VERIFY_COMMIT"
      }, ["zebra-commit-404"])
      expect(error.technicalMessage).toMatch(/^COMMIT outcome unknown: /)
      // outside a COMMIT the same failure is an ordinary (retryable) connection error
      expect(Classify.classifyDatabaseError(commitError)._tag).toBe("ConnectionError")
    }).pipe(Effect.scoped))

  it.effect("non-database failures and defects are left alone by refineErrors", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const own = { _tag: "OwnError" as const }
      const program = Effect.zipRight(sql`SELECT 1`, Effect.fail(own))
      expect(yield* Effect.flip(Classify.refineErrors(program))).toBe(own)
      const bug = new RangeError("not the database")
      const exit = yield* Effect.exit(Classify.refineErrors(Effect.zipRight(sql`SELECT 1`, Effect.die(bug))))
      expect(Exit.isFailure(exit) && exit.cause._tag === "Die" && exit.cause.defect === bug).toBe(true)
    }))
})
