/**
 * What a command reports when it cannot do its job: one line, no stack trace, no password.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Option from "effect/Option"
import { classifyDatabaseError } from "../Classify.js"
import { scrubSecrets } from "../internal/redact.js"

/** A failure the user can act on, printed as one line. */
export class CliError extends Data.TaggedError("CliError")<{ readonly message: string }> {}

/**
 * Exit codes of the monitoring convention (Nagios, check_postgres). UNKNOWN is the code of a check
 * that could not assess what it was asked to, and of every failure to run at all: bad flags
 * (usage), no target, an unusable URL, an embedded server that did not start.
 */
export const ExitCode = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 } as const

/** HEALTHY 0, DEGRADED 1, UNHEALTHY and CRITICAL 2, UNKNOWN 3 (a figure that counts could not be assessed). */
export const exitCodeOf = (status: string): number =>
  status === "HEALTHY"
    ? ExitCode.OK
    : status === "DEGRADED"
    ? ExitCode.WARNING
    : status === "UNKNOWN"
    ? ExitCode.UNKNOWN
    : ExitCode.CRITICAL

/** Any text as one line: line breaks and runs of blanks become one space. */
export const oneLine = (text: string): string => text.replace(/\s*[\r\n]+\s*/g, " ").trim()

const tagOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "_tag" in error ? String((error as { _tag: unknown })._tag) : undefined

const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message : typeof error === "string" ? error : String(error)

/**
 * One line for any failure: ours say what to do; configuration and embedded-server errors keep
 * their message; anything else is classified. Never a stack trace, never a password.
 */
export const describeFailure = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  const error = Option.isSome(failure) ? failure.value : Cause.squash(cause)
  const tag = tagOf(error)
  let text: string
  if (tag === "CliError" || tag === "DatabaseConfigError" || tag === "HealthConfigError" || tag === "HealthThresholdsError") {
    text = messageOf(error)
  }
  else if (tag === "EmbeddedPostgresError") {
    text = `cannot start the embedded PostgreSQL 18: ${String((error as { reason?: unknown }).reason ?? messageOf(error))}`
  } else {
    try {
      text = classifyDatabaseError(error).technicalMessage
    } catch {
      text = messageOf(error)
    }
  }
  return scrubSecrets(oneLine(text)) || "unknown error"
}
