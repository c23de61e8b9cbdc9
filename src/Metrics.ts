/**
 * Every Effect `Metric` of the process (transaction counters, health gauges, yours) in the
 * Prometheus text exposition format.
 *
 * Why: `pg-resilience serve` exposes `/metrics` without an OpenTelemetry SDK; applications can
 * mount the same text on their own HTTP server.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type * as MetricKey from "effect/MetricKey"
import * as MetricKeyType from "effect/MetricKeyType"
import type * as MetricPair from "effect/MetricPair"
import * as MetricState from "effect/MetricState"
import * as Option from "effect/Option"

const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n")
const escapeHelp = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")
const metricName = (name: string) => name.replace(/[^a-zA-Z0-9_:]/g, "_")
const number = (n: number) => (Number.isNaN(n) ? "NaN" : n === Infinity ? "+Inf" : n === -Infinity ? "-Inf" : String(n))

const labels = (key: MetricKey.MetricKey.Untyped, extra: ReadonlyArray<readonly [string, string]> = []) => {
  const all = [...key.tags.map((t) => [t.key, t.value] as const), ...extra]
  return all.length === 0 ? "" : `{${all.map(([k, v]) => `${metricName(k)}="${escapeLabel(v)}"`).join(",")}}`
}

const typeOf = (pair: MetricPair.MetricPair.Untyped): "counter" | "gauge" | "histogram" | "summary" | "untyped" => {
  const keyType = pair.metricKey.keyType
  if (MetricKeyType.isCounterKey(keyType)) return "counter"
  if (MetricKeyType.isGaugeKey(keyType)) return "gauge"
  if (MetricKeyType.isHistogramKey(keyType)) return "histogram"
  if (MetricKeyType.isSummaryKey(keyType)) return "summary"
  return "untyped"
}

const samples = (pair: MetricPair.MetricPair.Untyped): Array<string> => {
  const name = metricName(pair.metricKey.name)
  const state = pair.metricState
  if (MetricState.isCounterState(state)) return [`${name}${labels(pair.metricKey)} ${number(Number(state.count))}`]
  if (MetricState.isGaugeState(state)) return [`${name}${labels(pair.metricKey)} ${number(Number(state.value))}`]
  if (MetricState.isHistogramState(state)) {
    // Effect keeps cumulative bucket counts, as Prometheus wants them.
    const lines = [...state.buckets].map(([le, count]) =>
      `${name}_bucket${labels(pair.metricKey, [["le", number(le)]])} ${count}`
    )
    if (![...state.buckets].some(([le]) => le === Infinity)) {
      lines.push(`${name}_bucket${labels(pair.metricKey, [["le", "+Inf"]])} ${state.count}`)
    }
    lines.push(`${name}_sum${labels(pair.metricKey)} ${number(state.sum)}`)
    lines.push(`${name}_count${labels(pair.metricKey)} ${state.count}`)
    return lines
  }
  if (MetricState.isSummaryState(state)) {
    const lines = [...state.quantiles].map(([q, value]) =>
      `${name}${labels(pair.metricKey, [["quantile", String(q)]])} ${number(Option.getOrElse(value, () => Number.NaN))}`
    )
    lines.push(`${name}_sum${labels(pair.metricKey)} ${number(state.sum)}`)
    lines.push(`${name}_count${labels(pair.metricKey)} ${state.count}`)
    return lines
  }
  if (MetricState.isFrequencyState(state)) {
    return [...state.occurrences].map(([value, count]) =>
      `${name}${labels(pair.metricKey, [["value", value]])} ${count}`
    )
  }
  return []
}

/**
 * Renders metric pairs as Prometheus text: one HELP and TYPE per name, then its samples.
 *
 * @since 0.1.0
 * @category rendering
 */
export const renderPrometheus = (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>): string => {
  const byName = new Map<string, Array<MetricPair.MetricPair.Untyped>>()
  for (const pair of pairs) {
    const name = metricName(pair.metricKey.name)
    const group = byName.get(name)
    if (group) group.push(pair)
    else byName.set(name, [pair])
  }
  const out: Array<string> = []
  for (const [name, group] of [...byName.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const first = group[0]!
    const help = Option.getOrUndefined(first.metricKey.description)
    if (help) out.push(`# HELP ${name} ${escapeHelp(help)}`)
    out.push(`# TYPE ${name} ${typeOf(first)}`)
    for (const pair of group) out.push(...samples(pair))
  }
  return out.join("\n") + "\n"
}

/**
 * The process's metrics now, as Prometheus text.
 *
 * @since 0.1.0
 * @category rendering
 */
export const prometheusText: Effect.Effect<string> = Effect.map(Metric.snapshot, renderPrometheus)

/**
 * The process's metrics whose (Prometheus) name `keep` accepts, as Prometheus text. Why: an
 * endpoint may leave out metrics that mean nothing there (the command line's own idle pool).
 *
 * @since 0.2.0
 * @category rendering
 */
export const prometheusTextWhere = (keep: (name: string) => boolean): Effect.Effect<string> =>
  Effect.map(Metric.snapshot, (pairs) => renderPrometheus(pairs.filter((pair) => keep(metricName(pair.metricKey.name)))))
