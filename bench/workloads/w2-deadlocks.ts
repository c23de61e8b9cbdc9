/**
 * W2, deadlock-heavy: 8 workers move money between 10 hot rows, locking the two rows in random
 * order, so concurrent transfers deadlock. `deadlock_timeout` (how long a waiter sleeps before the
 * server looks for a cycle) dominates: the run uses the server's default and 50 ms.
 */
import type { BenchServer } from "../server.js"
import { W2_ACCOUNTS } from "../schema.js"
import type { TransactionalWorkload } from "./transactional.js"

/** The W2 workload; `deadlockTimeout` only names the setting in the title. */
export const w2Workload = (server: BenchServer, workers: number, deadlockTimeout: string, id: string): TransactionalWorkload => ({
  id,
  title: `${id} deadlock-heavy: ${workers} workers, transfers between ${W2_ACCOUNTS} hot rows in random lock order, deadlock_timeout = ${deadlockTimeout}`,
  kind: "transfer",
  workers,
  next: () => {
    const from = 1 + Math.floor(Math.random() * W2_ACCOUNTS)
    const to = 1 + ((from - 1 + 1 + Math.floor(Math.random() * (W2_ACCOUNTS - 1))) % W2_ACCOUNTS)
    return { kind: "transfer", from, to, amount: 1 + Math.floor(Math.random() * 100) }
  },
  snapshot: async () =>
    new Map((await server.query<{ id: number; balance: number }>("SELECT id, balance FROM w2_accounts")).map((r) => [r.id, r.balance]))
})

/** The `deadlock_timeout` new sessions of the scratch database get. */
export const currentDeadlockTimeout = async (server: BenchServer): Promise<string> =>
  (await server.query<{ deadlock_timeout: string }>("SHOW deadlock_timeout"))[0]?.deadlock_timeout ?? "unknown"

/**
 * Sets `deadlock_timeout` for new sessions of the scratch database only (`ALTER DATABASE`, so a
 * shared server given by DATABASE_URL is left alone) and returns what new sessions now see.
 * Needs a superuser (the setting is superuser-only); returns undefined when refused.
 */
export const setDeadlockTimeout = async (server: BenchServer, value: string | undefined): Promise<string | undefined> => {
  try {
    await server.query(
      value === undefined
        ? `ALTER DATABASE ${server.databaseName} RESET deadlock_timeout`
        : `ALTER DATABASE ${server.databaseName} SET deadlock_timeout = '${value}'`
    )
  } catch {
    return undefined
  }
  return currentDeadlockTimeout(server)
}
