/**
 * What a contender is: one way of writing the same transactions (ours, bare @effect/sql-pg, raw pg,
 * a hand-written retry loop, Slonik, Kysely, Drizzle, pgbench), and the bookkeeping of one timed
 * slice of work that every contender reports in the same shape.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as ManagedRuntime from "effect/ManagedRuntime"

/** One transaction to run, with its random arguments drawn by the workload. */
export type Op =
  /** W1: UPDATE one row, SELECT it back (READ COMMITTED). */
  | { readonly kind: "touch"; readonly id: number }
  /** W2: move `amount` between two hot rows, locking them in the (random) order given. */
  | { readonly kind: "transfer"; readonly from: number; readonly to: number; readonly amount: number }
  /** W3: SERIALIZABLE read-modify-write of one hot counter. */
  | { readonly kind: "increment"; readonly counter: number }

/** A timed slice: `workers` concurrent loops, each running `next()` transactions until the time is up. */
export interface SliceSpec {
  /** The kind every `next()` returns (pgbench picks its script by it). */
  readonly kind: Op["kind"]
  readonly workers: number
  readonly durationMs: number
  readonly next: () => Op
}

/** What one slice did, as the application saw it. */
export interface Tally {
  /** Transactions the application was told committed. */
  committed: number
  /** Transactions whose failure reached the application (after the contender's own retries). */
  failed: number
  /** Times a transaction body started (first attempts + retries); -1 when unknown. */
  attempts: number
  /** Retries reported by the contender itself (pgbench); otherwise derived from attempts. */
  retries: number | undefined
  elapsedMs: number
  /** Failures that reached the application, by SQLSTATE (or error tag/name). */
  failuresByCode: Record<string, number>
  /** Expected change per row id from the commits the application saw; undefined when unknown. */
  deltas: Map<number, number> | undefined
  /** Round trips to the server over the slice (node-postgres contenders only). */
  roundTrips: number | undefined
}

/** Options every contender is opened with. */
export interface OpenOptions {
  /** URL of the benchmark database (secret: never print it). */
  readonly url: string
  /** Pool size; the workloads use as many workers as connections. */
  readonly poolSize: number
}

/** A contender opened for one workload (its pool is warm between slices). */
export interface Instance {
  readonly run: (slice: SliceSpec) => Promise<Tally>
  readonly close: () => Promise<void>
}

/** A way of writing the transactions. */
export interface Contender {
  /** Short id used in JSON and charts. */
  readonly name: string
  /** What a reader sees in tables. */
  readonly label: string
  /** Whether it retries deadlocks / serialization failures on its own. */
  readonly retries: boolean
  /** `false` for external processes (pgbench): no round-trip count, whole-second slices. */
  readonly inProcess: boolean
  readonly open: (options: OpenOptions) => Promise<Instance>
}

/** An empty tally. */
export const newTally = (): Tally => ({
  committed: 0,
  failed: 0,
  attempts: 0,
  retries: undefined,
  elapsedMs: 0,
  failuresByCode: {},
  deltas: new Map(),
  roundTrips: undefined
})

/** Books a commit the application saw, with the row changes it implies (for the invariant checks). */
export const recordCommit = (tally: Tally, op: Op): void => {
  tally.committed++
  const deltas = tally.deltas
  if (!deltas) return
  const add = (id: number, d: number) => deltas.set(id, (deltas.get(id) ?? 0) + d)
  if (op.kind === "transfer") {
    add(op.from, -op.amount)
    add(op.to, op.amount)
  } else if (op.kind === "increment") {
    add(op.counter, 1)
  }
}

/** Books a failure that reached the application, by its code. */
export const recordFailure = (tally: Tally, error: unknown): void => {
  tally.failed++
  const code = errorCode(error)
  tally.failuresByCode[code] = (tally.failuresByCode[code] ?? 0) + 1
}

/**
 * The SQLSTATE of any library's error (ours: `sqlState`; pg, Slonik: `code`; @effect/sql: `cause.code`),
 * else its tag or name. Why: failures are compared across libraries by what the server said.
 */
export const errorCode = (error: unknown): string => {
  let current: unknown = error
  for (let depth = 0; depth < 6 && typeof current === "object" && current !== null; depth++) {
    const e = current as { sqlState?: unknown; code?: unknown; cause?: unknown; originalError?: unknown }
    if (typeof e.sqlState === "string") return e.sqlState
    if (typeof e.code === "string" && /^[0-9A-Z]{5}$/.test(e.code)) return e.code
    current = e.cause ?? e.originalError
  }
  if (typeof error === "object" && error !== null) {
    const e = error as { _tag?: unknown; name?: unknown }
    if (typeof e._tag === "string") return e._tag
    if (typeof e.name === "string") return e.name
  }
  return "unknown"
}

/**
 * The worker loops of a Promise-based contender: `workers` async loops that run `exec` until the slice
 * ends. Why shared: the loop is the harness's, only `exec` is the contender's own code.
 */
export const runPromiseWorkers = async (
  slice: SliceSpec,
  exec: (op: Op, onAttempt: () => void) => Promise<unknown>
): Promise<Tally> => {
  const tally = newTally()
  const onAttempt = () => {
    tally.attempts++
  }
  const started = performance.now()
  const until = started + slice.durationMs
  await Promise.all(
    Array.from({ length: slice.workers }, async () => {
      while (performance.now() < until) {
        const op = slice.next()
        try {
          await exec(op, onAttempt)
          recordCommit(tally, op)
        } catch (error) {
          recordFailure(tally, error)
        }
      }
    })
  )
  tally.elapsedMs = performance.now() - started
  return tally
}

/**
 * The worker loops of an Effect contender: `workers` fibers in the contender's own runtime. Why not
 * one `runPromise` per transaction: an Effect application runs its work as fibers, not promises.
 */
export const runEffectWorkers = async <R, ER>(
  runtime: ManagedRuntime.ManagedRuntime<R, ER>,
  slice: SliceSpec,
  exec: (op: Op, onAttempt: () => void) => Effect.Effect<unknown, unknown, R>
): Promise<Tally> => {
  const tally = newTally()
  const onAttempt = () => {
    tally.attempts++
  }
  const started = performance.now()
  const until = started + slice.durationMs
  const worker = Effect.gen(function*() {
    while (performance.now() < until) {
      const op = slice.next()
      const exit = yield* Effect.exit(exec(op, onAttempt))
      if (Exit.isSuccess(exit)) recordCommit(tally, op)
      else recordFailure(tally, Cause.squash(exit.cause))
    }
  })
  await runtime.runPromise(
    Effect.all(Array.from({ length: slice.workers }, () => worker), { concurrency: "unbounded", discard: true })
  )
  tally.elapsedMs = performance.now() - started
  return tally
}
