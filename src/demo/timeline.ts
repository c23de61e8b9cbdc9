/**
 * The health monitor's status changes as they happen: printed at once (with their time and the
 * step that was running) and kept for the final report of step 5.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Health from "../Health.js"
import type * as HealthMonitor from "../HealthMonitor.js"
import { color, Report } from "./report.js"

/** One change reported by the monitor's `onStatusChange`. */
export interface StatusChange {
  /** Milliseconds since the demo started. */
  readonly at: number
  readonly clock: string
  /** The section that was running when the change arrived. */
  readonly during: string
  readonly from: Health.DatabaseHealthStatus | undefined
  readonly check: Health.DatabaseHealthCheck
}

/** The changes seen so far, and the callback to hand to `HealthMonitor.layer`. */
export interface TimelineService {
  readonly onStatusChange: HealthMonitor.StatusChangeCallback
  readonly changes: Effect.Effect<ReadonlyArray<StatusChange>>
}

/** The timeline of this run. */
export class Timeline extends Context.Tag("effect-pg-resilience/demo/Timeline")<Timeline, TimelineService>() {}

const statusColor = (status: Health.DatabaseHealthStatus) =>
  status === "HEALTHY" ? color.green(status) : status === "DEGRADED" ? color.yellow(status) : color.red(status)

/** Wall-clock time of day with milliseconds. */
const clockOf = (iso: string) => iso.slice(11, 23)

/** Builds the timeline; it prints through the report. */
export const layer: Layer.Layer<Timeline, never, Report> = Layer.effect(
  Timeline,
  Effect.gen(function*() {
    const report = yield* Report
    const changes: Array<StatusChange> = []
    const record = (check: Health.DatabaseHealthCheck) =>
      Effect.gen(function*() {
        const from = changes[changes.length - 1]?.check.status
        const change: StatusChange = {
          at: yield* report.elapsedMillis,
          clock: clockOf(check.lastChecked),
          during: yield* report.currentSection,
          from,
          check
        }
        changes.push(change)
        const transition = from === undefined ? `first result ${statusColor(check.status)}` : `${from} → ${statusColor(check.status)}`
        yield* report.event(`health ${change.clock} ${transition}: ${check.message.replace(/^[A-Z]+: /, "")}`)
      })
    return {
      onStatusChange: record,
      changes: Effect.sync(() => [...changes])
    }
  })
)
