/**
 * `npm start`: the seed's Training Data Generation platform on a real PostgreSQL, in five steps
 * whose every printed claim is checked. Exit code 0 when all checks pass, 1 when one failed or the
 * demo could not run, 130 when interrupted (the embedded server is stopped in every case). When it
 * cannot get its database (the embedded server does not start, DATABASE_URL is unusable) it says
 * so in one line on stderr, never with a stack trace.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { isDatabaseError } from "../Errors.js"
import { scrubSecrets } from "../internal/redact.js"
import * as Environment from "./environment.js"
import * as Logs from "./logs.js"
import * as Report from "./report.js"
import { atomicStep } from "./steps/atomic.js"
import { cleanUpStep } from "./steps/cleanup.js"
import { concurrencyStep } from "./steps/concurrency.js"
import { healthStep } from "./steps/health.js"
import { schemaStep } from "./steps/schema.js"
import { timeoutStep } from "./steps/timeout.js"
import * as Timeline from "./timeline.js"

/** Some printed claim did not hold. */
class ChecksFailed extends Data.TaggedError("ChecksFailed")<{ readonly failed: number }> {}

const steps = Effect.gen(function*() {
  yield* schemaStep
  yield* atomicStep
  const load = yield* concurrencyStep
  yield* timeoutStep
  yield* healthStep(load)
})

const demo = Effect.gen(function*() {
  const report = yield* Report.Report
  const timeline = yield* Timeline.Timeline
  yield* report.title(Report.color.bold("effect-pg-resilience · the seed platform's database, checked claim by claim"))
  const env = yield* Environment.make
  yield* report.title(
    `database ${env.target} · PostgreSQL ${env.serverVersion} · ` +
      (env.embedded
        ? `embedded (DATABASE_URL not set), started in ${Report.formatSeconds(env.startMillis)}, removed at exit`
        : "from DATABASE_URL")
  )
  yield* report.title(`scratch schema ${env.schema} (dropped at the end) · application_name ${env.appName}`)
  yield* steps.pipe(
    Effect.provide(Environment.appLayer(env, timeline.onStatusChange)),
    Effect.provideService(Environment.Environment, env)
  )
  yield* cleanUpStep.pipe(Effect.provideService(Environment.Environment, env))
}).pipe(Effect.scoped)

/**
 * One line for a failure that stopped the demo. The technical message helps the operator, but is
 * left out for constraint violations and invalid data, whose messages may quote row values; the
 * report scrubs the password from every line anyway.
 */
const describeFailure = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    if (isDatabaseError(error)) {
      const technical = error.category === "CONSTRAINT_VIOLATION" ? "" : ` (${error.technicalMessage})`
      return `${error._tag} [${error.sqlState ?? error.errorCode ?? "no SQLSTATE"}]: ${error.userMessage}${technical}`
    }
    if (error instanceof Error) return error.message
    return String(error)
  }
  return Cause.pretty(cause).split("\n")[0] ?? "unknown defect"
}

/** Prints the library's collected log lines and the verdict; fails when a claim did not hold. */
const summary = Effect.gen(function*() {
  const report = yield* Report.Report
  const log = yield* Logs.LibraryLog
  const results = yield* report.results
  const failed = results.filter((r) => !r.ok)
  const elapsed = Report.formatSeconds(yield* report.elapsedMillis)
  yield* report.title("")
  yield* report.title(Report.color.dim(`library log lines (collected, not printed): ${Logs.tally(yield* log.lines).join(" · ") || "none"}`))
  if (failed.length === 0) {
    yield* report.title(Report.color.green(`✓ all ${results.length} claims checked and true, in ${elapsed}`))
    return
  }
  yield* report.title(Report.color.red(`✗ ${failed.length} of ${results.length} claims failed (${elapsed}):`))
  for (const r of failed) yield* report.title(Report.color.red(`  ✗ [${r.section}] ${r.claim}`))
  return yield* Effect.fail(new ChecksFailed({ failed: failed.length }))
})

/** The one line on stderr of a demo that cannot run at all. */
const fatal = (message: string) => process.stderr.write(`effect-pg-resilience demo: ${scrubSecrets(message)}\n`)

const program = demo.pipe(
  Effect.catchAllCause((cause) => {
    if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause)
    const failure = Cause.failureOption(cause)
    if (Option.isSome(failure) && failure.value instanceof Environment.DatabaseUnavailable) {
      const error = failure.value
      return Effect.zipRight(Effect.sync(() => fatal(error.message)), Effect.fail(error))
    }
    return Effect.flatMap(Report.Report, (report) => report.check("the demo ran to its end", false, describeFailure(cause)))
  }),
  Effect.zipRight(summary),
  Effect.provide(Layer.provideMerge(Timeline.layer, Layer.merge(Report.layer, Logs.layer)))
)

// Last resort: an error outside the program (a library's stray rejection or throw) is one line and
// exit 1 too, never Node's stack trace.
const crash = (error: unknown) => {
  fatal(`stopped by an unexpected error: ${String(error instanceof Error ? error.message : error).split("\n")[0]}`)
  process.exit(1)
}
process.on("uncaughtException", crash)
process.on("unhandledRejection", crash)

NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  disablePrettyLogger: true,
  teardown: (exit, onExit) => onExit(Exit.isSuccess(exit) ? 0 : Cause.isInterruptedOnly(exit.cause) ? 130 : 1)
})
