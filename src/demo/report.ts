/**
 * The demo's printed report: sections, one ✓/✗ line per checked claim, figures, and events that
 * arrive while a step runs (health status changes). Every line goes through `scrub`, so a secret
 * registered with `hideSecret` (the connection password) can never be printed.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Errors from "../Errors.js"
import { colourEnabled, colours } from "../internal/ansi.js"

/** One printed claim and whether its check passed. */
export interface CheckResult {
  readonly section: string
  readonly claim: string
  readonly ok: boolean
}

/** What the steps use to print; every method is an effect so the steps stay pure. */
export interface ReportService {
  /** A line at the left margin (title, summary). */
  readonly title: (text: string) => Effect.Effect<void>
  /** Starts section `n` (the test looks for `━━ n · `). */
  readonly section: (n: number | string, title: string) => Effect.Effect<void>
  /** A plain line of figures or explanation, indented under the section. */
  readonly info: (text: string) => Effect.Effect<void>
  /** Prints a claim with ✓ or ✗ and records it; returns `ok` so callers can branch on it. */
  readonly check: (claim: string, ok: boolean, evidence?: string) => Effect.Effect<boolean>
  /** An asynchronous event (printed as it happens, with its time). */
  readonly event: (text: string) => Effect.Effect<void>
  /** Never print this string (e.g. the connection password). */
  readonly hideSecret: (secret: string) => Effect.Effect<void>
  /** Milliseconds since the process started. */
  readonly elapsedMillis: Effect.Effect<number>
  /** Title of the section being printed, for events. */
  readonly currentSection: Effect.Effect<string>
  readonly results: Effect.Effect<ReadonlyArray<CheckResult>>
}

/** The report of this run. */
export class Report extends Context.Tag("effect-pg-resilience/demo/Report")<Report, ReportService>() {}

/** ANSI colours, only on a terminal (and never with NO_COLOR). */
export const color = colours(colourEnabled(process.stdout))

const ruleWidth = 78

/** Seconds since the start, as printed in front of events and in figures. */
export const formatSeconds = (millis: number): string => `${(millis / 1000).toFixed(2)} s`

/** Builds the report, writing to stdout. */
export const make = (write: (line: string) => void = (line) => process.stdout.write(`${line}\n`)): ReportService => {
  const secrets: Array<string> = []
  const results: Array<CheckResult> = []
  let current = "setup"

  const scrub = (text: string) =>
    secrets.reduce((out, secret) => out.split(secret).join("***"), text)
  const print = (line: string) => Effect.sync(() => write(scrub(line)))

  return {
    title: (text) => print(text),
    section: (n, title) =>
      Effect.suspend(() => {
        current = `${n} · ${title}`
        const head = `━━ ${current} `
        return print(`\n${color.bold(head + "━".repeat(Math.max(3, ruleWidth - head.length)))}`)
      }),
    info: (text) => print(`    ${text}`),
    check: (claim, ok, evidence) =>
      Effect.suspend(() => {
        results.push({ section: current, claim, ok })
        const mark = ok ? color.green("✓") : color.red("✗")
        return Effect.as(print(`  ${mark} ${claim}${evidence ? color.dim(` — ${evidence}`) : ""}`), ok)
      }),
    event: (text) => print(`  ${color.cyan("⚑")} ${color.dim(formatSeconds(performance.now()).padStart(8))} ${text}`),
    hideSecret: (secret) =>
      Effect.sync(() => {
        if (secret !== "") {
          secrets.push(secret, encodeURIComponent(secret))
        }
      }),
    elapsedMillis: Effect.sync(() => performance.now()),
    currentSection: Effect.sync(() => current),
    results: Effect.sync(() => [...results])
  }
}

/** The report as a Layer. */
export const layer: Layer.Layer<Report> = Layer.sync(Report, () => make())

/**
 * A classified error as the seed presents it. Never the technical message: it may hold row values.
 */
export const classificationLines = (error: Errors.DatabaseError): ReadonlyArray<string> => [
  `tag ${error._tag}${error._tag === "ConstraintViolation" ? ` (${error.kind})` : ""} · category ${error.category} · ` +
  `recovery action ${error.recoveryAction} · retryable ${error.isRetryable ? "yes" : "no"}`,
  `field ${error.field ?? "—"} · constraint ${error.constraint ?? "—"} · SQLSTATE ${error.sqlState ?? "—"}`,
  `userMessage "${error.userMessage}"`
]
