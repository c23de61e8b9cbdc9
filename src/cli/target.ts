/**
 * Which database a command talks to: `--url`, else `DATABASE_URL`, else an embedded PostgreSQL 18
 * started for the command and removed afterwards.
 *
 * @internal
 */
import { Options } from "@effect/cli"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Database from "../Database.js"
import * as EmbeddedPostgres from "../EmbeddedPostgres.js"
import * as Health from "../Health.js"
import { redactUrl } from "../internal/redact.js"

/** `--url`: kept Redacted from the command line on. */
export const urlOption = Options.redacted("url").pipe(
  Options.withDescription("postgres:// URL of the database (default: DATABASE_URL, else an embedded PostgreSQL 18)"),
  Options.optional
)

/** `--probe-timeout`: the hard limit of one health probe. */
export const probeTimeoutOption = Options.integer("probe-timeout").pipe(
  Options.withDescription("milliseconds one health probe may take before the result is CRITICAL"),
  Options.withDefault(5000)
)

/** The URL to use and how to name it in output (password hidden). */
export interface Target {
  readonly url: Redacted.Redacted<string>
  readonly label: string
}

/** Resolves the target in the current scope (an embedded server lives as long as the scope). */
export const resolveTarget = (url: Option.Option<Redacted.Redacted<string>>) =>
  Option.match(url, {
    onSome: (url) => Effect.succeed<Target>({ url, label: redactUrl(Redacted.value(url)) }),
    onNone: () =>
      Effect.map(EmbeddedPostgres.resolveDatabaseUrl(), (resolved): Target => ({
        url: resolved.url,
        label: resolved.embedded ? "embedded PostgreSQL 18 (temporary)" : redactUrl(Redacted.value(resolved.url))
      }))
  })

/** The pool and the health service on a target. */
export const healthLayer = (target: Target, probeTimeoutMillis: number, thresholds?: Health.HealthThresholdsInput) =>
  Health.DatabaseHealth.layer({
    probeTimeout: probeTimeoutMillis,
    ...(thresholds ? { thresholds } : {})
  }).pipe(
    Layer.provideMerge(
      Database.layer({
        url: target.url,
        maxConnections: 2,
        connectTimeout: Math.max(1000, probeTimeoutMillis),
        applicationName: "pg-resilience cli"
      })
    )
  )
