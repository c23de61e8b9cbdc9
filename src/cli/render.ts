/**
 * Human-readable output of a health check: a coloured table in a terminal, plain text elsewhere.
 * The command line leaves out what describes its own idle pool (the application pool figures).
 *
 * @internal
 */
import * as Health from "../Health.js"

import { type Colours, colours } from "../internal/ansi.js"

export { type Colours, colours }

/** Colours a status word by its severity. */
export const paintStatus = (c: Colours, status: string) =>
  status === "HEALTHY"
    ? c.green(status)
    : status === "DEGRADED"
    ? c.yellow(status)
    : status === "UNHEALTHY"
    ? c.magenta(status)
    : status === "CRITICAL"
    ? c.red(status)
    : status === "UNKNOWN"
    ? c.cyan(status)
    : c.dim(status)

/** The figures the command line shows: all but those of its own (idle) pool. */
export const shownFigures = (check: Health.DatabaseHealthCheck): Array<Health.HealthFigure> =>
  (Object.keys(check.figures) as Array<Health.HealthFigure>).filter(
    (name) => name in Health.figureDefinitions && !Health.figureDefinitions[name].application
  )

/**
 * The check as the command line prints it in JSON (`health --json`, `serve`'s `/health`): without
 * its own pool (`pool`, `metrics.connectionPoolUsage`, the pool figures), which means nothing there.
 */
export const cliJson = (check: Health.DatabaseHealthCheck) => {
  const { connectionPoolUsage: _usage, ...metrics } = check.metrics
  const { pool: _pool, ...rest } = check
  return {
    ...rest,
    metrics,
    figures: Object.fromEntries(shownFigures(check).map((name) => [name, check.figures[name]]))
  }
}

const pad = (text: string, width: number) => text + " ".repeat(Math.max(0, width - visibleLength(text)))
// eslint-disable-next-line no-control-regex
const visibleLength = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, "").length

const poolerFigures: ReadonlySet<string> = new Set(["poolerClientsWaiting", "poolerMaxWaitSeconds"])
const noPooler = "no pooler seen"

const formatValue = (name: Health.HealthFigure, figure: Health.FigureReport, check: Health.DatabaseHealthCheck) =>
  figure.value === null
    ? poolerFigures.has(name) && check.details.pooler?.detected !== true ? noPooler : "unknown"
    : `${figure.partial ? "≥" : ""}${Health.formatFigure(name, figure.value)}`

/** The whole report: header, status, window, every figure against its thresholds, recommendations, unknowns. */
export const renderCheck = (check: Health.DatabaseHealthCheck, target: string, c: Colours): string => {
  const lines: Array<string> = []
  const version = check.details.serverVersion ? `PostgreSQL ${check.details.serverVersion}` : "PostgreSQL"
  lines.push(c.dim(`${version} · ${target} · checked ${check.lastChecked}`))
  lines.push(`${c.bold("Status:")} ${paintStatus(c, check.status)}  ${check.message}`)
  if (check.details.window) {
    const expensive = check.details.expensive
    lines.push(c.dim(
      `Window: ${check.details.window.description}` +
        (expensive ? `; tables, sequences and size measured ${expensive.measuredAt} (${expensive.cadence})` : "")
    ))
  }
  lines.push("")
  const header = ["figure", "value", "degraded", "unhealthy", "critical", "status"]
  const rows = shownFigures(check).map((name) => {
    const figure = check.figures[name]
    const value = formatValue(name, figure, check)
    return [
      Health.figureDefinitions[name].label,
      value,
      Health.formatFigure(name, figure.thresholds.degraded),
      Health.formatFigure(name, figure.thresholds.unhealthy),
      Health.formatFigure(name, figure.thresholds.critical),
      value === noPooler ? c.dim("n/a") : paintStatus(c, figure.status)
    ]
  })
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => visibleLength(r[i]!))) + 2)
  lines.push(c.bold(header.map((h, i) => pad(h, widths[i]!)).join("")))
  for (const row of rows) lines.push(row.map((cell, i) => pad(cell, widths[i]!)).join(""))
  if (check.recommendations.length > 0) {
    lines.push("", c.bold("Recommendations:"))
    for (const r of check.recommendations) lines.push(`  - ${r}`)
  }
  const notes = check.unknown.filter((u) => !u.remedy)
  if (notes.length > 0) {
    lines.push("", c.bold("Not measured:"))
    for (const u of notes) lines.push(c.dim(`  - ${u.reason}`))
  }
  return lines.join("\n")
}

/** One line per check, for logs and pipes. */
export const renderLine = (check: Health.DatabaseHealthCheck): string => `${check.lastChecked} ${check.status} ${check.message}`
