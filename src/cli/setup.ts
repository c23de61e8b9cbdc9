/**
 * `pg-resilience setup`: gives a restricted application role what full health figures need, and
 * says exactly what changed.
 *
 * @internal
 */
import { Command, Options } from "@effect/cli"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import Pg from "pg"
import { monitoringScripts, renderScript } from "../internal/sqlScripts.js"
import { CliError } from "./errors.js"
import { resolveTarget, urlOption } from "./target.js"

const role = Options.text("role").pipe(Options.withDescription("the application role to grant monitoring to"))
const securityDefiner = Options.boolean("security-definer").pipe(
  Options.withDescription("install the SECURITY DEFINER function instead of granting pg_monitor (e.g. Supabase)")
)

interface State {
  readonly roleExists: boolean
  readonly pgMonitor: boolean
  readonly extension: boolean
  readonly loaded: boolean
  readonly activityFunction: boolean
  readonly hiddenSequences: number
}

const stateQuery = `
SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) AS "roleExists",
       COALESCE((SELECT pg_has_role($1, 'pg_monitor', 'MEMBER') FROM pg_roles WHERE rolname = $1), false) AS "pgMonitor",
       EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements') AS extension,
       current_setting('shared_preload_libraries') LIKE '%pg_stat_statements%' AS loaded,
       to_regprocedure('resilience_monitor.stat_activity()') IS NOT NULL AS "activityFunction",
       CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) THEN
         (SELECT count(*)::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public'
            AND CASE WHEN c.relkind = 'S' THEN NOT has_sequence_privilege($1, c.oid, 'SELECT,USAGE') ELSE false END)
       ELSE 0 END AS "hiddenSequences"`

const withClient = <A>(url: Redacted.Redacted<string>, f: (client: Pg.Client) => Promise<A>) =>
  Effect.tryPromise({
    try: async () => {
      const client = new Pg.Client({ connectionString: Redacted.value(url), connectionTimeoutMillis: 5000 })
      client.on("error", () => {})
      await client.connect()
      try {
        return await f(client)
      } finally {
        await client.end().catch(() => {})
      }
    },
    catch: (error) => error
  })

export const setupCommand = Command.make(
  "setup",
  { url: urlOption, role, securityDefiner },
  ({ role, securityDefiner, url }) =>
    Effect.gen(function*() {
      const target = yield* resolveTarget({ url }, "set up")
      const script = yield* Effect.promise(() =>
        renderScript(securityDefiner ? monitoringScripts.securityDefiner : monitoringScripts.grant, role)
      )
      const [before, after] = yield* withClient(target.url, async (client) => {
        const read = async () => (await client.query<State>(stateQuery, [role])).rows[0]!
        const before = await read()
        if (!before.roleExists) return [before, before] as const
        await client.query(script)
        return [before, await read()] as const
      }).pipe(Effect.mapError((error) => new CliError({ message: `setup failed: ${(error as Error).message ?? String(error)}` })))
      if (!before.roleExists) return yield* new CliError({ message: `setup failed: role ${role} does not exist` })
      const changes: Array<string> = []
      if (!before.pgMonitor && after.pgMonitor) changes.push(`granted pg_monitor to ${role}`)
      if (!before.extension && after.extension) changes.push("created extension pg_stat_statements")
      if (!before.activityFunction && after.activityFunction) {
        changes.push(`created resilience_monitor.stat_activity() and let ${role} execute it`)
      } else if (securityDefiner) changes.push(`(re)granted execute on resilience_monitor.stat_activity() to ${role}`)
      if (before.hiddenSequences > after.hiddenSequences) {
        changes.push(`granted SELECT on ${before.hiddenSequences - after.hiddenSequences} sequence(s) in schema public to ${role}`)
      }
      yield* Console.log(`pg-resilience setup on ${target.label}`)
      yield* Console.log(changes.length > 0 ? changes.map((c) => `  changed: ${c}`).join("\n") : "  nothing to change: already set up")
      if (!after.loaded) {
        yield* Console.log(
          "  note: pg_stat_statements is not in shared_preload_libraries; add it and restart for server-wide statement times"
        )
      }
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("Grant a restricted role what full health figures need (pg_monitor or a SECURITY DEFINER function)."))
