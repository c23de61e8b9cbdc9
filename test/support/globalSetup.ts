/**
 * Gives every test file the server to use: `DATABASE_URL` when set, else one embedded PostgreSQL 18
 * (with pg_stat_statements preloaded) for the whole run. Each file then creates its own database on
 * it (see TestDatabase.ts), so files never see each other's tables.
 */
import { Cause, Effect, Exit, Redacted, Scope } from "effect"
import type { TestProject } from "vitest/node"
import * as EmbeddedPostgres from "../../src/EmbeddedPostgres.js"

declare module "vitest" {
  export interface ProvidedContext {
    /** Superuser URL of the server under test (a maintenance database on it). */
    serverUrl: string
    /** Whether the server is the embedded one started by this run. */
    serverEmbedded: boolean
  }
}

let scope: Scope.CloseableScope | undefined

export async function setup(project: TestProject) {
  scope = Effect.runSync(Scope.make())
  const exit = await Effect.runPromiseExit(
    EmbeddedPostgres.resolveDatabaseUrl({ settings: { shared_preload_libraries: "pg_stat_statements" } }).pipe(
      Scope.extend(scope)
    )
  )
  if (Exit.isFailure(exit)) {
    // One clear line instead of a stack (or of nothing at all): the whole run depends on this server.
    const failure = Cause.squash(exit.cause)
    const message = `npm test: ${failure instanceof Error ? failure.message : String(failure)}` +
      " (or set DATABASE_URL to test against a server of your own)"
    console.error(`\n${message}\n`)
    throw Object.assign(new Error(message), { stack: message })
  }
  const resolved = exit.value
  project.provide("serverUrl", Redacted.value(resolved.url))
  project.provide("serverEmbedded", resolved.embedded)
}

export async function teardown() {
  if (scope) await Effect.runPromise(Scope.close(scope, Exit.void))
}
