/**
 * Which database a command talks to: `--url`, else `DATABASE_URL` (when not empty), else, only when
 * asked for with `--embedded`, an embedded PostgreSQL 18 started for the command and removed
 * afterwards. Without any of them the command fails at once: a monitoring job whose variable went
 * missing must not report a throwaway server as healthy.
 *
 * @internal
 */
import { Options } from "@effect/cli"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Database from "../Database.js"
import * as EmbeddedPostgres from "../EmbeddedPostgres.js"
import { redactUrl } from "../internal/redact.js"
import { durationOption } from "./duration.js"
import { CliError, oneLine } from "./errors.js"

/** `--url`: kept Redacted from the command line on. */
export const urlOption = Options.redacted("url").pipe(
  Options.withDescription("postgres:// URL of the database (default: DATABASE_URL; the password is never printed)"),
  Options.optional
)

/** `--embedded`: the explicit request for a throwaway server (never a fallback). */
export const embeddedOption = Options.boolean("embedded").pipe(
  Options.withDescription("check a throwaway embedded PostgreSQL 18 started for this command (for trying the tool)")
)

/** `--probe-timeout`: the hard limit of one health probe, in milliseconds for the health layer. */
export const probeTimeoutOption = durationOption("probe-timeout", {
  description: "how long one health probe may take before the result is CRITICAL",
  default: "5s",
  max: "10 minutes"
}).pipe(Options.map(Duration.toMillis))

/** The URL to use and how to name it in output (password hidden). */
export interface Target {
  readonly url: Redacted.Redacted<string>
  readonly label: string
}

/** What the command line says about the target. */
export interface TargetRequest {
  readonly url: Option.Option<Redacted.Redacted<string>>
  /** `--embedded`; left out by commands that do not offer the flag. */
  readonly embedded?: boolean
}

/** Label of the embedded target in output. */
export const embeddedLabel = "embedded PostgreSQL 18 (temporary)"

/** The one line printed when no target was given (after `pg-resilience: `). */
export const noTargetMessage = (purpose: string, embeddedOffered: boolean) =>
  `no database to ${purpose}: set DATABASE_URL or pass --url postgres://…` +
  (embeddedOffered ? " (or --embedded to try a throwaway embedded server)" : "")

/** `DATABASE_URL`, unless unset or blank (blank counts as missing). */
const databaseUrlFromEnvironment = (): Option.Option<Redacted.Redacted<string>> => {
  const value = process.env.DATABASE_URL
  return value !== undefined && value.trim() !== "" ? Option.some(Redacted.make(value)) : Option.none()
}

/** Rejects an unusable URL before any connection, naming where it came from; never echoes it. */
const validated = (url: Redacted.Redacted<string>, source: string): Effect.Effect<Target, CliError> =>
  Database.validateConfig({ url }).pipe(
    Effect.mapError((error) =>
      new CliError({ message: oneLine(error.field === "url" ? `${source} ${error.reason}` : error.message) })
    ),
    Effect.as<Target>({ url, label: redactUrl(Redacted.value(url)) })
  )

/** Starts the embedded server; any failure to start is one line (the server's log is not printed). */
const embeddedTarget: Effect.Effect<Target, CliError, Scope.Scope> = EmbeddedPostgres.make().pipe(
  Effect.map((server): Target => ({ url: server.url, label: embeddedLabel })),
  Effect.catchAllCause((cause) => {
    if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
    const failure = Cause.failureOption(cause)
    const error: unknown = Option.isSome(failure) ? failure.value : Cause.squash(cause)
    const reason = error instanceof EmbeddedPostgres.EmbeddedPostgresError
      ? error.reason
      : error instanceof Error
      ? error.message
      : String(error)
    return Effect.fail(new CliError({ message: oneLine(`cannot start the embedded PostgreSQL 18: ${reason}`) }))
  })
)

/**
 * Resolves the target in the current scope (an embedded server lives as long as the scope).
 * `purpose` completes "no database to …" in the message printed when there is no target.
 */
export const resolveTarget = (
  request: TargetRequest,
  purpose = "check"
): Effect.Effect<Target, CliError, Scope.Scope> =>
  Effect.suspend(() => {
    if (Option.isSome(request.url) && request.embedded === true) {
      return Effect.fail(new CliError({ message: "--url and --embedded exclude each other: pass one of them" }))
    }
    if (Option.isSome(request.url)) return validated(request.url.value, "--url")
    // An explicit --embedded wins over the environment, as --url does.
    if (request.embedded === true) return embeddedTarget
    return Option.match(databaseUrlFromEnvironment(), {
      onSome: (url) => validated(url, "DATABASE_URL"),
      onNone: () => Effect.fail(new CliError({ message: noTargetMessage(purpose, request.embedded !== undefined) }))
    })
  })
