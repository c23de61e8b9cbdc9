/**
 * Declared transaction metrics are exported from the start: a Prometheus scrape before the first
 * transaction sees every series at zero, not a gap. Checked in a fresh process (this one has run
 * transactions already).
 */
import { describe, expect, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { join } from "node:path"

describe("Transaction metrics", () => {
  it("are registered as soon as the module is loaded", () => {
    const dist = join(import.meta.dirname, "..", "dist", "Transaction.js")
    const script = `
      import * as Effect from "effect/Effect"
      import * as Metric from "effect/Metric"
      await import(${JSON.stringify(dist)})
      const pairs = [...Effect.runSync(Metric.snapshot)]
      const names = pairs.map((pair) => pair.metricKey.name)
      const reasons = pairs
        .filter((pair) => pair.metricKey.name === "pg_resilience_transaction_retries_total")
        .flatMap((pair) => pair.metricKey.tags.filter((tag) => tag.key === "reason").map((tag) => tag.value))
      console.log(JSON.stringify({ names, reasons }))`
    const { names, reasons }: { names: Array<string>; reasons: Array<string> } = JSON.parse(
      execFileSync(process.execPath, ["--input-type=module", "-e", script], { cwd: join(import.meta.dirname, ".."), encoding: "utf8" })
    )
    // The retry series of every reason, at zero, before any retry.
    expect([...reasons].sort()).toEqual(["ConnectionError", "Deadlock", "QueryTimeout", "SerializationFailure"])
    expect(names).toEqual(expect.arrayContaining([
      "pg_resilience_transaction_commits_total",
      "pg_resilience_transaction_rollbacks_total",
      "pg_resilience_transaction_retries_total",
      "pg_resilience_transaction_timeouts_total",
      "pg_resilience_transaction_commit_outcome_unknown_total",
      "pg_resilience_transaction_duration_seconds"
    ]))
  })
})
