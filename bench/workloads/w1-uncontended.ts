/**
 * W1, uncontended: 8 clients, UPDATE one random row of 1,000 and SELECT it back, READ COMMITTED.
 * It measures what each layer costs per transaction when the database is not the bottleneck.
 */
import { W1_ROWS } from "../schema.js"
import type { TransactionalWorkload } from "./transactional.js"

/** The W1 workload for `workers` concurrent clients. */
export const w1Workload = (workers: number): TransactionalWorkload => ({
  id: "W1",
  title: `W1 uncontended: ${workers} clients, UPDATE + SELECT of a random row of ${W1_ROWS}, READ COMMITTED`,
  kind: "touch",
  workers,
  next: () => ({ kind: "touch", id: 1 + Math.floor(Math.random() * W1_ROWS) })
})
