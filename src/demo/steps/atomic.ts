/**
 * Step 2, seed Example 1: a conversation and its turns saved atomically; then one whose third turn
 * breaks a constraint, which must leave nothing behind and come back as a classified error.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { randomUUID } from "node:crypto"
import * as Classify from "../../Classify.js"
import { isDatabaseError } from "../../Errors.js"
import { type DemoEnvironment, Environment } from "../environment.js"
import { countsSince, totalRetries, transactionCounts } from "../inspect.js"
import * as Platform from "../platform.js"
import { classificationLines, Report } from "../report.js"

/** A role the `conversation_turns.role` CHECK rejects: the value must never reach the user message. */
const invalidRole = "moderator"

const onboarding = (): Platform.ConversationInput => ({
  id: randomUUID(),
  userId: "user-1042",
  title: "Onboarding a new customer",
  turns: [
    { role: "system", content: "You are a helpful onboarding assistant." },
    { role: "user", content: "How do I invite my team?", tokenCount: 7 },
    { role: "assistant", content: "Open Settings → Team and choose Invite.", tokenCount: 11 }
  ]
})

const brokenThirdTurn = (): Platform.ConversationInput => ({
  id: randomUUID(),
  userId: "user-1042",
  title: "Refund request",
  turns: [
    { role: "user", content: "I was charged twice." },
    { role: "assistant", content: "Sorry about that, let me check." },
    { role: invalidRole, content: "Escalated to billing." }
  ]
})

/** Rows of one conversation, counted by the control session. */
const countRows = (env: DemoEnvironment, id: string) =>
  Effect.map(
    env.control<{ conversations: number; turns: number }>`
      SELECT (SELECT count(*) FROM conversations WHERE id = ${id})::int AS conversations,
             (SELECT count(*) FROM conversation_turns WHERE conversation_id = ${id})::int AS turns`,
    (rows) => rows[0] ?? { conversations: -1, turns: -1 }
  )

/** Runs step 2. */
export const atomicStep = Effect.gen(function*() {
  const report = yield* Report
  const env = yield* Environment
  yield* report.section(2, "Example 1: a conversation and its turns, atomically")

  const good = onboarding()
  yield* Platform.createConversation(good)
  const saved = yield* countRows(env, good.id)
  yield* report.check(
    `"${good.title}" saved with its ${good.turns.length} turns in one transaction`,
    saved.conversations === 1 && saved.turns === good.turns.length,
    `${saved.conversations} conversation row, ${saved.turns} turn rows`
  )

  const bad = brokenThirdTurn()
  const before = yield* transactionCounts
  const result = yield* Effect.either(Platform.createConversation(bad))
  const counts = countsSince(before, yield* transactionCounts)
  const left = yield* countRows(env, bad.id)
  yield* report.info(
    `"${bad.title}": the conversation row and turns 1–2 were inserted, then turn 3 broke a constraint`
  )
  yield* report.check(
    "the transaction rolled back: nothing of that conversation was saved",
    Either.isLeft(result) && left.conversations === 0 && left.turns === 0,
    `${left.conversations} conversation rows, ${left.turns} turn rows; ${counts.rollbacks} rollback, ${totalRetries(counts)} retries`
  )

  const error = Either.isLeft(result) && isDatabaseError(result.left) ? result.left : undefined
  if (error === undefined) {
    yield* report.check("the failure is a classified DatabaseError", false, Either.isLeft(result) ? "another error" : "it succeeded")
    return
  }
  for (const line of classificationLines(error)) yield* report.info(line)
  yield* report.check(
    "classified as a constraint violation on the role field: fix the data, do not retry",
    error._tag === "ConstraintViolation" && error.kind === "check" && error.category === "CONSTRAINT_VIOLATION" &&
      error.recoveryAction === "FIX_DATA" && error.field === "role" && !error.isRetryable && totalRetries(counts) === 0
  )
  yield* report.check(
    "the user message names the field and never the rejected value",
    error.userMessage.includes("role") && !error.userMessage.includes(invalidRole)
  )
}).pipe(Classify.refineErrors)
