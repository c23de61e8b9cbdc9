/**
 * Conformance, the options of `PgClientConfig` 0.53 on the run's server: each is given to both
 * layers and its effect observed on the server or in the client (application_name in
 * pg_stat_activity, type parsers, span attributes, the socket factory, idle timeout, the minimum
 * kept open, connection lifetime, separate connection fields, ssl).
 */
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { layer } from "@effect/vitest"
import { Cause, Effect, Exit, Option, Redacted } from "effect"
import * as Net from "node:net"
import Pg from "pg"
import { parse as parseConnectionString } from "pg-connection-string"
import { expect } from "vitest"
import { TestDatabase } from "../support/TestDatabase.js"
import { conformance, eventually, implementations, lastSpanAttributes, recordingSpans } from "./support.js"

/** Sessions of this database (the pool's own and the one asking) with the given application_name. */
const sessionsNamed = (name: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ pid: number }>`SELECT pid FROM pg_stat_activity
      WHERE datname = current_database() AND application_name = ${name} ORDER BY pid`.pipe(
      Effect.map((rows) => rows.map((row) => row.pid))
    ))

conformance("PgClient conformance: applicationName", { applicationName: "conformance-app" }, (it) => {
  it.effect("the sessions carry the application name", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const [row] = yield* sql<{ name: string; pid: number }>`SELECT current_setting('application_name') AS name, pg_backend_pid() AS pid`
      expect(row!.name).toBe("conformance-app")
      expect(yield* sessionsNamed("conformance-app")).toContain(row!.pid)
    }))
})

const int8AsNumber: PgClient.PgClientConfig["types"] = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === 20 ? (value: string) => Number(value) : Pg.types.getTypeParser(oid, format as "text")) as never
}

conformance("PgClient conformance: types", { types: int8AsNumber }, (it) => {
  it.scoped("the type parsers decide how column values are read (int8 as a number here, a string by default)", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      expect(yield* sql`SELECT 9007199254740::int8 AS big, 5::int4 AS small, 'x'::text AS t`).toEqual([
        { big: 9007199254740, small: 5, t: "x" }
      ])
      const test = yield* TestDatabase
      const raw = yield* test.connect()
      const rows = yield* Effect.promise(() => raw.query("SELECT 5::int8 AS big"))
      expect(rows.rows).toEqual([{ big: "5" }])
    }))
})

conformance("PgClient conformance: spanAttributes", { spanAttributes: { "service.name": "billing", tenant: 7 } }, (it) => {
  it.effect("every statement span carries them, beside the semantic-convention attributes", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const test = yield* TestDatabase
      const { spans, tracer } = yield* recordingSpans
      yield* sql`SELECT 1`.pipe(Effect.withTracer(tracer))
      const parsed = parseConnectionString(Redacted.value(test.url))
      const attributes = Option.getOrThrow(lastSpanAttributes(spans, "sql.execute"))
      expect(attributes).toMatchObject({
        "service.name": "billing",
        tenant: 7,
        "db.system.name": "postgresql",
        "db.namespace": test.name,
        "server.address": parsed.host,
        "server.port": Number(parsed.port),
        "db.query.text": "SELECT 1"
      })
    }))
})

let socketsMade = 0
/** A socket of the caller's that lacks `setKeepAlive` (as some wrappers do): it must still work. */
const countingSocket = () => {
  socketsMade++
  const socket = new Net.Socket()
  Object.defineProperty(socket, "setKeepAlive", { value: undefined, writable: true })
  return socket
}

conformance("PgClient conformance: stream", { stream: countingSocket }, (it) => {
  it.effect("connections are made on the sockets the factory returns", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const before = socketsMade
      // Two connections at once: at least one of them is new.
      yield* Effect.all([sql`SELECT pg_sleep(0.1)`, sql`SELECT pg_sleep(0.1)`], { concurrency: 2 })
      expect(socketsMade).toBeGreaterThan(before)
      expect(yield* sql`SELECT 1 AS one`).toEqual([{ one: 1 }])
    }))
})

conformance("PgClient conformance: idleTimeout", { idleTimeout: "300 millis", applicationName: "conformance-idle" }, (it) => {
  it.scoped("an idle connection is closed after idleTimeout", () =>
    Effect.gen(function*() {
      const test = yield* TestDatabase
      const sql = yield* SqlClient.SqlClient
      const [row] = yield* sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`
      const observer = yield* test.connect()
      yield* eventually(
        Effect.promise(() => observer.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1", [row!.pid])),
        (result) => result.rows[0].n === 0
      )
    }))
})

conformance(
  "PgClient conformance: minConnections",
  { minConnections: 2, maxConnections: 4, idleTimeout: "200 millis", applicationName: "conformance-min" },
  (it) => {
    it.effect("idle connections are closed down to minConnections, not below", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const pids = yield* Effect.all(
          Array.from({ length: 4 }, () => sql<{ pid: number }>`SELECT pg_backend_pid() AS pid, pg_sleep(0.2)`),
          { concurrency: 4 }
        )
        // Four sessions at once: the pool grew to four.
        expect(new Set(pids.map((rows) => rows[0]!.pid)).size).toBe(4)
        yield* eventually(sessionsNamed("conformance-min"), (pids) => pids.length === 2)
        // Well past the idle timeout, the two remain.
        yield* Effect.sleep("1 second")
        expect((yield* sessionsNamed("conformance-min")).length).toBe(2)
      }))
  }
)

conformance("PgClient conformance: connectionTTL", { connectionTTL: "1 second", maxConnections: 1 }, (it) => {
  it.scoped("a connection older than connectionTTL is replaced", () =>
    Effect.gen(function*() {
      const test = yield* TestDatabase
      const sql = yield* SqlClient.SqlClient
      const pidNow = Effect.map(sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`, (rows) => rows[0]!.pid)
      const first = yield* pidNow
      // Still the same connection well within its lifetime.
      expect(yield* pidNow).toBe(first)
      const next = yield* eventually(pidNow, (pid) => pid !== first)
      expect(next).not.toBe(first)
      const observer = yield* test.connect()
      yield* eventually(
        Effect.promise(() => observer.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1", [first])),
        (result) => result.rows[0].n === 0
      )
    }))
})

/** The failure's tag, message and its cause's message ("" for a success). */
export const failureText = (exit: Exit.Exit<unknown, unknown>): string => {
  if (Exit.isSuccess(exit)) return ""
  const error = Cause.squash(exit.cause) as { _tag?: string; message?: string; cause?: { message?: string } }
  return `${error._tag}: ${error.message} (${error.cause?.message})`
}

/** Runs one statement through `implementation`'s layer built from `options` (on this file's server). */
const statementThrough = (
  implementation: (typeof implementations)[number],
  options: PgClient.PgClientConfig
) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ db: string; usr: string }>`SELECT current_database() AS db, current_user AS usr`).pipe(
      Effect.provide(implementation.layer(options)),
      Effect.exit
    )

for (const implementation of implementations) {
  layer(TestDatabase.fresh, { timeout: "60 seconds", excludeTestServices: true })(
    `PgClient conformance: connection fields and ssl (${implementation.name})`,
    (it) => {
      it.effect("host, port, username, password and database connect without a URL", () =>
        Effect.gen(function*() {
          const test = yield* TestDatabase
          const parsed = parseConnectionString(Redacted.value(test.url))
          const exit = yield* statementThrough(implementation, {
            host: parsed.host!,
            port: Number(parsed.port),
            username: parsed.user!,
            ...(parsed.password ? { password: Redacted.make(parsed.password) } : {}),
            database: parsed.database!
          })
          expect(exit).toEqual(Exit.succeed([{ db: test.name, usr: parsed.user }]))
        }))

      it.scoped("ssl against this server: accepted when it has TLS, rejected with a clear cause when it has none", () =>
        Effect.gen(function*() {
          const test = yield* TestDatabase
          const observer = yield* test.connect()
          const serverSsl = (yield* Effect.promise(() => observer.query("SHOW ssl"))).rows[0].ssl as string
          const exit = yield* statementThrough(implementation, { url: test.url, ssl: { rejectUnauthorized: false } })
          if (serverSsl === "on") {
            expect(Exit.isSuccess(exit)).toBe(true)
          } else {
            expect(failureText(exit)).toMatch(/^SqlError: .*does not support SSL/)
          }
          // ssl: false is a plain connection either way.
          expect(Exit.isSuccess(yield* statementThrough(implementation, { url: test.url, ssl: false }))).toBe(true)
        }))
    }
  )
}
