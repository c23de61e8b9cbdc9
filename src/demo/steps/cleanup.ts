/**
 * After the application layers are released: every connection of the pool and of its health probe
 * is gone from the server, and the scratch schema is dropped, so a shared database is left as it was.
 */
import * as Effect from "effect/Effect"
import * as Classify from "../../Classify.js"
import { Environment } from "../environment.js"
import { pollUntil, serverSessions } from "../inspect.js"
import { Report } from "../report.js"

/** Runs the clean-up section. */
export const cleanUpStep = Effect.gen(function*() {
  const report = yield* Report
  const env = yield* Environment
  yield* report.section(6, "Clean-up")

  const sessions = yield* pollUntil(serverSessions(env), (s) => s.withProbe === 0)
  yield* report.check(
    "closing the layers closed every connection of the pool and of its health probe",
    sessions.withProbe === 0,
    `${sessions.withProbe} sessions of ${env.appName} left on the server`
  )

  yield* env.control`DROP SCHEMA ${env.control(env.schema)} CASCADE`
  const [left] = yield* env.control<{ n: number }>`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = ${env.schema}`
  yield* report.check(
    `scratch schema ${env.schema} dropped: the database is left as it was found`,
    left?.n === 0
  )
  if (env.embedded) yield* report.info("the embedded PostgreSQL is stopped and its directory removed as the demo exits")
}).pipe(Classify.refineErrors)
