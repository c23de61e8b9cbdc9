/**
 * The shape shared by W1, W2 and W3: open every contender, warm each up, run them in alternation
 * for several rounds of timed slices, check the data invariant after every slice, and reduce the
 * slices to throughput, failures, retries, round trips and same-round ratios against ours.
 */
import type { Contender, Instance, Op, Tally } from "../contenders/types.js"
import { clientCpuSeconds, serverBackendTicks, serverCpuBetween } from "../cpu.js"
import { alternate, perRoundRatios, roundTripCount, type Spread, spread } from "../harness.js"

/** How long and how often. */
export interface TimingPlan {
  readonly rounds: number
  readonly sliceMs: number
  readonly warmupMs: number
}

/** A transactional workload. */
export interface TransactionalWorkload {
  readonly id: string
  readonly title: string
  readonly kind: Op["kind"]
  readonly workers: number
  readonly next: () => Op
  /** Current values of the rows the invariant is about (id -> value); omitted when there is none. */
  readonly snapshot?: () => Promise<Map<number, number>>
}

/** One slice of one contender, reduced. */
export interface SliceResult {
  readonly round: number
  readonly committed: number
  readonly failed: number
  readonly retries: number | null
  readonly perSecond: number
  readonly roundTrips: number | null
  readonly attempts: number | null
  readonly invariantHeld: boolean | null
  readonly invariantNote?: string
  readonly failuresByCode: Record<string, number>
  /** CPU of this process per committed transaction, µs (null for external contenders). */
  readonly clientCpuMicros: number | null
  /** CPU of the server backends of the scratch database per committed transaction, µs (null when not local or pgbench). */
  readonly serverCpuMicros: number | null
}

/** Everything one contender did in a workload. */
export interface ContenderResult {
  readonly name: string
  readonly label: string
  readonly retries: boolean
  /** Committed transactions per second over the rounds. */
  readonly throughput: Spread
  readonly committed: number
  readonly failed: number
  /** Retries summed over the rounds (null when the contender cannot tell). */
  readonly retried: number | null
  readonly failuresByCode: Record<string, number>
  /** Round trips per committed transaction (W1) or per attempt (W2, W3); null for pgbench. */
  readonly roundTripsPerTransaction: number | null
  readonly invariant: { readonly held: number; readonly checked: number; readonly notes: ReadonlyArray<string> }
  /** CPU µs per committed transaction of this process (node) and of the server backends. */
  readonly clientCpuMicros: Spread
  readonly serverCpuMicros: Spread
  /** ours / this contender, per round (absent for ours itself). */
  readonly ratioOursToThis?: Spread
  readonly slices: ReadonlyArray<SliceResult>
}

/** A workload's results. */
export interface TransactionalResult {
  readonly id: string
  readonly title: string
  readonly workers: number
  readonly plan: TimingPlan
  readonly contenders: ReadonlyArray<ContenderResult>
}

const checkInvariant = (
  kind: Op["kind"],
  before: Map<number, number>,
  after: Map<number, number>,
  tally: Tally
): { held: boolean; note?: string } => {
  let sumBefore = 0
  let sumAfter = 0
  for (const v of before.values()) sumBefore += v
  for (const v of after.values()) sumAfter += v
  if (kind === "transfer" && sumAfter !== sumBefore) {
    return { held: false, note: `total balance changed by ${sumAfter - sumBefore}` }
  }
  if (kind === "increment" && sumAfter - sumBefore !== tally.committed) {
    return { held: false, note: `counters rose by ${sumAfter - sumBefore} for ${tally.committed} reported commits` }
  }
  if (tally.deltas) {
    for (const [id, value] of after) {
      const expected = (before.get(id) ?? 0) + (tally.deltas.get(id) ?? 0)
      if (value !== expected) {
        return { held: false, note: `row ${id} is ${value}, the reported commits imply ${expected}` }
      }
    }
  }
  return { held: true }
}

const reduceSlice = (
  round: number,
  tally: Tally,
  invariant: { held: boolean; note?: string } | undefined,
  cpu: { readonly client: number | null; readonly server: number | null }
): SliceResult => {
  const perCommit = (seconds: number | null) => (seconds === null || tally.committed === 0 ? null : (seconds * 1e6) / tally.committed)
  const retries = tally.retries ?? (tally.attempts >= 0 ? Math.max(0, tally.attempts - tally.committed - tally.failed) : null)
  return {
    round,
    committed: tally.committed,
    failed: tally.failed,
    retries,
    perSecond: tally.committed / (tally.elapsedMs / 1000),
    roundTrips: tally.roundTrips ?? null,
    attempts: tally.attempts >= 0 ? tally.attempts : null,
    invariantHeld: invariant ? invariant.held : null,
    ...(invariant?.note ? { invariantNote: invariant.note } : {}),
    failuresByCode: tally.failuresByCode,
    clientCpuMicros: perCommit(cpu.client),
    serverCpuMicros: perCommit(cpu.server)
  }
}

/**
 * Runs one transactional workload over the contenders. Why one function for three workloads: the
 * same alternation, warm-up and invariant discipline must hold for each, or the ratios mislead.
 */
export const runTransactional = async (
  workload: TransactionalWorkload,
  contenders: ReadonlyArray<Contender>,
  plan: TimingPlan,
  options: {
    readonly url: string
    /** The scratch database, to find its server backends' CPU time (local servers only). */
    readonly databaseName: string
    readonly log: (line: string) => void
  }
): Promise<TransactionalResult> => {
  const instances = new Map<string, Instance>()
  try {
    for (const contender of contenders) {
      instances.set(contender.name, await contender.open({ url: options.url, poolSize: workload.workers }))
    }
    const slice = (durationMs: number) => ({ kind: workload.kind, workers: workload.workers, durationMs, next: workload.next })
    for (const contender of contenders) {
      if (contender.inProcess && plan.warmupMs > 0) await instances.get(contender.name)!.run(slice(plan.warmupMs))
    }
    const measured = await alternate(contenders, plan.rounds, async (contender, round) => {
      const before = workload.snapshot ? await workload.snapshot() : undefined
      const trips = roundTripCount()
      const client0 = clientCpuSeconds()
      const server0 = serverBackendTicks(options.databaseName)
      const tally = await instances.get(contender.name)!.run(slice(plan.sliceMs))
      const client1 = clientCpuSeconds()
      const server1 = serverBackendTicks(options.databaseName)
      if (contender.inProcess) tally.roundTrips = roundTripCount() - trips
      const after = workload.snapshot ? await workload.snapshot() : undefined
      const invariant = before && after ? checkInvariant(workload.kind, before, after, tally) : undefined
      const result = reduceSlice(round, tally, invariant, {
        client: contender.inProcess ? client1 - client0 : null,
        // pgbench's backends end with it, before the second sample: not measurable that way.
        server: contender.inProcess ? serverCpuBetween(server0, server1) : null
      })
      options.log(
        `${workload.id} round ${round + 1}/${plan.rounds} ${contender.name}: ${result.perSecond.toFixed(1)} tx/s` +
          (result.failed > 0 ? `, ${result.failed} failed` : "") +
          (result.retries ? `, ${result.retries} retries` : "") +
          (invariant && !invariant.held ? `, INVARIANT BROKEN (${invariant.note})` : "")
      )
      return result
    })
    const oursRates = (measured.get("ours") ?? []).map((s) => s.perSecond)
    return {
      id: workload.id,
      title: workload.title,
      workers: workload.workers,
      plan,
      contenders: contenders.map((contender) => {
        const slices = measured.get(contender.name) ?? []
        const sum = (f: (s: SliceResult) => number | null) =>
          slices.some((s) => f(s) === null) ? null : slices.reduce((acc, s) => acc + (f(s) ?? 0), 0)
        const trips = sum((s) => s.roundTrips)
        const per = workload.kind === "touch" ? sum((s) => s.committed) : sum((s) => s.attempts)
        const failuresByCode: Record<string, number> = {}
        for (const s of slices) {
          for (const [code, n] of Object.entries(s.failuresByCode)) failuresByCode[code] = (failuresByCode[code] ?? 0) + n
        }
        const checked = slices.filter((s) => s.invariantHeld !== null)
        return {
          name: contender.name,
          label: contender.label,
          retries: contender.retries,
          throughput: spread(slices.map((s) => s.perSecond)),
          clientCpuMicros: spread(slices.flatMap((s) => (s.clientCpuMicros === null ? [] : [s.clientCpuMicros]))),
          serverCpuMicros: spread(slices.flatMap((s) => (s.serverCpuMicros === null ? [] : [s.serverCpuMicros]))),
          committed: sum((s) => s.committed) ?? 0,
          failed: sum((s) => s.failed) ?? 0,
          retried: sum((s) => s.retries),
          failuresByCode,
          roundTripsPerTransaction: trips !== null && per ? trips / per : null,
          invariant: {
            held: checked.filter((s) => s.invariantHeld).length,
            checked: checked.length,
            notes: checked.flatMap((s) => (s.invariantNote ? [s.invariantNote] : []))
          },
          ...(contender.name === "ours"
            ? {}
            : { ratioOursToThis: spread(perRoundRatios(oursRates, slices.map((s) => s.perSecond))) }),
          slices
        }
      })
    }
  } finally {
    for (const instance of instances.values()) await instance.close().catch(() => {})
  }
}
