/**
 * Where the demo runs: `DATABASE_URL` or an embedded PostgreSQL 18, a scratch schema that is dropped
 * at the end (a shared database is left as it was found), a control session that sets up and
 * inspects the server from outside the application pool, and the application layers under test.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { randomBytes } from "node:crypto"
import * as Classify from "../Classify.js"
import * as Database from "../Database.js"
import * as EmbeddedPostgres from "../EmbeddedPostgres.js"
import type * as Errors from "../Errors.js"
import * as Health from "../Health.js"
import * as HealthMonitor from "../HealthMonitor.js"
import { Report } from "./report.js"

/** What every step needs to know about the database it runs on. */
export interface DemoEnvironment {
  readonly embedded: boolean
  /** How long resolving the target took (starting the embedded server, when there is one). */
  readonly startMillis: number
  /** The connection URL with its password masked: printable. */
  readonly target: string
  /** The scratch schema holding the platform's tables (first in every session's search_path). */
  readonly schema: string
  /** `application_name` of the application pool's sessions (its probe adds " probe"). */
  readonly appName: string
  /** The URL of the application pool: the target plus session options (search_path, ...). */
  readonly appUrl: Redacted.Redacted<string>
  /** Size of the application pool. */
  readonly poolSize: number
  /** A session outside the application pool, for setting up and inspecting the server. */
  readonly control: SqlClient.SqlClient
  readonly serverVersion: string
  /** deadlock_timeout of the application's sessions (lowered when the role may, so deadlocks resolve fast). */
  readonly deadlockTimeout: string
}

/** The environment of this run. */
export class Environment extends Context.Tag("effect-pg-resilience/demo/Environment")<Environment, DemoEnvironment>() {}

/** Masks the password of a URL so that it can be printed. */
export const maskPassword = (url: string): string => {
  const parsed = new URL(url)
  if (parsed.password !== "") parsed.password = "***"
  return parsed.toString()
}

/** Adds `-c name=value` session settings to the URL's `options` parameter (kept if already set). */
const withSessionSettings = (url: string, settings: Readonly<Record<string, string>>): string => {
  const parsed = new URL(url)
  const given = parsed.searchParams.get("options")
  const added = Object.entries(settings).map(([name, value]) => `-c ${name}=${value}`)
  parsed.searchParams.set("options", [...(given ? [given] : []), ...added].join(" "))
  return parsed.toString()
}

const demoDeadlockTimeout = "20ms"

interface ServerFacts {
  readonly version: string
  readonly superuser: boolean
  readonly deadlock_timeout: string
}

/** The control session: two connections on the target, in the scratch schema. */
const controlSession = (url: string, schema: string, id: string) =>
  Effect.map(
    Layer.build(
      Database.layer({
        url: Redacted.make(withSessionSettings(url, { search_path: schema })),
        maxConnections: 2,
        applicationName: `pgr-demo-control-${id}`
      })
    ),
    Context.get(SqlClient.SqlClient)
  )

/** The scratch schema, dropped (with everything in it) when the scope closes, also on failure. */
const scratchSchema = (control: SqlClient.SqlClient, schema: string) =>
  Effect.acquireRelease(
    control`CREATE SCHEMA ${control(schema)}`,
    () => Effect.ignore(control`DROP SCHEMA IF EXISTS ${control(schema)} CASCADE`)
  )

/**
 * Resolves the target, opens the control session and creates the scratch schema, all in the
 * current scope (which removes them, and stops an embedded server, when it closes).
 */
export const make: Effect.Effect<
  DemoEnvironment,
  EmbeddedPostgres.EmbeddedPostgresError | Database.DatabaseConfigError | Errors.DatabaseError,
  Scope.Scope | Report
> = Effect.gen(function*() {
  const report = yield* Report
  // An embedded server gets pg_stat_statements, so that the health check has server-side statement times.
  const [started, resolved] = yield* Effect.timed(
    EmbeddedPostgres.resolveDatabaseUrl({ settings: { shared_preload_libraries: "pg_stat_statements" } })
  )
  const url = Redacted.value(resolved.url)
  yield* report.hideSecret(decodeURIComponent(new URL(url).password))
  const id = randomBytes(4).toString("hex")
  const schema = `pgr_demo_${id}`
  const control = yield* controlSession(url, schema, id)
  yield* scratchSchema(control, schema)
  if (resolved.embedded) yield* control`CREATE EXTENSION IF NOT EXISTS pg_stat_statements SCHEMA public`
  const [facts] = yield* control<ServerFacts>`
    SELECT current_setting('server_version') AS version,
           current_setting('is_superuser') = 'on' AS superuser,
           current_setting('deadlock_timeout') AS deadlock_timeout`
  // deadlock_timeout may only be set by a superuser; otherwise the server's value stays.
  const superuser = facts?.superuser === true
  const appName = `pgr-demo-${id}`
  return {
    embedded: resolved.embedded,
    startMillis: Duration.toMillis(started),
    target: maskPassword(url),
    schema,
    appName,
    appUrl: Redacted.make(
      withSessionSettings(url, {
        search_path: schema,
        ...(superuser ? { deadlock_timeout: demoDeadlockTimeout } : {})
      })
    ),
    poolSize: 8,
    control,
    serverVersion: facts?.version ?? "?",
    deadlockTimeout: superuser ? demoDeadlockTimeout : facts?.deadlock_timeout ?? "?"
  }
}).pipe(Classify.refineErrors)

/**
 * The application under test: the library's pool on the scratch schema, its health service, and
 * the health monitor checking every 200 ms.
 */
export const appLayer = (
  env: DemoEnvironment,
  onStatusChange: HealthMonitor.StatusChangeCallback
) =>
  HealthMonitor.HealthMonitor.layer({ interval: "200 millis", onStatusChange }).pipe(
    Layer.provideMerge(Health.DatabaseHealth.layer()),
    Layer.provideMerge(Database.layer({ url: env.appUrl, maxConnections: env.poolSize, applicationName: env.appName }))
  )
