/**
 * W5, classification: how many errors per second `classifyDatabaseError` turns into our tagged
 * union, on a mixed corpus of real driver errors provoked on the server (constraint violations, bad
 * input, syntax, timeouts, lock failures, a real deadlock and serialization failure, an aborted
 * transaction, permissions, authentication, a terminated session, a refused connection), raw from
 * node-postgres, wrapped in @effect/sql's `SqlError`, and inside an Effect `Cause`. Then the time of
 * one classification of hostile inputs: 1 MB and 10 MB messages built to make a naive password
 * scrubber backtrack (issue 10 point 5: 520 KB took 10 s; the aim is under 10 ms).
 */
import { SqlError } from "@effect/sql/SqlError"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import { randomBytes } from "node:crypto"
import Pg from "pg"
import { classifyDatabaseError } from "../../dist/Classify.js"
import { freePort } from "../../dist/EmbeddedPostgres.js"
import { type Spread, spread } from "../harness.js"
import type { BenchServer } from "../server.js"

/** One error of the corpus, with where it came from. */
interface Sample {
  readonly label: string
  readonly error: unknown
}

/** Time of one classification of a hostile input. */
export interface HostileClassification {
  readonly label: string
  /** Characters of hostile text in the input. */
  readonly characters: number
  /** Milliseconds per classification: median (p50), min, max over `n` runs. */
  readonly ms: Spread
  /** Whether the password in the input survived anywhere in the result's texts (must be false). */
  readonly leaked: boolean
}

/** W5 results. */
export interface ClassificationResult {
  readonly corpusSize: number
  /** label -> tag our classifier gave it (a sanity check that the corpus is what it claims). */
  readonly corpus: Record<string, string>
  readonly perSecond: Spread
  readonly nanosecondsPerError: number
  readonly rounds: number
  /** 1 MB and 10 MB adversarial messages (aim: under 10 ms each). */
  readonly hostile: ReadonlyArray<HostileClassification>
}

const failureOf = async (run: () => Promise<unknown>): Promise<unknown> => {
  try {
    await run()
    return undefined
  } catch (error) {
    return error
  }
}

/** Provokes the real errors on the server. Why real: classification keys on what pg really puts on them. */
const buildCorpus = async (server: BenchServer): Promise<Array<Sample>> => {
  const samples: Array<Sample> = []
  const add = (label: string, error: unknown) => {
    if (error !== undefined) samples.push({ label, error })
  }
  const a = await server.connect()
  const b = await server.connect()
  try {
    await a.query(`CREATE TABLE IF NOT EXISTS w5_parent (id integer PRIMARY KEY);
      CREATE TABLE IF NOT EXISTS w5_child (id integer PRIMARY KEY, parent integer REFERENCES w5_parent (id),
        n integer NOT NULL CHECK (n > 0));
      CREATE TABLE IF NOT EXISTS w5_locks (id integer PRIMARY KEY, v integer NOT NULL);
      INSERT INTO w5_parent VALUES (1) ON CONFLICT DO NOTHING;
      INSERT INTO w5_locks VALUES (1, 0), (2, 0) ON CONFLICT DO NOTHING`)
    add("unique_violation", await failureOf(() => a.query("INSERT INTO w5_parent VALUES (1)")))
    add("foreign_key_violation", await failureOf(() => a.query("INSERT INTO w5_child VALUES (1, 99, 1)")))
    add("not_null_violation", await failureOf(() => a.query("INSERT INTO w5_child VALUES (2, 1, NULL)")))
    add("check_violation", await failureOf(() => a.query("INSERT INTO w5_child VALUES (3, 1, -1)")))
    add("invalid_text_representation", await failureOf(() => a.query("SELECT 'x'::integer")))
    add("division_by_zero", await failureOf(() => a.query("SELECT 1 / 0")))
    add("undefined_table", await failureOf(() => a.query("SELECT * FROM w5_missing")))
    add("syntax_error", await failureOf(() => a.query("SELEC 1")))
    add("undefined_column", await failureOf(() => a.query("SELECT nope FROM w5_parent")))
    add("query_canceled (statement_timeout)", await failureOf(() =>
      a.query("SET statement_timeout = 10; SELECT pg_sleep(1)").finally(() => a.query("RESET statement_timeout"))
    ))
    // A row lock held by b; a asks for it with NOWAIT.
    await b.query("BEGIN; SELECT * FROM w5_locks WHERE id = 1 FOR UPDATE")
    add("lock_not_available", await failureOf(() => a.query("SELECT * FROM w5_locks WHERE id = 1 FOR UPDATE NOWAIT")))
    await b.query("ROLLBACK")
    // A real deadlock: a locks 1 then 2, b locks 2 then 1.
    await a.query("BEGIN; UPDATE w5_locks SET v = v + 1 WHERE id = 1")
    await b.query("BEGIN; UPDATE w5_locks SET v = v + 1 WHERE id = 2")
    const [da, db] = await Promise.all([
      failureOf(() => a.query("UPDATE w5_locks SET v = v + 1 WHERE id = 2")),
      failureOf(() => b.query("UPDATE w5_locks SET v = v + 1 WHERE id = 1"))
    ])
    add("deadlock_detected", da ?? db)
    await a.query("ROLLBACK")
    await b.query("ROLLBACK")
    // A real serialization failure: a reads, b commits a change, a writes the same row.
    await a.query("BEGIN ISOLATION LEVEL SERIALIZABLE; SELECT v FROM w5_locks WHERE id = 1")
    await b.query("UPDATE w5_locks SET v = v + 1 WHERE id = 1")
    add("serialization_failure", await failureOf(() => a.query("UPDATE w5_locks SET v = v + 1 WHERE id = 1")))
    await a.query("ROLLBACK")
    // A statement after a swallowed error in the same transaction.
    await a.query("BEGIN")
    await failureOf(() => a.query("SELECT 1 / 0"))
    add("in_failed_sql_transaction", await failureOf(() => a.query("SELECT 1")))
    await a.query("ROLLBACK")
    // Permissions: a role without grants (skipped when this role may not create roles).
    const role = `bench_w5_${randomBytes(4).toString("hex")}`
    if (await failureOf(() => a.query(`CREATE ROLE ${role} NOLOGIN`)) === undefined) {
      await a.query(`SET ROLE ${role}`)
      add("insufficient_privilege", await failureOf(() => a.query("SELECT * FROM w5_parent")))
      await a.query("RESET ROLE")
      await a.query(`DROP ROLE ${role}`)
    }
    // A session terminated by the server, then the dead socket.
    const victim = await server.connect()
    const pid = (victim as unknown as { processID: number }).processID
    const running = failureOf(() => victim.query("SELECT pg_sleep(10)"))
    await new Promise((resolve) => setTimeout(resolve, 100))
    await b.query("SELECT pg_terminate_backend($1)", [pid])
    add("admin_shutdown", await running)
    add("client not queryable", await failureOf(() => victim.query("SELECT 1")))
    await victim.end().catch(() => {})
  } finally {
    await a.end().catch(() => {})
    await b.end().catch(() => {})
  }
  // Connection-level failures.
  const url = new URL(server.url)
  if (url.password) {
    const wrong = new URL(server.url)
    wrong.password = "not-the-password"
    add("invalid_password", await failureOf(() => connectOnce(wrong.toString())))
  }
  const missing = new URL(server.url)
  missing.pathname = "/bench_no_such_database"
  add("invalid_catalog_name", await failureOf(() => connectOnce(missing.toString())))
  const closed = new URL(server.url)
  closed.port = String(await Effect.runPromise(freePort))
  add("ECONNREFUSED", await failureOf(() => connectOnce(closed.toString())))

  // As an Effect application sees them: wrapped by @effect/sql, and COMMIT failures as defects.
  const raw = [...samples]
  for (const sample of raw) {
    samples.push({
      label: `SqlError(${sample.label})`,
      error: new SqlError({ cause: sample.error, message: "Failed to execute statement" })
    })
  }
  for (const sample of raw.filter((s) => /serialization|deadlock|foreign_key/.test(s.label))) {
    samples.push({
      label: `Cause.die(SqlError(${sample.label}))`,
      error: Cause.die(new SqlError({ cause: sample.error, message: "Failed to execute statement" }))
    })
  }
  return samples
}

const connectOnce = async (url: string) => {
  const client = new Pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 })
  client.on("error", () => {})
  try {
    await client.connect()
  } finally {
    await client.end().catch(() => {})
  }
}

const HOSTILE_PASSWORD = "Zq9xK7vW2mQ4jR"

/**
 * Inputs that made the former scrubber quadratic: `postgres://a:` repeated without an `@` (each
 * occurrence rescanned the rest of the text), in a message and in a pg error's detail; each also
 * carries a real password (which must not survive in the result).
 */
const hostileInputs = (characters: number): Array<{ readonly label: string; readonly error: unknown }> => {
  // Built from a Buffer, as pg decodes messages: a flat string, not a rope built by repeat().
  const text = (unit: string) =>
    Buffer.from(unit.repeat(Math.ceil(characters / unit.length)).slice(0, characters)).toString("utf8")
  const size = characters >= 1024 * 1024 ? `${characters / (1024 * 1024)} MB` : `${characters / 1024} KB`
  const secret = `postgres://app:${HOSTILE_PASSWORD}@db:5432/app`
  return [
    { label: `${size} message of "postgres://a:" without "@"`, error: new Error(`${secret} ${text("postgres://a:")}`) },
    {
      label: `${size} detail of a 23505 with "Key (" and "postgres://a:"`,
      error: new SqlError({
        cause: Object.assign(new Error(`duplicate key value violates unique constraint "k" ${secret}`), {
          code: "23505",
          severity: "ERROR",
          detail: `Key (${text("a b(postgres://a:")}`
        }),
        message: "Failed to execute statement"
      })
    }
  ]
}

/** Classifies each hostile input `runs` times (after a warm-up) and records p50/max. */
const measureHostile = (runs: number, log: (line: string) => void): Array<HostileClassification> => {
  const results: Array<HostileClassification> = []
  for (const characters of [1024 * 1024, 10 * 1024 * 1024]) {
    for (const { error, label } of hostileInputs(characters)) {
      // Untimed: also makes V8 flatten the detail (a rope built by `+`), a cost of any first read.
      const first = classifyDatabaseError(error)
      const texts = [first.message, first.technicalMessage, first.userMessage, String(first)]
      const leaked = texts.some((t) => t.includes(HOSTILE_PASSWORD))
      const times: Array<number> = []
      for (let i = 0; i < runs; i++) {
        const started = performance.now()
        classifyDatabaseError(error)
        times.push(performance.now() - started)
      }
      const ms = spread(times)
      results.push({ label, characters, ms, leaked })
      log(`W5 hostile ${label}: p50 ${ms.median.toFixed(3)} ms, max ${ms.max.toFixed(3)} ms${leaked ? ", PASSWORD LEAKED" : ""}`)
    }
  }
  return results
}

/** Runs W5: classify the corpus in a loop for `sliceMs`, `rounds` times, then the hostile inputs. */
export const runClassification = async (
  server: BenchServer,
  plan: { readonly rounds: number; readonly sliceMs: number },
  log: (line: string) => void
): Promise<ClassificationResult> => {
  const corpus = await buildCorpus(server)
  const tags: Record<string, string> = {}
  for (const sample of corpus) tags[sample.label] = classifyDatabaseError(sample.error)._tag
  // Warm-up, so the JIT has compiled the classifier before it is timed.
  for (let i = 0; i < 200; i++) for (const sample of corpus) classifyDatabaseError(sample.error)
  const rates: Array<number> = []
  let sink = 0
  for (let round = 0; round < plan.rounds; round++) {
    let count = 0
    const started = performance.now()
    const until = started + plan.sliceMs
    while (performance.now() < until) {
      for (const sample of corpus) sink += classifyDatabaseError(sample.error).isRetryable ? 1 : 0
      count += corpus.length
    }
    rates.push(count / ((performance.now() - started) / 1000))
    log(`W5 round ${round + 1}/${plan.rounds}: ${Math.round(rates[rates.length - 1]!)} errors/s`)
  }
  if (sink < 0) log("unreachable")
  const perSecond = spread(rates)
  const hostile = measureHostile(20, log)
  return {
    corpusSize: corpus.length,
    corpus: tags,
    perSecond,
    nanosecondsPerError: 1e9 / perSecond.median,
    rounds: plan.rounds,
    hostile
  }
}
