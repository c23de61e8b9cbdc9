/**
 * The seed README's examples, rewritten for `effect-pg-resilience/promise` and run against a real
 * server (the schema is created here): atomic conversation creation, batch generation with retry,
 * error handling with recovery actions, and the health check with its schedule. The code inside each
 * example is what the README's "Promise API" section shows.
 */
import { Effect, Metric } from "effect"
import Pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  classifyDatabaseError,
  ConstraintViolation,
  createDatabase,
  type DatabaseHealthCheck,
  DatabaseHealthStatus,
  DatabaseRecoveryAction,
  type PromiseDatabase,
  type TransactionOptions
} from "../src/promise.js"
import * as Transaction from "../src/Transaction.js"
import { type FreshDatabase, freshDatabase } from "./support/TestDatabase.js"

let fresh: FreshDatabase
let url: string
let admin: Pg.Client
let db: PromiseDatabase

const schema = `
  CREATE TABLE generation_batches (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    status text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE TABLE conversations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    title text NOT NULL UNIQUE,
    user_id text NOT NULL,
    status text NOT NULL,
    batch_id uuid REFERENCES generation_batches (id),
    batch_status text
  );
  CREATE TABLE conversation_turns (
    id serial PRIMARY KEY,
    conversation_id uuid NOT NULL REFERENCES conversations (id),
    turn_number int NOT NULL,
    role text NOT NULL CHECK (role IN ('user', 'assistant')),
    content text NOT NULL
  );
`

beforeAll(async () => {
  fresh = await freshDatabase(schema)
  url = fresh.url
  admin = fresh.admin
  db = createDatabase({ url, maxConnections: 10 })
})

afterAll(async () => {
  await db?.close()
  await fresh?.close()
})

const serializationRetries = Effect.map(
  Metric.value(Metric.tagged(Transaction.metrics.retries, "reason", "SerializationFailure")),
  (state) => state.count
)

const count = (table: string) => fresh.count(table)

// --- Example 1: conversation creation with turns ---------------------------------------------------

interface Turn {
  readonly turn_number: number
  readonly role: string
  readonly content: string | null
}

interface ConversationCreateInput {
  readonly title: string
  readonly userId: string
  readonly turns?: ReadonlyArray<Turn>
}

interface Conversation {
  readonly id: string
  readonly title: string
  readonly user_id: string
  readonly status: string
}

class ConversationService {
  constructor(private readonly db: PromiseDatabase, private readonly options?: TransactionOptions) {}

  createConversation(data: ConversationCreateInput) {
    return this.db.withTransaction(async (ctx) => {
      const [conversation] = await ctx.sql<Conversation>`
        INSERT INTO conversations ${ctx.sql.insert({ title: data.title, user_id: data.userId, status: "active" })}
        RETURNING *`
      // Insert turns (atomic with the conversation)
      if (data.turns && data.turns.length > 0) {
        await ctx.sql`
          INSERT INTO conversation_turns
          ${ctx.sql.insert(data.turns.map((turn) => ({ ...turn, conversation_id: conversation!.id })))}`
      }
      return conversation!
    }, this.options)
  }
}

// --- Example 2: batch generation with retry --------------------------------------------------------

class BatchGenerationService {
  constructor(private readonly db: PromiseDatabase) {}

  updateBatchStatus(batchId: string, status: string) {
    return this.db.withTransactionRetry(async (ctx) => {
      const [batch] = await ctx.sql<{ id: string; status: string }>`
        UPDATE generation_batches SET status = ${status}, updated_at = now()
        WHERE id = ${batchId} RETURNING id, status`
      await ctx.sql`UPDATE conversations SET batch_status = ${status} WHERE batch_id = ${batchId}`
      return batch!
    }, {
      isolationLevel: "REPEATABLE READ", // Prevent concurrent updates
      maxRetries: 5 // More retries for batch operations
    })
  }
}

// --- Example 3: error handling with classification -------------------------------------------------

/** What the UI was asked to do, for the test to inspect. */
interface Ui {
  readonly actions: Array<string>
}

async function saveConversation(
  service: ConversationService,
  data: ConversationCreateInput,
  ui: Ui,
  retryWithBackoff: (operation: () => Promise<unknown>) => Promise<unknown>
) {
  try {
    await service.createConversation(data)
  } catch (error) {
    const classification = classifyDatabaseError(error)

    switch (classification.recoveryAction) {
      case DatabaseRecoveryAction.RETRY:
        await retryWithBackoff(() => service.createConversation(data))
        break
      case DatabaseRecoveryAction.FIX_DATA:
        ui.actions.push(`showValidationError: ${classification.userMessage}`)
        if (classification.field) ui.actions.push(`highlightField: ${classification.field}`)
        break
      case DatabaseRecoveryAction.CHECK_NETWORK:
        ui.actions.push("showNetworkError")
        break
      case DatabaseRecoveryAction.CHECK_PERMISSIONS:
        ui.actions.push("redirectToLogin")
        break
      default:
        ui.actions.push(`showGenericError: ${classification.userMessage}`)
    }
  }
}

// ---------------------------------------------------------------------------------------------------

describe("seed example 1: atomic conversation creation", () => {
  it("creates the conversation and its turns together", async () => {
    const service = new ConversationService(db)
    const conversation = await service.createConversation({
      title: "Onboarding",
      userId: "u1",
      turns: [
        { turn_number: 1, role: "user", content: "Hello" },
        { turn_number: 2, role: "assistant", content: "Hi! How can I help?" }
      ]
    })
    expect(conversation).toMatchObject({ title: "Onboarding", user_id: "u1", status: "active" })
    const { rows } = await admin.query(
      "SELECT turn_number FROM conversation_turns WHERE conversation_id = $1 ORDER BY turn_number",
      [conversation.id]
    )
    expect(rows.map((r) => r.turn_number)).toEqual([1, 2])
  })

  it("saves nothing when a turn is rejected: the conversation is rolled back with it", async () => {
    const service = new ConversationService(db)
    const before = { conversations: await count("conversations"), turns: await count("conversation_turns") }
    const error = await service.createConversation({
      title: "Half-done",
      userId: "u1",
      turns: [
        { turn_number: 1, role: "user", content: "Hello" },
        { turn_number: 2, role: "assistant", content: null }
      ]
    }).then(() => undefined, (e: unknown) => e)
    expect(error).toBeInstanceOf(ConstraintViolation)
    expect((error as ConstraintViolation).kind).toBe("not_null")
    expect((error as ConstraintViolation).field).toBe("content")
    expect({ conversations: await count("conversations"), turns: await count("conversation_turns") }).toEqual(before)
  })
})

describe("seed example 2: batch generation with retry", () => {
  it("concurrent status updates of one batch under REPEATABLE READ all commit, through retries", async () => {
    const { rows: [batch] } = await admin.query("INSERT INTO generation_batches (status) VALUES ('queued') RETURNING id")
    await admin.query(
      "INSERT INTO conversations (title, user_id, status, batch_id) SELECT 'c' || g, 'batch-user', 'active', $1 FROM generate_series(1, 20) g",
      [batch.id]
    )
    const service = new BatchGenerationService(db)
    const before = await Effect.runPromise(serializationRetries)
    const statuses = Array.from({ length: 8 }, (_, i) => `step-${i}`)
    const results = await Promise.all(statuses.map((status) => service.updateBatchStatus(batch.id, status)))
    expect(results.map((r) => r.status).sort()).toEqual([...statuses].sort())
    // They did collide (40001 under REPEATABLE READ), and the retries absorbed it.
    expect(await Effect.runPromise(serializationRetries)).toBeGreaterThan(before)
    // The conversations follow the batch: whichever update committed last, they agree with it.
    const { rows: [final] } = await admin.query("SELECT status FROM generation_batches WHERE id = $1", [batch.id])
    const { rows: states } = await admin.query(
      "SELECT DISTINCT batch_status FROM conversations WHERE batch_id = $1",
      [batch.id]
    )
    expect(states).toEqual([{ batch_status: final.status }])
  })
})

describe("seed example 3: error handling with recovery actions", () => {
  it("FIX_DATA: a duplicate title shows the user message and highlights the field", async () => {
    const service = new ConversationService(db)
    await service.createConversation({ title: "Duplicate me", userId: "u3" })
    const ui: Ui = { actions: [] }
    await saveConversation(service, { title: "Duplicate me", userId: "u3" }, ui, async () => {
      throw new Error("no retry expected")
    })
    expect(ui.actions).toHaveLength(2)
    expect(ui.actions[0]).toMatch(/^showValidationError: /)
    expect(ui.actions[0]).not.toContain("Duplicate me")
    expect(ui.actions[1]).toBe("highlightField: title")
  })

  it("CHECK_NETWORK: an unreachable database is a network problem, not a crash", async () => {
    const unreachable = createDatabase({ url: "postgres://app:secret@127.0.0.1:1/app", connectTimeout: 1000 })
    try {
      const ui: Ui = { actions: [] }
      await saveConversation(new ConversationService(unreachable), { title: "t", userId: "u" }, ui, async () => {
        throw new Error("no retry expected")
      })
      expect(ui.actions).toEqual(["showNetworkError"])
    } finally {
      await unreachable.close()
    }
  })

  it("RETRY: a retryable failure takes the retry path, and the retry saves the conversation", async () => {
    // Another session holds a lock the insert needs: the first try runs past its deadline.
    const other = new Pg.Client({ connectionString: url })
    other.on("error", () => {})
    await other.connect()
    try {
      await other.query("BEGIN; LOCK TABLE conversations IN EXCLUSIVE MODE")
      const service = new ConversationService(db, { timeout: 300 })
      const ui: Ui = { actions: [] }
      await saveConversation(service, { title: "Retried", userId: "u4" }, ui, async (operation) => {
        ui.actions.push("retryWithBackoff")
        await other.query("COMMIT")
        return operation()
      })
      expect(ui.actions).toEqual(["retryWithBackoff"])
      expect((await admin.query("SELECT count(*)::int AS n FROM conversations WHERE title = 'Retried'")).rows[0].n).toBe(1)
    } finally {
      await other.end()
    }
  })
})

describe("seed example 4: the health check and scheduled monitoring", () => {
  it("performHealthCheck gives status, message, metrics, recommendations, lastChecked", async () => {
    const healthCheck = await db.performHealthCheck()
    expect(Object.values(DatabaseHealthStatus)).toContain(healthCheck.status)
    expect(typeof healthCheck.message).toBe("string")
    expect(Object.keys(healthCheck.metrics).sort()).toEqual(
      ["activeConnections", "avgQueryTime", "cacheHitRatio", "connectionPoolUsage", "idleConnections"]
    )
    expect(Array.isArray(healthCheck.recommendations)).toBe(true)
    expect(Number.isNaN(Date.parse(healthCheck.lastChecked))).toBe(false)
  })

  it("custom thresholds (the seed's example) are the ones the check applies", async () => {
    const strict = await db.performHealthCheck({
      degraded: { connectionPoolUsage: 60, avgQueryTime: 80, cacheHitRatio: 92 },
      unhealthy: { connectionPoolUsage: 75, avgQueryTime: 200, cacheHitRatio: 85 },
      critical: { connectionPoolUsage: 90, avgQueryTime: 400, cacheHitRatio: 75 }
    })
    expect(strict.figures.cacheHitRatio.thresholds).toEqual({ degraded: 92, unhealthy: 85, critical: 75 })
  })

  it("scheduleHealthChecks alerts on CRITICAL and its stop function is the shutdown hook", async () => {
    const down = createDatabase({ url: "postgres://app:secret@127.0.0.1:1/app", connectTimeout: 500, probeTimeout: 1000 })
    const alerts: Array<{ level: string; message: string }> = []
    let checks = 0
    try {
      const stopHealthChecks = down.scheduleHealthChecks(
        60000,
        (check: DatabaseHealthCheck) => {
          checks++
          if (check.status === DatabaseHealthStatus.CRITICAL) {
            alerts.push({ level: "critical", message: check.message })
          }
        }
      )
      const until = Date.now() + 10_000
      while (checks === 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20))
      await stopHealthChecks()
      expect(alerts).toHaveLength(1)
      expect(alerts[0]!.message).not.toContain("secret")
    } finally {
      await down.close()
    }
  })
})
