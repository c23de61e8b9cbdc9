/**
 * The measuring machinery shared by every workload: alternation of contenders over rounds,
 * statistics (median / min / max, percentiles), per-round ratios, a round-trip counter on
 * node-postgres, and memory helpers.
 *
 * Why ratios per round: on a shared 2-core machine absolute figures drift by tens of percent from one
 * minute to the next; two contenders measured back to back in the same round see the same drift.
 */
import { cpus, totalmem } from "node:os"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import Pg from "pg"

// ---------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------

/** Median, minimum and maximum of a sample. */
export interface Spread {
  readonly median: number
  readonly min: number
  readonly max: number
  readonly n: number
}

/** Summarises a sample as median/min/max (NaN when empty) — the figures every table reports. */
export const spread = (values: ReadonlyArray<number>): Spread => {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  if (sorted.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 }
  return { median: percentile(sorted, 50), min: sorted[0]!, max: sorted[sorted.length - 1]!, n: sorted.length }
}

/** Percentile of an ascending sample by linear interpolation — for latency p50/p99. */
export const percentile = (sorted: ReadonlyArray<number>, p: number): number => {
  if (sorted.length === 0) return Number.NaN
  const rank = (p / 100) * (sorted.length - 1)
  const low = Math.floor(rank)
  const high = Math.ceil(rank)
  const a = sorted[low]!
  const b = sorted[high]!
  return a + (b - a) * (rank - low)
}

/** Ratio `a[i] / b[i]` for each round where both were measured — drift cancels within a round. */
export const perRoundRatios = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): Array<number> => {
  const ratios: Array<number> = []
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]!
    const y = b[i]!
    if (Number.isFinite(x) && Number.isFinite(y) && y > 0) ratios.push(x / y)
  }
  return ratios
}

// ---------------------------------------------------------------------------
// Alternation
// ---------------------------------------------------------------------------

/** `items` rotated left by `k`: round r starts with a different contender, so no one always goes first. */
export const rotate = <A>(items: ReadonlyArray<A>, k: number): Array<A> => {
  if (items.length === 0) return []
  const s = ((k % items.length) + items.length) % items.length
  return [...items.slice(s), ...items.slice(0, s)]
}

/**
 * Runs every contender once per round, in alternation (A B C, B C A, ...), and returns each one's
 * measurements in round order — the only order in which same-round ratios make sense.
 */
export const alternate = async <C extends { readonly name: string }, M>(
  contenders: ReadonlyArray<C>,
  rounds: number,
  measure: (contender: C, round: number) => Promise<M>
): Promise<Map<string, Array<M>>> => {
  const results = new Map<string, Array<M>>(contenders.map((c) => [c.name, []]))
  for (let round = 0; round < rounds; round++) {
    for (const contender of rotate(contenders, round)) {
      results.get(contender.name)!.push(await measure(contender, round))
    }
  }
  return results
}

/** Resolves after `ms` — pauses between phases let the server settle (checkpoints, autovacuum). */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

// ---------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------

let roundTrips = 0
let installed = false

/**
 * Counts every `pg.Client#query` call of this process from now on. Why there: every contender but
 * pgbench drives node-postgres, and one `query` call is one round trip (a simple query, or
 * Parse/Bind/Execute/Sync in one write). Only one contender runs at a time, so a difference of the
 * counter over a slice belongs to that contender.
 */
export const installRoundTripCounter = (): void => {
  if (installed) return
  installed = true
  const proto = Pg.Client.prototype as unknown as { query: (...args: Array<unknown>) => unknown }
  const original = proto.query
  proto.query = function(this: unknown, ...args: Array<unknown>) {
    roundTrips++
    return original.apply(this, args)
  }
}

/** The round trips counted so far (see `installRoundTripCounter`). */
export const roundTripCount = (): number => roundTrips

// ---------------------------------------------------------------------------
// Memory and machine
// ---------------------------------------------------------------------------

let gcFunction: (() => void) | undefined

/** A full GC, available without `--expose-gc` on the command line (npm's script runs plain `tsx`). */
export const collectGarbage = (): void => {
  if (!gcFunction) {
    setFlagsFromString("--expose-gc")
    gcFunction = runInNewContext("gc") as () => void
  }
  gcFunction()
  gcFunction()
}

/** Megabytes, one decimal — memory figures in reports. */
export const megabytes = (bytes: number): number => Math.round((bytes / (1024 * 1024)) * 10) / 10

/** One line that says what the figures were measured on (they only compare within one machine). */
export const hardwareLine = (): string => {
  const list = cpus()
  const model = list[0]?.model.trim().replace(/\s+/g, " ") ?? "unknown CPU"
  return `${list.length} x ${model}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}, ${process.platform}/${process.arch}`
}

/** Rounds for display and JSON: 3 significant digits are all a noisy machine supports. */
export const round3 = (n: number): number => (Number.isFinite(n) ? Number(n.toPrecision(3)) : n)
