/**
 * Step 4: a transaction that runs past its deadline (pg_sleep far beyond it) while holding a row
 * lock. It must fail on time with `TransactionTimeout`, save nothing, and leave neither the pool nor
 * the server dirty: no connection in use, no session busy or idle in transaction, no lock held.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { randomUUID } from "node:crypto"
import * as Classify from "../../Classify.js"
import * as Database from "../../Database.js"
import { isDatabaseError } from "../../Errors.js"
import * as Transaction from "../../Transaction.js"
import { Environment } from "../environment.js"
import { countsSince, serverSessions, transactionCounts } from "../inspect.js"
import { classificationLines, Report } from "../report.js"

const deadlineMillis = 500
const sleepSeconds = 10
/** How late the failure may arrive: cancelling and rolling back take a round trip or two. */
const graceMillis = 1500

/** A batch to lock, created and committed before the slow transaction. */
const createBatch = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const [batch] = yield* sql<{ id: string }>`INSERT INTO generation_batches (name) VALUES ('nightly batch') RETURNING id`
  return batch!.id
})

/** Locks the batch row, inserts a conversation, then sleeps far past the deadline. */
const slowTransaction = (batchId: string, conversationId: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`UPDATE generation_batches SET status = 'running', updated_at = now() WHERE id = ${batchId}`
    yield* sql`INSERT INTO conversations ${
      sql.insert({ id: conversationId, batch_id: batchId, user_id: "generator-9", title: "Never saved" })
    }`
    yield* sql`SELECT pg_sleep(${sleepSeconds})`
  }).pipe(Transaction.withTransaction({ timeout: Duration.millis(deadlineMillis) }))

/** Takes the same row lock again, with a short deadline of its own: it only succeeds if the lock is free. */
const relockBatch = (batchId: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`UPDATE generation_batches SET status = 'paused', updated_at = now() WHERE id = ${batchId}`
  }).pipe(Transaction.withTransaction({ timeout: "1 second" }), Effect.timed, Effect.either)

/** Runs step 4. */
export const timeoutStep = Effect.gen(function*() {
  const report = yield* Report
  const env = yield* Environment
  const db = yield* Database.Database
  yield* report.section(4, "A transaction past its deadline, and a clean pool and server afterwards")

  const batchId = yield* createBatch
  const conversationId = randomUUID()
  yield* report.info(
    `withTransaction({ timeout: ${deadlineMillis} ms }): lock a batch row, insert a conversation, then pg_sleep(${sleepSeconds})`
  )
  const before = yield* transactionCounts
  const [elapsed, result] = yield* Effect.timed(Effect.either(slowTransaction(batchId, conversationId)))
  const counts = countsSince(before, yield* transactionCounts)
  const millis = Duration.toMillis(elapsed)
  const error = Either.isLeft(result) && isDatabaseError(result.left) ? result.left : undefined
  yield* report.check(
    `failed with TransactionTimeout on time, not after the ${sleepSeconds} s sleep`,
    error?._tag === "TransactionTimeout" && millis >= deadlineMillis && millis < deadlineMillis + graceMillis,
    `after ${Math.round(millis)} ms (deadline ${deadlineMillis} ms) · Transaction.metrics: +${counts.timeouts} timeout, +${counts.rollbacks} rollback`
  )
  if (error) for (const line of classificationLines(error)) yield* report.info(line)

  const [saved] = yield* env.control<{ n: number }>`SELECT count(*)::int AS n FROM conversations WHERE id = ${conversationId}`
  yield* report.check("nothing of it was saved", saved?.n === 0, `${saved?.n ?? "?"} rows of the conversation it inserted`)

  const pool = yield* db.poolStats
  yield* report.check(
    "the pool is clean: no connection in use, nobody waiting",
    pool.inUse === 0 && pool.waiting === 0,
    `Database.poolStats: total ${pool.total}, idle ${pool.idle}, inUse ${pool.inUse}, waiting ${pool.waiting}, max ${pool.max}`
  )

  const server = yield* serverSessions(env)
  yield* report.check(
    "the server is clean: pg_sleep was cancelled, no session idle in transaction, no lock held",
    server.active === 0 && server.idleInTransaction === 0 && server.locks === 0 && server.schemaLocks === 0,
    `${server.sessions} pool sessions: ${server.active} active, ${server.idleInTransaction} idle in transaction, ` +
      `${server.locks} locks; ${server.schemaLocks} locks on the demo's tables by other sessions`
  )

  const relocked = yield* relockBatch(batchId)
  yield* report.check(
    "the row lock was released: a new transaction updates the same row at once",
    Either.isRight(relocked) && Duration.toMillis(relocked.right[0]) < 500,
    Either.isRight(relocked) ? `in ${Math.round(Duration.toMillis(relocked.right[0]))} ms` : relocked.left._tag
  )
}).pipe(Classify.refineErrors)
