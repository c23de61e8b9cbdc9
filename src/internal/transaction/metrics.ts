/**
 * Transaction metrics (Prometheus / OpenTelemetry names).
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import { databaseErrorTags, databaseErrorTraits } from "../../Errors.js"

export const metrics = {
  commits: Metric.counter("pg_resilience_transaction_commits_total", {
    description: "Transactions committed",
    incremental: true
  }),
  rollbacks: Metric.counter("pg_resilience_transaction_rollbacks_total", {
    description: "Transaction attempts rolled back (failures, timeouts and interruptions)",
    incremental: true
  }),
  retries: Metric.counter("pg_resilience_transaction_retries_total", {
    description: "Transaction attempts retried, by the reason of the failure (tag reason)",
    incremental: true
  }),
  timeouts: Metric.counter("pg_resilience_transaction_timeouts_total", {
    description: "Transactions that ran past their deadline",
    incremental: true
  }),
  unknownCommitOutcomes: Metric.counter("pg_resilience_transaction_commit_outcome_unknown_total", {
    description: "Connections lost while COMMIT was in flight",
    incremental: true
  }),
  duration: Metric.histogram(
    "pg_resilience_transaction_duration_seconds",
    MetricBoundaries.exponential({ start: 0.001, factor: 2, count: 16 }),
    "Duration of whole transaction calls, retries included"
  ).pipe(Metric.mapInput((duration: Duration.Duration) => Duration.toSeconds(duration)))
}

/** One counter per retry reason, made once. */
const retriesByReason = new Map<string, Metric.Metric.Counter<number>>()

export const retriesFor = (reason: string): Metric.Metric.Counter<number> => {
  let metric = retriesByReason.get(reason)
  if (metric === undefined) {
    metric = Metric.tagged(metrics.retries, "reason", reason)
    retriesByReason.set(reason, metric)
  }
  return metric
}

/** Every reason a retry can have: the retryable members but a timeout (the deadline is never retried). */
export const retryReasons: ReadonlyArray<string> = databaseErrorTags.filter((tag) =>
  databaseErrorTraits[tag].isRetryable && tag !== "TransactionTimeout"
)

// Declared metrics are exported from the start (a scrape before the first transaction sees them at
// zero), the retry series of every reason included.
for (const metric of Object.values(metrics)) metric.unsafeValue([])
for (const reason of retryReasons) retriesFor(reason).unsafeUpdate(0, [])
