/**
 * The seed platform's data access, written the way an application would with this library: the
 * schema from `sql/platform-schema.sql`, Example 1 (a conversation and its turns, atomically) and
 * Example 2 (a batch status update under REPEATABLE READ with retries), plus the token-usage report
 * that locks the same rows in the opposite order (conversation, then batch).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { readFile } from "node:fs/promises"
import * as Errors from "../Errors.js"
import * as Transaction from "../Transaction.js"

/** The schema file; src/demo and dist/demo both sit two levels below the package root. */
export const schemaFile = new URL("../../sql/platform-schema.sql", import.meta.url)

/** Status values allowed by the CHECK constraints of batches and `conversations.batch_status`. */
export const batchStatuses = ["queued", "running", "paused", "completed", "failed", "cancelled"] as const

/** One of `batchStatuses`. */
export type BatchStatus = typeof batchStatuses[number]

/** Creates (or keeps) the platform's tables, in one transaction. */
export const applySchema = Effect.gen(function*() {
  const text = yield* Effect.promise(() => readFile(schemaFile, "utf8"))
  const sql = yield* SqlClient.SqlClient
  // No parameters: the script goes to the server as one simple-protocol query.
  yield* sql.unsafe(text).pipe(Transaction.withTransaction())
})

/** A turn as the seed's `ConversationCreateInput` carries it. */
export interface TurnInput {
  readonly role: string
  readonly content: string
  readonly tokenCount?: number
}

/** What Example 1 saves. The id is chosen by the caller, so it can look the rows up afterwards. */
export interface ConversationInput {
  readonly id: string
  readonly userId: string
  readonly title: string
  readonly turns: ReadonlyArray<TurnInput>
}

/** Seed Example 1: the conversation, then each turn in order; any failure saves nothing. */
export const createConversation = (input: ConversationInput) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`INSERT INTO conversations ${
      sql.insert({ id: input.id, user_id: input.userId, title: input.title, status: "active" })
    }`
    for (const [index, turn] of input.turns.entries()) {
      yield* sql`INSERT INTO conversation_turns ${
        sql.insert({
          conversation_id: input.id,
          turn_index: index,
          role: turn.role,
          content: turn.content,
          token_count: turn.tokenCount ?? null
        })
      }`
    }
    return input.id
  }).pipe(Transaction.withTransaction())

/** Seed Example 2's options: REPEATABLE READ, and more retries for batch operations. */
export const batchTransaction: Transaction.TransactionConfigInput = {
  isolationLevel: "REPEATABLE READ",
  maxRetries: 5
}

const notFound = (what: string) => new Errors.NotFound({ technicalMessage: `${what} does not exist`, cause: undefined })

/** The attempt of the running transaction, recorded with each event (retries show up there). */
const currentAttempt = Effect.map(Transaction.CurrentTransaction, (tx) => tx.attempt)

/** A status change requested by a caller; `requestId` is its idempotency key. */
export interface StatusChange {
  readonly batchId: string
  readonly status: BatchStatus
  readonly requestId: string
}

/** Seed Example 2: the batch, then the `batch_status` of its conversations, then the audit event. */
export const updateBatchStatus = (change: StatusChange) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [batch] = yield* sql<{ id: string; status: string; version: number }>`
      UPDATE generation_batches SET status = ${change.status}, version = version + 1, updated_at = now()
      WHERE id = ${change.batchId} RETURNING id, status, version`
    if (batch === undefined) return yield* Effect.fail(notFound(`generation batch ${change.batchId}`))
    yield* sql`UPDATE conversations SET batch_status = ${change.status}, updated_at = now() WHERE batch_id = ${change.batchId}`
    yield* sql`INSERT INTO batch_events ${
      sql.insert({
        batch_id: change.batchId,
        request_id: change.requestId,
        kind: "status",
        status: change.status,
        attempt: yield* currentAttempt
      })
    }`
    return batch
  }).pipe(Transaction.withTransactionRetry(batchTransaction))

/** Tokens spent generating a conversation, reported by a worker. */
export interface TokenUsage {
  readonly conversationId: string
  readonly tokens: number
  readonly requestId: string
}

/** A worker's usage report: the conversation, then its batch (the opposite lock order of Example 2). */
export const recordTokenUsage = (usage: TokenUsage) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [conversation] = yield* sql<{ batch_id: string | null }>`
      UPDATE conversations SET tokens_used = tokens_used + ${usage.tokens}, updated_at = now()
      WHERE id = ${usage.conversationId} RETURNING batch_id`
    if (conversation?.batch_id == null) {
      return yield* Effect.fail(notFound(`batch of conversation ${usage.conversationId}`))
    }
    yield* sql`UPDATE generation_batches SET tokens_used = tokens_used + ${usage.tokens}, updated_at = now()
      WHERE id = ${conversation.batch_id}`
    yield* sql`INSERT INTO batch_events ${
      sql.insert({
        batch_id: conversation.batch_id,
        conversation_id: usage.conversationId,
        request_id: usage.requestId,
        kind: "tokens",
        tokens: usage.tokens,
        attempt: yield* currentAttempt
      })
    }`
  }).pipe(Transaction.withTransactionRetry(batchTransaction))
