/**
 * One fresh database per test file on the server chosen by globalSetup, with the library's own
 * `Database` layer on top. Use it as `layer(TestDatabase.layer)("suite", (it) => ...)`.
 */
import type { SqlClient } from "@effect/sql"
import type { PgClient } from "@effect/sql-pg"
import { Context, Effect, Exit, Layer, Redacted, Scope } from "effect"
import { randomBytes } from "node:crypto"
import Pg from "pg"
import { inject } from "vitest"
import * as Database from "../../src/Database.js"
import * as PgBouncer from "./PgBouncer.js"

/** Whether the library's pool goes through PgBouncer (see `layerWith`). */
const viaPgBouncer = process.env.PG_RESILIENCE_TEST_VIA_PGBOUNCER === "1"

export interface TestDatabaseService {
  /** Superuser URL of this file's own database. */
  readonly url: Redacted.Redacted<string>
  /** Superuser URL of the server's maintenance database. */
  readonly serverUrl: Redacted.Redacted<string>
  readonly name: string
  /** Whether the server is the embedded PostgreSQL 18 of this run. */
  readonly embedded: boolean
  /** A raw client on this file's database, outside the pool, closed with the scope. */
  readonly connect: (options?: Omit<Pg.ClientConfig, "connectionString">) => Effect.Effect<Pg.Client, never, Scope.Scope>
}

export const withDatabaseName = (url: string, name: string): string => {
  const parsed = new URL(url)
  parsed.pathname = `/${name}`
  return parsed.toString()
}

const rawClient = (url: string, options: Omit<Pg.ClientConfig, "connectionString"> = {}) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const client = new Pg.Client({ ...options, connectionString: url })
      client.on("error", () => {})
      await client.connect()
      return client
    }),
    (client) => Effect.promise(() => client.end().catch(() => {})).pipe(Effect.timeoutOption("2 seconds"))
  )

export class TestDatabase extends Context.Tag("test/TestDatabase")<TestDatabase, TestDatabaseService>() {
  /** A fresh database, dropped (with its sessions) when the layer's scope closes. */
  static readonly fresh: Layer.Layer<TestDatabase> = Layer.scoped(
    TestDatabase,
    Effect.gen(function*() {
      const serverUrl = inject("serverUrl")
      const name = `t_${randomBytes(6).toString("hex")}`
      yield* Effect.acquireRelease(
        Effect.scoped(
          Effect.flatMap(rawClient(serverUrl), (c) => Effect.promise(() => c.query(`CREATE DATABASE ${name}`)))
        ),
        () =>
          Effect.scoped(
            Effect.flatMap(rawClient(serverUrl), (c) =>
              Effect.promise(() => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
            )
          )
      )
      const url = withDatabaseName(serverUrl, name)
      return {
        url: Redacted.make(url),
        serverUrl: Redacted.make(serverUrl),
        name,
        embedded: inject("serverEmbedded"),
        connect: (options) => rawClient(url, options)
      }
    })
  )

  /** `Database`, `SqlClient` and `PgClient` on a fresh database, with pool settings of your choice. */
  static readonly layerWith = (
    config: Omit<Database.DatabaseConfigInput, "url"> = {}
  ): Layer.Layer<TestDatabase | Database.Database | SqlClient.SqlClient | PgClient.PgClient> =>
    Layer.unwrapScoped(
      Effect.gen(function*() {
        const db = yield* TestDatabase
        // PG_RESILIENCE_TEST_VIA_PGBOUNCER=1: the library's pool goes through PgBouncer in
        // transaction mode (the fault suite's), the test's own raw clients straight to the server.
        const url = viaPgBouncer ? Redacted.make((yield* PgBouncer.make({ url: Redacted.value(db.url) })).url) : db.url
        return Database.layer({ ...config, url }).pipe(Layer.orDie)
      })
    ).pipe(Layer.provideMerge(TestDatabase.fresh))

  static readonly layer = TestDatabase.layerWith()
}

/** A fresh database for Promise-style tests (`beforeAll` / `afterAll`). */
export interface FreshDatabase {
  /** Superuser URL of the database. */
  readonly url: string
  /** A raw client on it, outside any pool, with `schema` already run. */
  readonly admin: Pg.Client
  /** `SELECT count(*)` of a table, through `admin`. */
  readonly count: (table: string) => Promise<number>
  /** Ends `admin` and drops the database (with its sessions). */
  readonly close: () => Promise<void>
}

/** Creates a fresh database, runs `schema` on it through a raw client, and hands both over. */
export const freshDatabase = async (schema: string): Promise<FreshDatabase> => {
  const scope = Effect.runSync(Scope.make())
  const test = await Effect.runPromise(
    Layer.buildWithScope(TestDatabase.fresh, scope).pipe(Effect.map(Context.get(TestDatabase)))
  )
  const url = Redacted.value(test.url)
  const admin = new Pg.Client({ connectionString: url })
  admin.on("error", () => {})
  await admin.connect()
  await admin.query(schema)
  return {
    url,
    admin,
    count: async (table) => Number((await admin.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n),
    close: async () => {
      await admin.end().catch(() => {})
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  }
}
