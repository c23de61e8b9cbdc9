/**
 * W3, serialization-heavy: SERIALIZABLE read-modify-write (SELECT the value, UPDATE it to value + 1)
 * on a few hot counters, so concurrent increments fail with 40001 and must be retried.
 */
import type { BenchServer } from "../server.js"
import { W3_COUNTERS } from "../schema.js"
import type { TransactionalWorkload } from "./transactional.js"

/** The W3 workload. */
export const w3Workload = (server: BenchServer, workers: number): TransactionalWorkload => ({
  id: "W3",
  title: `W3 serialization-heavy: ${workers} workers, SERIALIZABLE read-modify-write of ${W3_COUNTERS} hot counters`,
  kind: "increment",
  workers,
  next: () => ({ kind: "increment", counter: 1 + Math.floor(Math.random() * W3_COUNTERS) }),
  snapshot: async () =>
    new Map((await server.query<{ id: number; value: number }>("SELECT id, value FROM w3_counters")).map((r) => [r.id, r.value]))
})
