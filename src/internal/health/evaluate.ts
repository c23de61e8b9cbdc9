/**
 * Judging a snapshot: each figure against its ladder, the verdict, the message and the
 * recommendations. Pure, so that every boundary is testable without a database.
 *
 * The verdict is the worst of the known levels and of the unknowns that count (per figure,
 * `whenUnknown`). UNKNOWN ranks between DEGRADED and UNHEALTHY, as monitoring systems rank it
 * (Icinga's "worst state": critical, unknown, warning, ok): a known emergency outranks "could not
 * assess", which outranks a known warning.
 *
 * @internal
 */
import type { DatabaseHealthCheck, DatabaseHealthStatus, FigureReport, HealthSnapshot } from "./model.js"
import { figureDefinitions, figureNames, formatFigure, type HealthFigure } from "./figures.js"
import { recommendationFor } from "./recommend.js"
import { defaultThresholds, type HealthThresholds, whenUnknownOf } from "./thresholds.js"

/** Orders statuses, worst last. */
export const severity: Readonly<Record<DatabaseHealthStatus, number>> = {
  HEALTHY: 0,
  DEGRADED: 1,
  UNKNOWN: 1.5,
  UNHEALTHY: 2,
  CRITICAL: 3
}

type Level = "HEALTHY" | "DEGRADED" | "UNHEALTHY" | "CRITICAL"

/** The level of a known value on its ladder. */
export const levelOf = (figure: HealthFigure, value: number | null, t: HealthThresholds): Level | "UNKNOWN" => {
  if (value === null || !Number.isFinite(value)) return "UNKNOWN"
  const worse = figureDefinitions[figure].worse === "higher"
    ? (limit: number) => value >= limit
    : (limit: number) => value < limit
  if (worse(t.critical[figure])) return "CRITICAL"
  if (worse(t.unhealthy[figure])) return "UNHEALTHY"
  if (worse(t.degraded[figure])) return "DEGRADED"
  return "HEALTHY"
}

const worst = (statuses: ReadonlyArray<DatabaseHealthStatus>): DatabaseHealthStatus =>
  statuses.reduce<DatabaseHealthStatus>((w, s) => (severity[s] > severity[w] ? s : w), "HEALTHY")

/** Judges a snapshot. */
export const evaluateHealth = (
  snapshot: HealthSnapshot,
  thresholds: HealthThresholds = defaultThresholds,
  checkedAt: Date = new Date()
): DatabaseHealthCheck => {
  const partial = new Set(snapshot.partial ?? [])
  const figures = Object.fromEntries(
    figureNames.map((name) => {
      const value = snapshot.figures[name] ?? null
      const level = levelOf(name, value, thresholds)
      // A lower bound (some of what it covers is hidden) proves a breach, never health.
      const status = partial.has(name) && level === "HEALTHY" ? "UNKNOWN" : level
      return [name, {
        value,
        unit: figureDefinitions[name].unit,
        status,
        thresholds: {
          degraded: thresholds.degraded[name],
          unhealthy: thresholds.unhealthy[name],
          critical: thresholds.critical[name]
        },
        ...(partial.has(name) ? { partial: true } : {})
      } satisfies FigureReport]
    })
  ) as Record<HealthFigure, FigureReport>

  const breached = figureNames
    .filter((name) => figures[name].status !== "HEALTHY" && figures[name].status !== "UNKNOWN")
    .sort((a, b) => severity[figures[b].status] - severity[figures[a].status])
  const unassessed = figureNames
    .filter((name) => figures[name].status === "UNKNOWN")
    .map((name) => ({ name, counts: whenUnknownOf(thresholds, name) }))
    .filter((u) => u.counts !== "ignore")

  let status = worst([
    ...breached.map((name) => figures[name].status),
    ...unassessed.map((u) => u.counts as DatabaseHealthStatus)
  ])
  const recommendations = breached.map((name) => recommendationFor(name, figures[name].value!, snapshot))
  for (const { reason, remedy } of snapshot.unknown) {
    if (remedy && !recommendations.includes(reason)) recommendations.push(reason)
  }

  const describe = (name: HealthFigure) => {
    const f = figures[name]
    const limit = f.thresholds[f.status.toLowerCase() as "degraded" | "unhealthy" | "critical"]
    return `${figureDefinitions[name].label} ${formatFigure(name, f.value!)} (${f.status.toLowerCase()} at ${formatFigure(name, limit)})`
  }
  const notAssessed = unassessed.length === 0
    ? ""
    : `could not assess ${unassessed.map((u) => figureDefinitions[u.name].label).join(", ")}`

  let message: string
  if (!snapshot.reachable) {
    status = "CRITICAL"
    message = `CRITICAL: the database could not be checked: ${snapshot.failure ?? "no answer"}`
    recommendations.unshift(
      "Check that the server runs and accepts connections from this host (address, port, firewall, max_connections), then the credentials."
    )
  } else if (breached.length === 0 && unassessed.length === 0) {
    message = "HEALTHY: every figure is within its thresholds"
  } else {
    const shown = breached.slice(0, 3).map(describe)
    const known = shown.length > 0 ? `${shown.join("; ")}${breached.length > 3 ? ` and ${breached.length - 3} more` : ""}` : ""
    const parts = (status === "UNKNOWN" ? [notAssessed, known] : [known, notAssessed]).filter((p) => p !== "")
    message = `${status}: ${parts.join("; ")}`
  }
  if (snapshot.reachable && snapshot.unknown.length > 0) {
    message += ` (unknown: ${[...new Set(snapshot.unknown.map((u) => u.figure))].join(", ")})`
  }
  return {
    status,
    message,
    metrics: {
      connectionPoolUsage: snapshot.figures.connectionPoolUsage ?? 0,
      avgQueryTime: snapshot.figures.avgQueryTime ?? null,
      cacheHitRatio: snapshot.figures.cacheHitRatio ?? null,
      activeConnections: snapshot.activeConnections,
      idleConnections: snapshot.idleConnections
    },
    recommendations,
    lastChecked: checkedAt.toISOString(),
    figures,
    pool: snapshot.pool,
    details: snapshot.details,
    unknown: snapshot.unknown
  }
}
