/**
 * W1 ablation: what each guarantee of our transaction costs the client, in CPU µs per transaction.
 *
 * The transaction engines run against an in-process stand-in for node-postgres that answers every
 * query on the next turn of the event loop: no server, no network, no driver parsing, so what is left
 * is the engine itself (the same two-statement W1 body for each). The pieces are then timed alone.
 * The server side of the extra statements (the `SET LOCAL` limits) is measured with pgbench and
 * reported next to it in the README.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { randomUUID } from "node:crypto"
import { Database } from "../../dist/Database.js"
import { PgConnection, type PoolHandle, takeLease } from "../../dist/internal/pgConnection.js"
import { metrics } from "../../dist/internal/transaction/metrics.js"
import { beginStatement } from "../../dist/internal/transaction/statements.js"
import { withTransaction } from "../../dist/Transaction.js"

/** A node-postgres client that answers on the next turn, with the result shapes pg gives. */
class StandInClient {
  processID = 1
  secretKey = 2
  serverParameters = { server_version: "18.4" }
  processIsBackend = true
  connection = { stream: { destroyed: false } }
  release: () => void = () => {}
  on() {}
  off() {}
  once() {}
  query(text: string | { text: string }, params: unknown, cb?: (e: Error | null, r: unknown) => void) {
    const callback = (typeof params === "function" ? params : cb)!
    const sql = typeof text === "string" ? text : text.text
    const one = (command: string) => ({ command, rows: [{ value: 1 }], rowCount: 1, fields: [] })
    setImmediate(() =>
      callback(null, sql.includes("; ") ? sql.split("; ").map((s) => one(s.split(" ")[0]!)) : one(sql.split(" ")[0]!))
    )
  }
}

const standInPool = (size: number) => {
  const idle = Array.from({ length: size }, () => new StandInClient())
  return {
    options: { connectionString: "postgres://stand-in@127.0.0.1:1/none" },
    totalCount: size,
    idleCount: size,
    waitingCount: 0,
    on() {},
    query() {},
    connect(cb: (e: Error | null, c?: StandInClient, release?: () => void) => void) {
      const client = idle.pop()
      if (!client) return void setImmediate(() => cb(new Error("stand-in pool exhausted")))
      client.release = () => void idle.push(client)
      setImmediate(() => cb(null, client, client.release))
    }
  }
}

/** One row of the ablation. */
export interface AblationRow {
  readonly name: string
  readonly micros: number
  readonly note: string
}

/** The ablation's rows. */
export interface AblationResult {
  readonly rows: ReadonlyArray<AblationRow>
}

const W1Body = (sql: SqlClient.SqlClient) =>
  Effect.gen(function*() {
    yield* sql`UPDATE w1_rows SET value = value + 1 WHERE id = ${1}`
    return yield* sql<{ value: number }>`SELECT value FROM w1_rows WHERE id = ${1}`
  })

/** CPU µs per run of `effect`, 8 at a time: the best of `rounds` rounds (the least disturbed one). */
const cpuPer = async (runtime: ManagedRuntime.ManagedRuntime<any, any>, effect: Effect.Effect<any, any, any>, n: number, rounds: number) => {
  let best = Number.POSITIVE_INFINITY
  const program = Effect.forEach(Array.from({ length: n }), () => effect, { concurrency: 8, discard: true })
  for (let round = 0; round <= rounds; round++) {
    const before = process.cpuUsage()
    await runtime.runPromise(program)
    const used = process.cpuUsage(before)
    if (round > 0) best = Math.min(best, (used.user + used.system) / n)
  }
  return best
}

/** CPU µs per call of a synchronous piece. */
const syncCost = (f: () => void, n = 200_000) => {
  for (let i = 0; i < 10_000; i++) f()
  const before = process.cpuUsage()
  for (let i = 0; i < n; i++) f()
  const used = process.cpuUsage(before)
  return (used.user + used.system) / n
}

export const runAblation = async (options: { readonly transactions: number; readonly rounds: number }): Promise<AblationResult> => {
  const ours = standInPool(8)
  const handle: PoolHandle = {
    pool: ours as never,
    cancelTarget: { host: "127.0.0.1", port: 1 },
    cancelGraceMillis: 2000,
    observe: () => {}
  }
  const leaseUntil = (expiry: never) => Effect.map(takeLease(handle, expiry), (lease) => new PgConnection(handle, lease))
  const oursLayer = Layer.scopedContext(Effect.gen(function*() {
    const sql = yield* SqlClient.make({
      acquirer: Effect.succeed(new PgConnection(handle, undefined)),
      transactionAcquirer: Effect.die("not used"),
      compiler: PgClient.makeCompiler(),
      spanAttributes: [["db.system.name", "postgresql"]]
    }).pipe(Effect.provide(Reactivity.layer))
    const db = {
      config: { maxConnections: 8 },
      leaseUntil,
      serverVersion: Effect.succeed({ num: 180004, major: 18, text: "18.4" })
    }
    return Context.make(Database, db as never).pipe(Context.add(SqlClient.SqlClient, sql))
  }))
  const oursRuntime = ManagedRuntime.make(oursLayer)
  const stockRuntime = ManagedRuntime.make(
    PgClient.layerFromPool({ acquire: Effect.succeed(standInPool(8) as never) }).pipe(Layer.provide(Reactivity.layer))
  )
  try {
    const oursSql = await oursRuntime.runPromise(SqlClient.SqlClient)
    const stockSql = await stockRuntime.runPromise(SqlClient.SqlClient)
    const { rounds, transactions: n } = options
    const stockBody = await cpuPer(stockRuntime, W1Body(stockSql), n, rounds)
    const stock = await cpuPer(stockRuntime, stockSql.withTransaction(W1Body(stockSql)), n, rounds)
    const stockNoSpan = await cpuPer(stockRuntime, stockSql.withTransaction(W1Body(stockSql)).pipe(Effect.withTracerEnabled(false)), n, rounds)
    const oursBody = await cpuPer(oursRuntime, W1Body(oursSql), n, rounds)
    const full = await cpuPer(oursRuntime, withTransaction(W1Body(oursSql)), n, rounds)
    const noSpan = await cpuPer(oursRuntime, withTransaction(W1Body(oursSql)).pipe(Effect.withTracerEnabled(false)), n, rounds)
    const defaults = { isolationLevel: "READ COMMITTED", readOnly: false, deferrable: false } as never
    const rows: Array<AblationRow> = [
      { name: "two statements, no transaction (stock connection)", micros: stockBody, note: "the W1 body alone" },
      { name: "two statements, no transaction (our connection)", micros: oursBody, note: "our leak-free connection, pooled path" },
      { name: "@effect/sql withTransaction (stock connection)", micros: stock, note: "BEGIN, body, COMMIT, one span" },
      { name: "@effect/sql withTransaction, tracer off", micros: stockNoSpan, note: "" },
      { name: "ours: withTransaction, all guarantees", micros: full, note: "deadline, server limits, typed COMMIT, span, metrics" },
      { name: "ours, tracer off", micros: noSpan, note: "the span and its events" },
      { name: "piece: the deadline timer (setTimeout + clearTimeout)", micros: syncCost(() => clearTimeout(setTimeout(() => {}, 30_000))), note: "one per call" },
      { name: "piece: transaction id (randomUUID)", micros: syncCost(() => void randomUUID()), note: "one per call" },
      { name: "piece: BEGIN text with its limits", micros: syncCost(() => void beginStatement(defaults, 30_000, 18, false)), note: "client side only" },
      {
        name: "piece: three metric updates",
        micros: syncCost(() => {
          metrics.commits.unsafeUpdate(1, [])
          metrics.duration.unsafeUpdate(Duration.millis(3), [])
          metrics.rollbacks.unsafeUpdate(0, [])
        }),
        note: "commits, duration, one more"
      }
    ]
    return { rows }
  } finally {
    await oursRuntime.dispose()
    await stockRuntime.dispose()
  }
}
