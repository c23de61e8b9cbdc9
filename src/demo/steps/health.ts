/**
 * Step 5: the health monitor that ran through steps 1–4 (every 50 ms, changes printed as they
 * happened), what it saw of the load of step 3, and the final report of one more check.
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Health from "../../Health.js"
import { totalRetries, transactionCounts } from "../inspect.js"
import { formatSeconds, Report } from "../report.js"
import { Timeline } from "../timeline.js"
import type { LoadObservation } from "./concurrency.js"

const formatValue = (report: Health.FigureReport) =>
  report.value === null ? "unknown" : `${Math.round(report.value * 100) / 100}${report.unit}`

/** The figures of a check, one line each: value, level, and where the next level starts. */
const figureLines = (check: Health.DatabaseHealthCheck): ReadonlyArray<string> =>
  (Object.keys(check.figures) as Array<Health.HealthFigure>).map((name) => {
    const figure = check.figures[name]
    const label = Health.figureDefinitions[name].label
    const unit = figure.unit
    return `${label.padEnd(58)} ${formatValue(figure).padStart(9)}  ${figure.status.padEnd(9)} ` +
      `(degraded ${figure.thresholds.degraded}${unit}, unhealthy ${figure.thresholds.unhealthy}${unit}, critical ${figure.thresholds.critical}${unit})`
  })

/** The seed's five metrics. */
const metricsLine = (check: Health.DatabaseHealthCheck) => {
  const m = check.metrics
  const show = (v: number | null, unit: string) => (v === null ? "unknown" : `${Math.round(v * 10) / 10}${unit}`)
  return `metrics: connectionPoolUsage ${show(m.connectionPoolUsage, "%")} · avgQueryTime ${show(m.avgQueryTime, " ms")} · ` +
    `cacheHitRatio ${show(m.cacheHitRatio, "%")} · activeConnections ${show(m.activeConnections, "")} · idleConnections ${show(m.idleConnections, "")}`
}

const breachedCount = (check: Health.DatabaseHealthCheck) =>
  Object.values(check.figures).filter((f) => f.status !== "HEALTHY" && f.status !== "UNKNOWN").length

/** Runs step 5 with what the monitor saw during step 3. */
export const healthStep = (load: LoadObservation) =>
  Effect.gen(function*() {
    const report = yield* Report
    const timeline = yield* Timeline
    yield* report.section(5, "The health monitor during the load, and the final report")

    const changes = yield* timeline.changes
    yield* report.info("status changes reported by HealthMonitor (interval 50 ms), as printed when they happened:")
    for (const change of changes) {
      yield* report.info(
        `  ${formatSeconds(change.at).padStart(8)}  ${change.clock}  ${change.check.status.padEnd(9)} during ${change.during}`
      )
    }
    const alternating = changes.every((c, i) => i === 0 || c.from !== c.check.status)
    yield* report.check(
      "the monitor ran throughout and reported its first result, then each change, as it happened",
      changes.length >= 2 && alternating && changes[0]?.from === undefined,
      `${changes.length} callbacks, each a different status from the one before`
    )
    const duringLoad = changes.filter((c) => c.at >= load.startedAt && c.at <= load.endedAt && c.check.status !== "HEALTHY")
    yield* report.check(
      "it saw the pool saturated by step 3 and reported the status change",
      load.peakPoolUsage >= Health.defaultThresholds.degraded.connectionPoolUsage && duringLoad.length > 0,
      `peak pool usage ${Math.round(load.peakPoolUsage)}%, up to ${load.peakWaiting} callers waiting, over ${load.checks} checks · ` +
        `worst status ${load.worstStatus}` +
        (duringLoad[0] ? ` (reported at ${formatSeconds(duringLoad[0].at)})` : "")
    )

    const check = yield* Health.performHealthCheck()
    yield* report.title("")
    yield* report.info(
      `final report: performHealthCheck() right after the load (windowed figures cover the time since the monitor's last check)`
    )
    yield* report.info(`status ${check.status} at ${check.lastChecked}`)
    yield* report.info(`message: ${check.message}`)
    yield* report.info(metricsLine(check))
    for (const line of figureLines(check)) yield* report.info(`  ${line}`)
    yield* report.info(check.recommendations.length === 0 ? "recommendations: none" : "recommendations:")
    for (const recommendation of check.recommendations) yield* report.info(`  - ${recommendation}`)
    for (const unknown of check.unknown) yield* report.info(`  (unknown ${unknown.figure}: ${unknown.reason})`)

    yield* report.check(
      "the final check sees the pool idle again",
      check.pool.inUse === 0 && check.pool.waiting === 0,
      `${check.pool.inUse} of ${check.pool.max} in use, ${check.pool.waiting} waiting`
    )
    yield* report.check(
      "every figure out of range comes with a recommendation",
      check.recommendations.length >= breachedCount(check),
      `${breachedCount(check)} out of range, ${check.recommendations.length} recommendation(s)`
    )
    const gauge = yield* Metric.value(Health.gauges.status)
    yield* report.check(
      "the health gauges carry the final status",
      gauge.value === Health.statusSeverity(check.status),
      `pg_resilience_health_status = ${gauge.value}`
    )

    const totals = yield* transactionCounts
    yield* report.info(
      `Transaction.metrics over the whole run: ${totals.commits} commits · ${totals.rollbacks} rollbacks · ` +
        `${totalRetries(totals)} retries (${Object.entries(totals.retries).filter(([, n]) => n > 0).map(([r, n]) => `${r} ${n}`).join(", ") || "none"}) · ` +
        `${totals.timeouts} timeouts · ${totals.unknownCommitOutcomes} unknown commit outcomes`
    )
  })
