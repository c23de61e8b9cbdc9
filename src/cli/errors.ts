/**
 * What a command reports when it cannot do its job: one line, no stack trace, no password.
 *
 * @internal
 */
import * as Data from "effect/Data"

/** A failure the user can act on, printed as one line. */
export class CliError extends Data.TaggedError("CliError")<{ readonly message: string }> {}

/** Exit codes of the monitoring convention (Nagios, check_postgres). */
export const ExitCode = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 } as const

/** HEALTHY 0, DEGRADED 1, UNHEALTHY and CRITICAL 2. */
export const exitCodeOf = (status: string): number =>
  status === "HEALTHY" ? ExitCode.OK : status === "DEGRADED" ? ExitCode.WARNING : ExitCode.CRITICAL
