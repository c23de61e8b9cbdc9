/**
 * Human-readable output of a health check: a coloured table in a terminal, plain text elsewhere.
 *
 * @internal
 */
import * as Health from "../Health.js"

/** ANSI colours, only when the output is a terminal and NO_COLOR is not set. */
export const colours = (enabled: boolean) => {
  const wrap = (code: string) => (text: string) => (enabled ? `\x1b[${code}m${text}\x1b[0m` : text)
  return { red: wrap("31"), yellow: wrap("33"), green: wrap("32"), magenta: wrap("35"), dim: wrap("2"), bold: wrap("1") }
}

export type Colours = ReturnType<typeof colours>

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
    : c.dim(status)

const pad = (text: string, width: number) => text + " ".repeat(Math.max(0, width - visibleLength(text)))
// eslint-disable-next-line no-control-regex
const visibleLength = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, "").length

const formatValue = (value: number | null, unit: string) =>
  value === null ? "unknown" : `${Math.round(value * 100) / 100}${unit}`

/** The whole report: header, status, every figure against its thresholds, recommendations, unknowns. */
export const renderCheck = (check: Health.DatabaseHealthCheck, target: string, c: Colours): string => {
  const lines: Array<string> = []
  const version = check.details.serverVersion ? `PostgreSQL ${check.details.serverVersion}` : "PostgreSQL"
  lines.push(c.dim(`${version} · ${target} · checked ${check.lastChecked}`))
  lines.push(`${c.bold("Status:")} ${paintStatus(c, check.status)}  ${check.message}`)
  lines.push("")
  const header = ["figure", "value", "degraded", "unhealthy", "critical", "status"]
  const rows = (Object.keys(check.figures) as Array<Health.HealthFigure>).map((name) => {
    const figure = check.figures[name]
    const unit = figure.unit
    return [
      Health.figureDefinitions[name].label,
      formatValue(figure.value, unit),
      `${figure.thresholds.degraded}${unit}`,
      `${figure.thresholds.unhealthy}${unit}`,
      `${figure.thresholds.critical}${unit}`,
      paintStatus(c, figure.status)
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
