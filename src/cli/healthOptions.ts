/**
 * Health options shared by `health`, `watch` and `serve`, and the health service they build on a
 * target (the pool the probe needs, and the health layer with the command line's options).
 *
 * @internal
 */
import { Options } from "@effect/cli"
import * as Duration from "effect/Duration"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Database from "../Database.js"
import * as Health from "../Health.js"
import { durationOption, integerOption } from "./duration.js"
import type { Target } from "./target.js"

/** `--window`: how far apart the first check's two samples are (0 judges none of the windowed figures). */
export const windowOption = durationOption("window", {
  description: "the first check judges statement times, cache hits, deadlocks and archive failures over two samples " +
    "this far apart (0 judges none of them)",
  default: "1s",
  min: Duration.zero,
  max: "1 minute"
})

/** `--expected-replicas`: how many replicas a primary must have streaming. */
export const expectedReplicasOption = integerOption("expected-replicas", {
  description: "replicas the primary must have streaming; fewer is UNHEALTHY",
  default: 0,
  min: 0,
  max: 100
})

/**
 * `--pooler-admin-url`: PgBouncer's admin console, for clients waiting in the pooler. `watch` and
 * `serve` take it from `PG_RESILIENCE_POOLER_ADMIN_URL`.
 */
export const poolerAdminUrlOption = Options.redacted("pooler-admin-url").pipe(
  Options.withDescription(
    "PgBouncer's admin console (postgres://user@host:6432/pgbouncer; a user in admin_users or stats_users): " +
      "reports clients waiting in the pooler and its server pools (default: PG_RESILIENCE_POOLER_ADMIN_URL)"
  ),
  Options.optional
)

/** The console URL: the flag, else `PG_RESILIENCE_POOLER_ADMIN_URL` (blank counts as unset). */
export const poolerAdminUrlOf = (flag: Option.Option<Redacted.Redacted<string>>): Redacted.Redacted<string> | undefined =>
  Option.getOrUndefined(flag) ??
    (process.env.PG_RESILIENCE_POOLER_ADMIN_URL?.trim() ? Redacted.make(process.env.PG_RESILIENCE_POOLER_ADMIN_URL.trim()) : undefined)

/** What the health layer of a command takes. */
export interface HealthSettings {
  readonly probeTimeoutMillis: number
  readonly thresholds: Health.HealthThresholdsInput | undefined
  readonly window?: Duration.Duration
  readonly expectedReplicas?: number
  /** PgBouncer's admin console (else `PG_RESILIENCE_POOLER_ADMIN_URL`). */
  readonly poolerAdminUrl?: Redacted.Redacted<string> | undefined
}

/** The pool (2 connections: the command's own) and the health service on a target. */
export const healthLayer = (target: Target, settings: HealthSettings) =>
  Health.layer({
    probeTimeout: settings.probeTimeoutMillis,
    thresholds: settings.thresholds,
    firstCheckWindow: settings.window,
    expectedReplicas: settings.expectedReplicas,
    poolerAdminUrl: settings.poolerAdminUrl ?? poolerAdminUrlOf(Option.none())
  }).pipe(
    Layer.provideMerge(
      Database.layer({
        url: target.url,
        maxConnections: 2,
        connectTimeout: Math.max(1000, settings.probeTimeoutMillis),
        applicationName: "pg-resilience cli"
      })
    )
  )
