/**
 * The expensive figures (sequences, tables, the database's size and growth): measured on a cadence
 * of their own, carried between passes, unknown before the first pass or after a failed one. Pure.
 *
 * @internal
 */
import type { HealthFigure } from "./figures.js"
import type { HealthDetails, TableAge, UnknownFigure } from "./model.js"
import type { RawExpensive } from "./rows.js"

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits

/** The latest expensive pass, carried between passes. */
export interface ExpensiveState {
  /** When it ran (ISO), for the details. */
  readonly measuredAt: string
  /** Milliseconds, on the same origin as `Counters.at`. */
  readonly at: number
  readonly result: RawExpensive | { readonly failure: string }
  /** Growth between this pass's size and the one before (null on the first pass). */
  readonly growthBytesPerHour: number | null
  readonly secondsApart: number | null
}

/** The next expensive state after a pass (growth between this size and the previous one). */
export const nextExpensive = (
  previous: ExpensiveState | undefined,
  result: RawExpensive | { readonly failure: string },
  at: number,
  measuredAt: string
): ExpensiveState => {
  const before = previous && "sizeBytes" in previous.result ? { at: previous.at, bytes: previous.result.sizeBytes } : undefined
  if (!("sizeBytes" in result) || before === undefined || at <= before.at) {
    return { measuredAt, at, result, growthBytesPerHour: null, secondsApart: null }
  }
  const hours = (at - before.at) / 3_600_000
  return {
    measuredAt,
    at,
    result,
    growthBytesPerHour: round((result.sizeBytes - before.bytes) / hours, 0),
    secondsApart: round((at - before.at) / 1000, 3)
  }
}

/** A table's wait for vacuum (analyze), for the details: `never` and `since` only when it never had one. */
const tableAge = (t: NonNullable<RawExpensive["vacuum"]>): TableAge => ({
  name: t.name,
  seconds: round(t.seconds),
  ...(t.never ? { never: true, since: t.since ?? "statistics reset" } : {})
})

/** The expensive figures from their latest pass (or unknown before the first, or after a failure). */
export const expensiveFigures = (
  state: ExpensiveState | undefined,
  cadence: string,
  role: string,
  figures: Record<HealthFigure, number | null>,
  unknown: Array<UnknownFigure>,
  partial: Array<HealthFigure>
): Pick<HealthDetails, "sequences" | "tables" | "databaseSize" | "expensive"> => {
  if (state === undefined) return {}
  const result = state.result
  if ("failure" in result) {
    unknown.push({
      figure: "tables and sequences",
      reason: `The per-table and per-sequence pass failed (${result.failure}); it runs again ${cadence}.`,
      remedy: false
    })
    return { expensive: { measuredAt: state.measuredAt, cadence, failure: result.failure } }
  }
  const sequences = result.sequences
  if (sequences.count > 0 && sequences.hidden === sequences.count) {
    figures.sequenceUsedPercent = null
  } else {
    figures.sequenceUsedPercent = sequences.worst?.percent ?? 0
    if (sequences.hidden > 0) partial.push("sequenceUsedPercent")
  }
  if (sequences.hidden > 0) {
    unknown.push({
      figure: "sequenceUsedPercent",
      reason: `${sequences.hidden} of ${sequences.count} sequence(s) are hidden from role ${role} (it needs SELECT or USAGE on them; ` +
        `pg_monitor does not give it): GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO ${role}; (and the same for other schemas).`,
      remedy: true
    })
  }
  figures.deadTuplePercent = result.deadTuples?.percent ?? 0
  // A table past its threshold that was never vacuumed (analyzed) counts from the statistics' reset
  // or the server's start, whichever is later: not 0, as if it were fresh.
  figures.vacuumOverdueSeconds = result.vacuum ? round(result.vacuum.seconds) : 0
  figures.analyzeOverdueSeconds = result.analyze ? round(result.analyze.seconds) : 0
  figures.tableXidAgePercent = result.xid?.percent ?? null
  figures.databaseGrowthBytesPerHour = state.growthBytesPerHour
  if (state.growthBytesPerHour === null) {
    unknown.push({
      figure: "databaseGrowthBytesPerHour",
      reason: `The database's growth needs two measurements of its size (${cadence}); this is the first.`,
      remedy: false
    })
  }
  return {
    sequences: { count: sequences.count, hidden: sequences.hidden, ...(sequences.worst ? { worst: sequences.worst } : {}) },
    tables: {
      count: result.tables,
      ...(result.deadTuples ? { deadTuples: result.deadTuples } : {}),
      ...(result.vacuum ? { vacuum: tableAge(result.vacuum) } : {}),
      neverVacuumed: result.neverVacuumed,
      ...(result.analyze ? { analyze: tableAge(result.analyze) } : {}),
      neverAnalyzed: result.neverAnalyzed,
      ...(result.xid ? { xid: result.xid } : {})
    },
    databaseSize: {
      bytes: result.sizeBytes,
      growthBytesPerHour: state.growthBytesPerHour,
      ...(state.secondsApart !== null ? { secondsApart: state.secondsApart } : {})
    },
    expensive: { measuredAt: state.measuredAt, cadence }
  }
}
