/**
 * The members of the `DatabaseError` union, made from one table (issue 15): what every member
 * shares (traits and default message from its row, `message`, the type id, a JSON form that does
 * not copy the cause), what users do with them (`new`, `instanceof`, `catchTag`, the union schema).
 *
 * Pure: no database.
 */
import { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Duration, Effect, Schema } from "effect"
import * as Classify from "../src/Classify.js"
import * as Errors from "../src/Errors.js"

const PASSWORD = "Zq9xK7vW2mQ4jR"

/** A member of each tag, built as an application would (only the required fields). */
const build = (tag: Errors.DatabaseErrorTag, cause: unknown = null): Errors.DatabaseError => {
  const member = Errors.DatabaseError.members.find((m) => m._tag === tag)!
  const props = { technicalMessage: `technical ${tag}`, cause }
  switch (tag) {
    case "ConstraintViolation":
      return new Errors.ConstraintViolation({ ...props, kind: "unique" })
    case "TransactionTimeout":
      return new Errors.TransactionTimeout({ ...props, timeout: Duration.seconds(3), attempts: 2 })
    default:
      return new (member as typeof Errors.QueryError)(props) as Errors.DatabaseError
  }
}

/** What each member must carry (the README's table): category, retryable, recovery action. */
const README_TABLE: Record<Errors.DatabaseErrorTag, readonly [Errors.DatabaseErrorCategory, boolean, Errors.DatabaseRecoveryAction]> = {
  ConstraintViolation: ["CONSTRAINT_VIOLATION", false, "FIX_DATA"],
  InvalidData: ["CONSTRAINT_VIOLATION", false, "FIX_DATA"],
  Deadlock: ["TRANSACTION_ERROR", true, "RETRY"],
  SerializationFailure: ["TRANSACTION_ERROR", true, "RETRY"],
  ConnectionError: ["CONNECTION_ERROR", true, "CHECK_NETWORK"],
  CommitOutcomeUnknown: ["TRANSACTION_ERROR", false, "VERIFY_COMMIT"],
  QueryTimeout: ["TIMEOUT_ERROR", true, "RETRY"],
  TransactionTimeout: ["TIMEOUT_ERROR", true, "RETRY"],
  PermissionDenied: ["PERMISSION_ERROR", false, "CHECK_PERMISSIONS"],
  NotFound: ["QUERY_ERROR", false, "NONE"],
  QueryError: ["QUERY_ERROR", false, "NONE"],
  UnknownDatabaseError: ["UNKNOWN", false, "CONTACT_ADMIN"]
}

describe("members made from one table", () => {
  it("the union has one class per tag, in the order of the tags", () => {
    expect(Errors.DatabaseError.members.map((m) => m._tag)).toEqual(Errors.databaseErrorTags)
    expect(new Set(Errors.databaseErrorTags)).toEqual(new Set(Object.keys(README_TABLE)))
  })

  for (const tag of Object.keys(README_TABLE) as Array<Errors.DatabaseErrorTag>) {
    it(`${tag}: the traits of the README's table, its default message, its technical message as message`, () => {
      const [category, isRetryable, recoveryAction] = README_TABLE[tag]
      const error = build(tag)
      const member = Errors.DatabaseError.members.find((m) => m._tag === tag)!
      expect(error).toBeInstanceOf(member)
      expect(error).toBeInstanceOf(Error)
      expect(error).toMatchObject({ _tag: tag, category, isRetryable, recoveryAction })
      expect(Errors.databaseErrorTraits[tag]).toEqual({ category, isRetryable, recoveryAction })
      expect(error.userMessage).toBe(Errors.defaultUserMessages[tag])
      expect(error.userMessage).toMatch(/^[A-Z][\p{L} ,.'-]+\.$/u)
      expect(error.message).toBe(`technical ${tag}`)
      expect(String(error)).toBe(`${tag}: technical ${tag}`)
      expect(Cause.pretty(Cause.fail(error))).toContain(`technical ${tag}`)
      expect(Errors.isDatabaseError(error)).toBe(true)
    })
  }

  it("a SQLSTATE's member carries its row's traits (classification and the table agree)", () => {
    for (const code of ["23505", "22001", "40P01", "40001", "08006", "08007", "57014", "42501", "P0002", "42601", "XX000"]) {
      const description = Classify.describeSqlState(code)
      const [category, isRetryable, recoveryAction] = README_TABLE[description.tag]
      expect(description, code).toMatchObject({ category, isRetryable, recoveryAction })
    }
  })

  it("the constructor keeps a given user message and refuses another category", () => {
    const error = new Errors.Deadlock({ technicalMessage: "t", userMessage: "Try again.", cause: null })
    expect(error.userMessage).toBe("Try again.")
    expect(() => new Errors.Deadlock({ technicalMessage: "t", cause: null, category: "UNKNOWN" } as never)).toThrow()
    expect(new Errors.TransactionTimeout({ timeout: Duration.seconds(1), attempts: 1, cause: null }).message)
      .toBe("The transaction exceeded its deadline")
  })

  it("isDatabaseError: members only, never throwing", () => {
    expect(Errors.isDatabaseError({ _tag: "Deadlock", category: "TRANSACTION_ERROR", recoveryAction: "RETRY" })).toBe(false)
    expect(Errors.isDatabaseError(new Error("Deadlock"))).toBe(false)
    expect(Errors.isDatabaseError(new Proxy({}, { has: () => { throw new Error("has") } }))).toBe(false)
  })
})

describe("what users do with the members", () => {
  it.effect("Effect.catchTag on a member the application built", () =>
    Effect.gen(function*() {
      const failing: Effect.Effect<string, Errors.DatabaseError> = Effect.fail(
        new Errors.ConstraintViolation({ kind: "unique", field: "email", technicalMessage: "t", cause: null })
      )
      const handled = yield* failing.pipe(
        Effect.catchTag("ConstraintViolation", (e) => Effect.succeed(`${e.kind} on ${e.field ?? "?"}`)),
        Effect.catchAll((e) => Effect.succeed(`other ${e._tag}`))
      )
      expect(handled).toBe("unique on email")
    }))

  it("the union schema encodes every member and decodes it back to an instance of its class", () => {
    for (const tag of Errors.databaseErrorTags) {
      const error = build(tag, `cause of ${tag}`)
      const encoded = Schema.encodeSync(Errors.DatabaseError)(error)
      expect(encoded).not.toBeInstanceOf(Error)
      const back = Schema.decodeUnknownSync(Errors.DatabaseError)(encoded)
      expect(back).toBeInstanceOf(Errors.DatabaseError.members.find((m) => m._tag === tag)!)
      expect(Errors.isDatabaseError(back)).toBe(true)
      expect({ ...back }).toEqual({ ...error })
      expect(back.message).toBe(error.message)
    }
  })
})

describe("the JSON form names the cause instead of copying it", () => {
  const secretUrl = `postgres://app:${PASSWORD}@db.internal:5432/app`
  const pgError = Object.assign(new Error(`connect to ${secretUrl} failed`), {
    code: "28P01",
    severity: "FATAL",
    detail: `password=${PASSWORD}`
  })
  const hugeText = `${secretUrl} ${"x".repeat(10 * 1024 * 1024)}`
  const causes: ReadonlyArray<readonly [string, unknown, string]> = [
    ["a SqlError", new SqlError({ cause: pgError, message: "Failed to execute statement" }), "SqlError"],
    ["a pg error with its SQLSTATE", pgError, "Error [28P01]"],
    ["a Node system error", Object.assign(new Error("connect ECONNREFUSED 10.0.0.1:5432"), { code: "ECONNREFUSED" }), "Error [ECONNREFUSED]"],
    ["a config object with a password", { host: "db", password: PASSWORD }, "object"],
    ["a code that is no code", { code: `PGRST${PASSWORD}` }, "object"],
    ["10 MB of text", hugeText, `string (${hugeText.length} characters)`],
    ["null", null, "null"],
    ["a Proxy whose every trap throws", new Proxy({}, {
      get: () => { throw new Error("get") },
      has: () => { throw new Error("has") },
      getPrototypeOf: () => { throw new Error("getPrototypeOf") },
      ownKeys: () => { throw new Error("ownKeys") },
      getOwnPropertyDescriptor: () => { throw new Error("getOwnPropertyDescriptor") }
    }), "object"]
  ]
  for (const [name, cause, summary] of causes) {
    it(`${name}: ${summary}`, () => {
      const error = new Errors.PermissionDenied({ technicalMessage: "login refused", cause })
      const json = JSON.stringify(error)
      expect(json).not.toContain(PASSWORD)
      expect(json.length).toBeLessThan(1024)
      expect(JSON.parse(json)).toEqual({
        _tag: "PermissionDenied",
        category: "PERMISSION_ERROR",
        isRetryable: false,
        recoveryAction: "CHECK_PERMISSIONS",
        userMessage: Errors.defaultUserMessages.PermissionDenied,
        technicalMessage: "login refused",
        cause: summary
      })
      expect(error.cause).toBe(cause) // kept on the error, for Cause and debugging
    })
  }

  it("a classified error's JSON (what a JSON logger writes) holds no password of its cause", () => {
    const error = Classify.classifyDatabaseError(new SqlError({ cause: pgError, message: "Failed to acquire connection" }))
    expect(error._tag).toBe("PermissionDenied")
    expect(JSON.stringify(error)).not.toContain(PASSWORD)
    expect(JSON.parse(JSON.stringify(error)).cause).toBe("SqlError")
  })
})
