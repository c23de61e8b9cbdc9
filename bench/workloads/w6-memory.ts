/**
 * W6, memory: resident set growth of the process over N of our W1 transactions once warm (after a
 * warm-up and a full GC), so that a leak per transaction — a listener, a fiber, a span, a metric
 * label — shows as megabytes. Heap growth is reported beside it (RSS also holds freed-but-kept pages).
 */
import { ours } from "../contenders/ours.js"
import { collectGarbage, megabytes } from "../harness.js"
import { W1_ROWS } from "../schema.js"
import type { BenchServer } from "../server.js"

/** W6 results. */
export interface MemoryResult {
  readonly transactions: number
  readonly warmupTransactions: number
  readonly rssStartMb: number
  readonly rssEndMb: number
  readonly rssGrowthMb: number
  /** Highest RSS seen between slices. */
  readonly rssPeakMb: number
  readonly heapStartMb: number
  readonly heapEndMb: number
  readonly heapGrowthMb: number
  readonly failed: number
  readonly perSecond: number
  /** True when fewer than 100,000 transactions ran (--quick). */
  readonly reduced: boolean
}

/** Runs W6 with ours: warm-up, GC, then `transactions` in 8 workers, GC, measure. */
export const runMemory = async (
  server: BenchServer,
  plan: { readonly transactions: number; readonly warmupTransactions: number },
  log: (line: string) => void
): Promise<MemoryResult> => {
  const instance = await ours.open({ url: server.url, poolSize: 8 })
  const next = () => ({ kind: "touch" as const, id: 1 + Math.floor(Math.random() * W1_ROWS) })
  const runCount = async (target: number, onSlice?: () => void) => {
    let committed = 0
    let failed = 0
    let elapsedMs = 0
    while (committed + failed < target) {
      // Slices sized by the rate seen so far, so the total lands near the target.
      const rate = elapsedMs > 0 ? (committed + failed) / elapsedMs : 1
      const durationMs = Math.max(50, Math.min(2000, (target - committed - failed) / rate))
      const tally = await instance.run({ kind: "touch", workers: 8, durationMs, next })
      committed += tally.committed
      failed += tally.failed
      elapsedMs += tally.elapsedMs
      onSlice?.()
    }
    return { committed, failed, elapsedMs }
  }
  try {
    await runCount(plan.warmupTransactions)
    collectGarbage()
    const start = process.memoryUsage()
    let peak = start.rss
    const done = await runCount(plan.transactions, () => {
      peak = Math.max(peak, process.memoryUsage().rss)
    })
    collectGarbage()
    const end = process.memoryUsage()
    const result: MemoryResult = {
      transactions: done.committed + done.failed,
      warmupTransactions: plan.warmupTransactions,
      rssStartMb: megabytes(start.rss),
      rssEndMb: megabytes(end.rss),
      rssGrowthMb: megabytes(end.rss - start.rss),
      rssPeakMb: megabytes(peak),
      heapStartMb: megabytes(start.heapUsed),
      heapEndMb: megabytes(end.heapUsed),
      heapGrowthMb: megabytes(end.heapUsed - start.heapUsed),
      failed: done.failed,
      perSecond: done.committed / (done.elapsedMs / 1000),
      reduced: plan.transactions < 100_000
    }
    log(`W6: ${result.transactions} transactions, RSS ${result.rssStartMb} -> ${result.rssEndMb} MB, heap ${result.heapStartMb} -> ${result.heapEndMb} MB`)
    return result
  } finally {
    await instance.close()
  }
}
