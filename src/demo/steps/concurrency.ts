/**
 * Step 3, seed Example 2 under load: many fibers update a few hot batches under REPEATABLE READ
 * while others report token usage, locking the same rows in the opposite order. Serialization
 * failures and deadlocks happen for real; the library retries them, and a worker re-submits a call
 * the library gave up on. The database then proves that every call committed exactly once.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import { randomUUID } from "node:crypto"
import * as Classify from "../../Classify.js"
import { isDatabaseError } from "../../Errors.js"
import * as Health from "../../Health.js"
import * as HealthMonitor from "../../HealthMonitor.js"
import * as Transaction from "../../Transaction.js"
import { type DemoEnvironment, Environment } from "../environment.js"
import { countsSince, totalRetries, transactionCounts } from "../inspect.js"
import { countLines, LibraryLog } from "../logs.js"
import * as Platform from "../platform.js"
import { formatSeconds, Report } from "../report.js"

/** The shape of the load. */
const load = { fibers: 16, callsPerFiber: 12, batches: 3, conversationsPerBatch: 4 } as const

interface HotRows {
  readonly batches: ReadonlyArray<string>
  readonly conversations: ReadonlyArray<{ readonly id: string; readonly batchId: string }>
}

type Call =
  | { readonly kind: "status"; readonly requestId: string; readonly batchId: string; readonly change: Platform.StatusChange }
  | { readonly kind: "tokens"; readonly requestId: string; readonly batchId: string; readonly usage: Platform.TokenUsage }

/** A submission the library gave up on: the error's tag and how many attempts it made. */
interface Rejection {
  readonly tag: string
  readonly attempts: number
}

interface Outcome {
  readonly call: Call
  /** Submissions that gave up, in order (the worker then submitted the call again). */
  readonly rejections: ReadonlyArray<Rejection>
  readonly committed: boolean
}

/** What the health monitor saw while the load ran, and when the load ran (ms since start). */
export interface LoadObservation {
  readonly startedAt: number
  readonly endedAt: number
  readonly peakPoolUsage: number
  readonly peakWaiting: number
  readonly worstStatus: Health.DatabaseHealthStatus
  readonly checks: number
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i)
const pick = <A>(items: ReadonlyArray<A>): A => items[Math.floor(Math.random() * items.length)]!

/** The hot batches and their conversations, all `queued`. */
const createHotRows = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const batches = range(load.batches).map((i) => ({ id: randomUUID(), name: `hot batch ${i + 1}`, status: "queued" }))
  const conversations = batches.flatMap((batch) =>
    range(load.conversationsPerBatch).map((j) => ({
      id: randomUUID(),
      batch_id: batch.id,
      user_id: `generator-${j + 1}`,
      title: `Generated conversation ${j + 1} of ${batch.name}`,
      batch_status: "queued"
    }))
  )
  yield* sql`INSERT INTO generation_batches ${sql.insert(batches)}`
  yield* sql`INSERT INTO conversations ${sql.insert(conversations)}`
  return {
    batches: batches.map((b) => b.id),
    conversations: conversations.map((c) => ({ id: c.id, batchId: c.batch_id }))
  } satisfies HotRows
}).pipe(Transaction.withTransaction())

/** Every other call is Example 2; the rest report token usage of a conversation of a hot batch. */
const planCall = (hot: HotRows, fiber: number, index: number): Call => {
  const requestId = `f${fiber}-c${index}`
  if ((fiber + index) % 2 === 0) {
    const batchId = pick(hot.batches)
    const status = pick(Platform.batchStatuses.filter((s) => s !== "queued"))
    return { kind: "status", requestId, batchId, change: { batchId, status, requestId } }
  }
  const conversation = pick(hot.conversations)
  const usage = { conversationId: conversation.id, tokens: 1 + Math.floor(Math.random() * 500), requestId }
  return { kind: "tokens", requestId, batchId: conversation.batchId, usage }
}

/** How often a worker submits a call again after the library gave up with recovery action RETRY. */
const maxResubmissions = 3

const submit = (call: Call) =>
  call.kind === "status" ? Platform.updateBatchStatus(call.change) : Platform.recordTokenUsage(call.usage)

/**
 * One call as a worker makes it: when the library runs out of retries the error says RETRY, and the
 * worker submits the same request again (seed Example 3), with the same request id.
 */
const runCall = (call: Call) =>
  Effect.gen(function*() {
    const rejections: Array<Rejection> = []
    while (true) {
      const result = yield* Effect.either(submit(call))
      if (Either.isRight(result)) return { call, rejections, committed: true } satisfies Outcome
      const error = result.left
      rejections.push({ tag: error._tag, attempts: isDatabaseError(error) ? error.attempts ?? 1 : 1 })
      const again = isDatabaseError(error) && error.recoveryAction === "RETRY" && rejections.length <= maxResubmissions
      if (!again) return { call, rejections, committed: false } satisfies Outcome
    }
  })

/** Follows the monitor's results while `effect` runs. */
const watchingHealth = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const monitor = yield* HealthMonitor.HealthMonitor
    const seen = { peakPoolUsage: 0, peakWaiting: 0, worstStatus: "HEALTHY" as Health.DatabaseHealthStatus, checks: 0 }
    yield* Effect.forkScoped(
      Stream.runForEach(monitor.results, (check) =>
        Effect.sync(() => {
          seen.checks++
          seen.peakPoolUsage = Math.max(seen.peakPoolUsage, check.pool.max > 0 ? (100 * check.pool.inUse) / check.pool.max : 0)
          seen.peakWaiting = Math.max(seen.peakWaiting, check.pool.waiting)
          if (Health.statusSeverity(check.status) > Health.statusSeverity(seen.worstStatus)) seen.worstStatus = check.status
        })
      )
    )
    // the load starts once the monitor has its first result, so it judges the load from its start
    yield* Stream.runDrain(Stream.take(monitor.results, 1))
    const report = yield* Report
    const startedAt = yield* report.elapsedMillis
    const result = yield* effect
    const endedAt = yield* report.elapsedMillis
    return [result, { ...seen, startedAt, endedAt } satisfies LoadObservation] as const
  }).pipe(Effect.scoped)

interface EventRow {
  readonly request_id: string
  readonly attempt: number
}

interface BatchRow {
  readonly id: string
  readonly status: string
  readonly version: number
  readonly tokens_used: string
}

interface ConversationRow {
  readonly id: string
  readonly batch_id: string
  readonly batch_status: string
  readonly tokens_used: string
}

/** The rows the load touched, read back by the control session (bigints as text). */
const readServerState = (env: DemoEnvironment, hot: HotRows) =>
  Effect.all({
    events: env.control<EventRow>`
      SELECT request_id, attempt FROM batch_events WHERE batch_id IN ${env.control.in(hot.batches)}`,
    batches: env.control<BatchRow>`
      SELECT id, status, version, tokens_used::text FROM generation_batches WHERE id IN ${env.control.in(hot.batches)}`,
    conversations: env.control<ConversationRow>`
      SELECT id, batch_id, batch_status, tokens_used::text FROM conversations WHERE batch_id IN ${env.control.in(hot.batches)}`
  })

type ServerState = Effect.Effect.Success<ReturnType<typeof readServerState>>

/** The library's log line for each retry. */
const retryWarning = "transaction attempt failed; retrying"

const sumBy = <A>(items: ReadonlyArray<A>, f: (a: A) => number) => items.reduce((sum, a) => sum + f(a), 0)

const tokensOf = (outcomes: ReadonlyArray<Outcome>, match: (call: Extract<Call, { kind: "tokens" }>) => boolean) =>
  sumBy(outcomes, (o) => (o.call.kind === "tokens" && match(o.call) ? o.call.usage.tokens : 0))

/** Runs step 3 and returns what the health monitor saw during the load. */
export const concurrencyStep = Effect.gen(function*() {
  const report = yield* Report
  const env = yield* Environment
  const log = yield* LibraryLog
  yield* report.section(3, "Example 2: concurrent batch updates under REPEATABLE READ")

  const hot = yield* createHotRows
  const total = load.fibers * load.callsPerFiber
  yield* report.info(
    `${load.fibers} fibers × ${load.callsPerFiber} calls = ${total} transactions on ${load.batches} hot batches of ` +
      `${load.conversationsPerBatch} conversations (pool of ${env.poolSize}, deadlock_timeout ${env.deadlockTimeout})`
  )
  yield* report.info(
    "half run Example 2 (batch, then its conversations), half report token usage (conversation, then its batch)"
  )
  yield* report.info(
    `both with withTransactionRetry({ isolationLevel: "REPEATABLE READ", maxRetries: ${Platform.batchTransaction.maxRetries} })`
  )

  const warningsBefore = countLines(yield* log.lines, "DEBUG", retryWarning)
  const before = yield* transactionCounts
  const [outcomes, seen] = yield* watchingHealth(
    Effect.forEach(
      range(load.fibers),
      (fiber) => Effect.forEach(range(load.callsPerFiber), (index) => runCall(planCall(hot, fiber, index))),
      { concurrency: "unbounded" }
    ).pipe(Effect.map((perFiber) => perFiber.flat()))
  )
  const counts = countsSince(before, yield* transactionCounts)
  const warnings = countLines(yield* log.lines, "DEBUG", retryWarning) - warningsBefore

  const rejections = outcomes.flatMap((o) => o.rejections)
  const rejectedWith = (tag: string) => rejections.filter((r) => r.tag === tag).length
  const serialization = (counts.retries.SerializationFailure ?? 0) + rejectedWith("SerializationFailure")
  const deadlocks = (counts.retries.Deadlock ?? 0) + rejectedWith("Deadlock")
  const retries = totalRetries(counts)
  yield* report.info(
    `took ${formatSeconds(seen.endedAt - seen.startedAt)} · conflicts: ${serialization} serialization failures (40001), ${deadlocks} deadlocks (40P01)` +
      ` · retries made by the library: ${retries}`
  )
  yield* report.info(
    `${rejections.length} submissions ran out of retries (${describeRejections(rejections)}); ` +
      `their workers submitted them again, as the RETRY recovery action says (seed Example 3)`
  )
  yield* report.check("the load produced real conflicts, and the library retried them", serialization + deadlocks > 0 && retries > 0)

  const state = yield* readServerState(env, hot)
  yield* proveExactlyOnce(outcomes, state)
  const retriedInDatabase = sumBy(state.events, (e) => e.attempt - 1) + sumBy(rejections, (r) => r.attempts - 1)
  yield* report.check(
    "every retry counted by Transaction.metrics shows in the attempts recorded by the database and in the log",
    retriedInDatabase === retries && warnings === retries,
    `metrics ${retries} · database ${retriedInDatabase} (attempt column, plus the submissions that gave up) · ${warnings} retry lines logged`
  )
  return seen
}).pipe(Classify.refineErrors)

const describeRejections = (rejections: ReadonlyArray<Rejection>) =>
  [...new Set(rejections.map((r) => `${r.tag} after ${r.attempts} attempts`))].join(", ") || "none"

/** The claims about committed rows, each checked against the database. */
const proveExactlyOnce = (outcomes: ReadonlyArray<Outcome>, state: ServerState) =>
  Effect.gen(function*() {
    const report = yield* Report
    const committed = outcomes.filter((o) => o.committed)
    const logged = new Map<string, number>()
    for (const e of state.events) logged.set(e.request_id, (logged.get(e.request_id) ?? 0) + 1)
    const missing = committed.filter((o) => logged.get(o.call.requestId) !== 1).length
    const resubmitted = committed.filter((o) => o.rejections.length > 0).length
    // A submission that gave up but had committed would make its re-submission fail on the UNIQUE
    // request_id, so "all committed, each once" also proves that giving up left nothing behind.
    yield* report.check(
      `every one of the ${outcomes.length} calls committed exactly once`,
      committed.length === outcomes.length && missing === 0 && state.events.length === committed.length,
      `${state.events.length} rows in batch_events for ${committed.length} committed calls ` +
        `(${resubmitted} after a re-submission) · ${missing} missing or doubled`
    )

    const versions = state.batches.map((b) => ({
      actual: b.version,
      expected: committed.filter((o) => o.call.kind === "status" && o.call.batchId === b.id).length
    }))
    yield* report.check(
      "each batch's version equals its committed status updates",
      versions.every((v) => v.actual === v.expected),
      `versions ${versions.map((v) => v.actual).join(", ")} · committed updates ${versions.map((v) => v.expected).join(", ")}`
    )

    const batchTokens = state.batches.map((b) => ({
      actual: Number(b.tokens_used),
      expected: tokensOf(committed, (call) => call.batchId === b.id)
    }))
    const conversationTokensOk = state.conversations.every((c) =>
      Number(c.tokens_used) === tokensOf(committed, (call) => call.usage.conversationId === c.id)
    )
    yield* report.check(
      "token usage adds up in every batch and every conversation (no report applied twice or lost)",
      conversationTokensOk && batchTokens.every((t) => t.actual === t.expected),
      `${sumBy(batchTokens, (t) => t.actual)} tokens in batches, ${tokensOf(committed, () => true)} reported by successful calls`
    )

    const statusOf = new Map(state.batches.map((b) => [b.id, b.status]))
    const consistent = state.conversations.filter((c) => c.batch_status === statusOf.get(c.batch_id)).length
    yield* report.check(
      "every conversation carries its batch's final status (Example 2's two updates committed together)",
      consistent === state.conversations.length,
      `${consistent} of ${state.conversations.length} conversations`
    )
  })
