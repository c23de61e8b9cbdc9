/**
 * Where the demo runs: `DATABASE_URL` or an embedded PostgreSQL 18, a scratch schema that is dropped
 * at the end (a shared database is left as it was found), a control session that sets up and
 * inspects the server from outside the application pool, and the application layers under test.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { randomBytes } from "node:crypto"
import * as Classify from "../Classify.js"
import * as Database from "../Database.js"
import * as EmbeddedPostgres from "../EmbeddedPostgres.js"
import { isDatabaseError } from "../Errors.js"
import * as Health from "../Health.js"
import * as HealthMonitor from "../HealthMonitor.js"
import { redactUrl, scrubSecrets } from "../internal/redact.js"
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
 * The demo could not get its database (the embedded server did not start, `DATABASE_URL` is not a
 * usable URL, or its server refused the control session or the scratch schema). `message` is one
 * line, without password, fit for stderr.
 */
export class DatabaseUnavailable extends Data.TaggedError("DatabaseUnavailable")<{ readonly message: string }> {}

const reasonOf = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  const error: unknown = Option.isSome(failure) ? failure.value : Cause.squash(cause)
  const text = error instanceof EmbeddedPostgres.EmbeddedPostgresError
    ? error.reason
    : isDatabaseError(error)
    ? error.technicalMessage || error.userMessage
    : error instanceof Error
    ? error.message
    : String(error)
  return scrubSecrets(text.replace(/\s*[\r\n]+\s*/g, " ").trim()) || "unknown error"
}

/** Turns every failure of `effect` except an interruption into one `DatabaseUnavailable` line. */
const unavailable = (describe: (reason: string) => string) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, DatabaseUnavailable, R> =>
  Effect.catchAllCause(effect, (cause) =>
    Cause.isInterruptedOnly(cause)
      ? Effect.failCause(cause as Cause.Cause<never>)
      : Effect.fail(new DatabaseUnavailable({ message: describe(reasonOf(cause)) })))

/**
 * Resolves the target, opens the control session and creates the scratch schema, all in the
 * current scope (which removes them, and stops an embedded server, when it closes).
 */
export const make: Effect.Effect<DemoEnvironment, DatabaseUnavailable, Scope.Scope | Report> = Effect.gen(function*() {
  const report = yield* Report
  // An embedded server gets pg_stat_statements, so that the health check has server-side statement times.
  const [started, resolved] = yield* Effect.timed(
    EmbeddedPostgres.resolveDatabaseUrl({ settings: { shared_preload_libraries: "pg_stat_statements" } })
  ).pipe(
    unavailable((reason) =>
      `could not start the embedded PostgreSQL 18: ${reason} (set DATABASE_URL to run the demo on a server of your own)`
    )
  )
  const source = resolved.embedded ? "the embedded PostgreSQL 18" : "the database in DATABASE_URL"
  yield* Database.validateConfig({ url: resolved.url }).pipe(
    unavailable(() => `DATABASE_URL is not a postgres:// or postgresql:// connection URL`)
  )
  const url = Redacted.value(resolved.url)
  yield* report.hideSecret(decodeURIComponent(new URL(url).password))
  return yield* prepare(resolved.embedded, url, Duration.toMillis(started)).pipe(
    Classify.refineErrors,
    unavailable((reason) => `could not use ${source}: ${reason}`)
  )
})

const prepare = (embedded: boolean, url: string, startMillis: number) =>
  Effect.gen(function*() {
    const id = randomBytes(4).toString("hex")
    const schema = `pgr_demo_${id}`
    const control = yield* controlSession(url, schema, id)
    yield* scratchSchema(control, schema)
    if (embedded) yield* control`CREATE EXTENSION IF NOT EXISTS pg_stat_statements SCHEMA public`
    const [facts] = yield* control<ServerFacts>`
      SELECT current_setting('server_version') AS version,
             current_setting('is_superuser') = 'on' AS superuser,
             current_setting('deadlock_timeout') AS deadlock_timeout`
    // deadlock_timeout may only be set by a superuser; otherwise the server's value stays.
    const superuser = facts?.superuser === true
    const appName = `pgr-demo-${id}`
    return {
      embedded,
      startMillis,
      target: redactUrl(url),
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
    } satisfies DemoEnvironment
  })

/**
 * The application under test: the library's pool on the scratch schema, its health service, and
 * the health monitor checking every 50 ms (the load of step 3 lasts about a second).
 */
export const appLayer = (
  env: DemoEnvironment,
  onStatusChange: HealthMonitor.StatusChangeCallback
) =>
  HealthMonitor.layer({ interval: "50 millis", onStatusChange }).pipe(
    // a short first-check window: the monitor's first result must come before step 3's load ends
    Layer.provideMerge(Health.layer({ firstCheckWindow: "100 millis" })),
    Layer.provideMerge(Database.layer({ url: env.appUrl, maxConnections: env.poolSize, applicationName: env.appName }))
  )
