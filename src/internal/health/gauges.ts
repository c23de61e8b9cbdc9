/**
 * The health gauges: one per figure in base units (seconds, bytes, ratios 0-1, as Prometheus and
 * OpenTelemetry name them), the status, and the session counts. NaN while unknown.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type { DatabaseHealthCheck } from "./model.js"
import { applicationFigures, figureDefinitions, figureNames, type HealthFigure } from "./figures.js"
import { severity } from "./evaluate.js"

const figureGauges = Object.fromEntries(
  figureNames.map((name) => [name, Metric.gauge(figureDefinitions[name].gauge.name, { description: figureDefinitions[name].gauge.help })])
) as Record<HealthFigure, Metric.Metric.Gauge<number>>

export const gauges = {
  status: Metric.gauge("pg_resilience_health_status", {
    description: "0 HEALTHY, 1 DEGRADED, 1.5 UNKNOWN (a figure that counts could not be assessed), 2 UNHEALTHY, 3 CRITICAL"
  }),
  activeConnections: Metric.gauge("pg_resilience_health_active_connections", {
    description: "Active client sessions on the server (NaN when some are hidden from this role)"
  }),
  idleConnections: Metric.gauge("pg_resilience_health_idle_connections", {
    description: "Idle client sessions on the server (NaN when some are hidden from this role)"
  }),
  databaseSize: Metric.gauge("pg_resilience_health_database_size_bytes", {
    description: "Size of this database at its last measurement (the expensive pass)"
  }),
  ...figureGauges
}

/** Names of the gauges of this process's own pool (left out by the command line). */
export const applicationGaugeNames: ReadonlySet<string> = new Set(
  applicationFigures.map((name) => figureDefinitions[name].gauge.name)
)

const gaugeValue = (name: HealthFigure, value: number | null) =>
  value === null ? Number.NaN : value * figureDefinitions[name].gauge.scale

/** Sets every gauge from one result (unknown as NaN). */
export const recordGauges = (check: DatabaseHealthCheck): Effect.Effect<void> =>
  Effect.suspend(() => {
    recorded = true
    return Effect.all([
      Metric.set(gauges.status, severity[check.status]),
      Metric.set(gauges.activeConnections, check.metrics.activeConnections ?? Number.NaN),
      Metric.set(gauges.idleConnections, check.metrics.idleConnections ?? Number.NaN),
      ...(check.details.databaseSize ? [Metric.set(gauges.databaseSize, check.details.databaseSize.bytes)] : []),
      ...figureNames.map((name) => Metric.set(gauges[name], gaugeValue(name, check.figures[name]?.value ?? null)))
    ], { discard: true })
  })

let recorded = false

/**
 * Declares every gauge (NaN: nothing measured yet), so that an exporter lists them from the start
 * instead of after the first check. Leaves gauges alone once a check has recorded them.
 */
export const declareGauges: Effect.Effect<void> = Effect.suspend(() =>
  recorded
    ? Effect.void
    : Effect.all(Object.values(gauges).map((gauge) => Metric.set(gauge, Number.NaN)), { discard: true })
)
