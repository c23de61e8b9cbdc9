/**
 * Turns whatever a database call failed with into one member of the `DatabaseError` union.
 *
 * Why: @effect/sql reports every failure as `SqlError { cause }`, pg hides the meaning in a
 * SQLSTATE, PostgREST in a `PGRST` code, Node in `ECONNREFUSED`, and COMMIT failures arrive as
 * defects. `classifyDatabaseError` reads all of these (never throwing) and `refineErrors` applies it
 * to an effect so that `Effect.catchTag("ConstraintViolation", ...)` works on any @effect/sql
 * program.
 *
 * @since 0.1.0
 */
import { SqlErrorTypeId } from "@effect/sql/SqlError"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import {
  CommitOutcomeUnknown,
  type ConstraintKind,
  ConstraintViolation,
  ConnectionError,
  type DatabaseError,
  type DatabaseErrorCategory,
  databaseErrorTraits,
  type DatabaseErrorTag,
  type DatabaseRecoveryAction,
  Deadlock,
  defaultUserMessages,
  type ForeignKeyProblem,
  InvalidData,
  isDatabaseError,
  NotFound,
  PermissionDenied,
  QueryError,
  QueryTimeout,
  SerializationFailure,
  UnknownDatabaseError
} from "./Errors.js"
import { scrubSecrets } from "./internal/redact.js"
import {
  type SqlStateRule,
  sqlStateClassName,
  sqlStateName,
  sqlStateRule,
  type SqlStateSeverity,
  type SqlStateTag
} from "./internal/sqlstate.js"

// ---------------------------------------------------------------------------
// Constraint registry
// ---------------------------------------------------------------------------

/**
 * What an application knows about one of its constraints.
 * Why: `users_email_key` should read "That email is already registered", on the `email` field.
 *
 * @since 0.1.0
 */
export interface ConstraintInfo {
  /** The field to report (and to name in the default user message). */
  readonly field?: string
  /** The exact user message to use instead of the generated one. */
  readonly userMessage?: string
}

/**
 * Looks constraints up by name. Why: the pure classifier takes it as a plain value, the Effect API
 * as a service.
 *
 * @since 0.1.0
 */
export interface ConstraintLookup {
  /** `table.constraint` is tried before `constraint`, for names reused across tables. */
  readonly lookup: (constraint: string, table?: string) => ConstraintInfo | undefined
}

/**
 * Builds a lookup from `{ "users_email_key": { field: "email", userMessage: "..." } }` (keys may
 * also be `"table.constraint"`). Why: the registry is plain data an application declares once.
 *
 * @since 0.1.0
 */
export const makeConstraintLookup = (
  entries: Readonly<Record<string, ConstraintInfo>> | ReadonlyMap<string, ConstraintInfo>
): ConstraintLookup => {
  const map: ReadonlyMap<string, ConstraintInfo> = entries instanceof Map
    ? new Map(entries)
    : new Map(Object.entries(entries as Readonly<Record<string, ConstraintInfo>>))
  return {
    lookup: (constraint, table) => (table === undefined ? undefined : map.get(`${table}.${constraint}`)) ?? map.get(constraint)
  }
}

/**
 * The application's constraint registry as a service.
 * Why: provide it once as a Layer and every `classify` / `refineErrors` uses it.
 *
 * @example
 * ```ts
 * const Constraints = Classify.ConstraintRegistry.layer({
 *   users_email_key: { field: "email", userMessage: "That email is already registered" }
 * })
 * ```
 *
 * @since 0.1.0
 */
export class ConstraintRegistry extends Context.Tag("effect-pg-resilience/ConstraintRegistry")<
  ConstraintRegistry,
  ConstraintLookup
>() {
  /** Why: the usual way to provide the registry. */
  static layer(
    entries: Readonly<Record<string, ConstraintInfo>> | ReadonlyMap<string, ConstraintInfo>
  ): Layer.Layer<ConstraintRegistry> {
    return Layer.succeed(ConstraintRegistry, makeConstraintLookup(entries))
  }
}

/**
 * Options of the pure classifier. Why: the registry is optional and the function stays pure.
 *
 * @since 0.1.0
 */
export interface ClassifyOptions {
  readonly constraints?: ConstraintLookup
}

// ---------------------------------------------------------------------------
// Safe access: the input may be anything, including proxies and throwing getters
// ---------------------------------------------------------------------------

type Obj = object

const isObj = (u: unknown): u is Obj => (typeof u === "object" && u !== null) || typeof u === "function"

const get = (u: unknown, key: PropertyKey): unknown => {
  if (!isObj(u)) return undefined
  try {
    return (u as Record<PropertyKey, unknown>)[key]
  } catch {
    return undefined
  }
}

const getString = (u: unknown, key: PropertyKey): string | undefined => {
  const value = get(u, key)
  return typeof value === "string" ? value : undefined
}

const nonEmpty = (s: string | undefined): string | undefined => (s === undefined || s.trim() === "" ? undefined : s)

const safeString = (u: unknown): string => {
  try {
    if (typeof u === "string") return u
    if (typeof u === "symbol") return u.toString()
    if (u === null) return "null"
    if (u === undefined) return "undefined"
    if (typeof u !== "object" && typeof u !== "function") return String(u)
    const name = getString(u, "name")
    const message = getString(u, "message")
    if (message !== undefined) return name ? `${name}: ${message}` : message
    const seen = new WeakSet<object>()
    const json = JSON.stringify(u, (_key, value: unknown) => {
      if (typeof value === "bigint") return `${value}n`
      if (isObj(value)) {
        if (seen.has(value)) return "[Circular]"
        seen.add(value)
      }
      return value
    })
    return typeof json === "string" ? json : Object.prototype.toString.call(u)
  } catch {
    try {
      return Object.prototype.toString.call(u)
    } catch {
      return "[unprintable value]"
    }
  }
}

const MAX_TECHNICAL = 4000

const technical = (text: string): string => {
  const scrubbed = scrubSecrets(text)
  return scrubbed.length > MAX_TECHNICAL ? `${scrubbed.slice(0, MAX_TECHNICAL)}...` : scrubbed
}

// ---------------------------------------------------------------------------
// What we look for while walking an error
// ---------------------------------------------------------------------------

/** The fields of pg's `DatabaseError` (and of PostgREST's SQLSTATE passthrough). */
interface ServerError {
  readonly code: string
  readonly message: string | undefined
  readonly detail: string | undefined
  readonly hint: string | undefined
  readonly severity: string | undefined
  readonly constraint: string | undefined
  readonly table: string | undefined
  readonly schema: string | undefined
  readonly column: string | undefined
  readonly dataType: string | undefined
  readonly where: string | undefined
}

interface PostgrestError {
  readonly code: string
  readonly message: string | undefined
  readonly details: string | undefined
  readonly hint: string | undefined
}

interface SystemError {
  readonly code: string
  readonly message: string | undefined
}

/** A recognised situation without a reported SQLSTATE: classified as if the server had sent `code`. */
interface Inferred {
  readonly code: string
  readonly constraint?: string | undefined
  readonly column?: string | undefined
  readonly table?: string | undefined
  readonly errorCode?: string | undefined
}

interface Findings {
  ours: DatabaseError | undefined
  server: ServerError | undefined
  postgrest: PostgrestError | undefined
  system: SystemError | undefined
  inferred: Inferred | undefined
  interrupted: boolean
  readonly messages: Array<string>
}

const SQLSTATE = /^[0-9A-Z]{5}$/

const isSqlStateOf = (code: string, node: Obj): boolean =>
  SQLSTATE.test(code) &&
  (sqlStateName(code) !== undefined || sqlStateRule(code) !== undefined ||
    typeof get(node, "severity") === "string")

/** Node system error codes that mean "the database could not be reached / the socket broke". */
const CONNECTION_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ECONNCLOSED",
  "ETIMEDOUT",
  "ESOCKETTIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ENETRESET",
  "EADDRNOTAVAIL",
  "EAI_AGAIN",
  "EAI_FAIL",
  "EAI_NONAME",
  "EPROTO",
  "ERR_SOCKET_CLOSED",
  "ERR_SOCKET_CONNECTION_TIMEOUT",
  "ERR_STREAM_PREMATURE_CLOSE",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "ERR_TLS_HANDSHAKE_TIMEOUT",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT"
])

const NETWORK_SYSCALLS: ReadonlySet<string> = new Set([
  "connect",
  "read",
  "write",
  "writev",
  "getaddrinfo",
  "lookup",
  "recv",
  "send",
  "shutdown"
])

const quoted = `"((?:[^"]|"")+)"`
const unquote = (s: string): string => s.replace(/""/g, "\"")

/** Messages of pg, pg-pool, @effect/sql and fetch that identify a situation without any code. */
const MESSAGE_RULES: ReadonlyArray<readonly [RegExp, (m: RegExpExecArray) => Inferred]> = [
  // connection (the SQLSTATEs stand for "what it would have been")
  [/timeout exceeded when trying to connect/i, () => ({ code: "08001" })],
  [/^Failed to acquire connection/i, () => ({ code: "08001" })],
  [/PgClient: Failed to connect|^Connection error$/i, () => ({ code: "08001" })],
  [/Connection terminated|server closed the connection unexpectedly|terminating connection/i, () => ({ code: "08006" })],
  [/Client has encountered a connection error|Client was closed and is not queryable/i, () => ({ code: "08003" })],
  [/Cannot use a pool after calling end on the pool/i, () => ({ code: "08003" })],
  [/\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|ECONNABORTED)\b/, (m) => ({
    code: "08001",
    errorCode: m[1]
  })],
  [/socket hang up|fetch failed|Failed to fetch|NetworkError|network error|getaddrinfo/i, () => ({ code: "08001" })],
  [/the database system is (?:starting up|shutting down|in recovery mode|not yet accepting connections)/i, () => ({
    code: "57P03"
  })],
  [/too many clients already|too many connections|remaining connection slots are reserved/i, () => ({ code: "53300" })],
  [/does not support SSL|SSL connection|self[- ]signed certificate|^timeout expired$/i, () => ({ code: "08001" })],
  // timeouts
  [/Query read timeout|canceling statement due to (?:statement timeout|user request)|query_timeout/i, () => ({
    code: "57014"
  })],
  [/canceling statement due to lock timeout|could not obtain lock/i, () => ({ code: "55P03" })],
  [/transaction timeout/i, () => ({ code: "25P04" })],
  [/idle-in-transaction timeout|idle_in_transaction_session_timeout/i, () => ({ code: "25P03" })],
  // transactions
  [/deadlock detected/i, () => ({ code: "40P01" })],
  [/could not serialize access/i, () => ({ code: "40001" })],
  // constraints
  [new RegExp(`duplicate key value violates unique constraint(?: ${quoted})?`, "i"), (m) => ({
    code: "23505",
    constraint: m[1] && unquote(m[1])
  })],
  [new RegExp(`violates foreign key constraint(?: ${quoted})?`, "i"), (m) => ({
    code: "23503",
    constraint: m[1] && unquote(m[1])
  })],
  [new RegExp(`null value in column ${quoted}`, "i"), (m) => ({ code: "23502", column: m[1] && unquote(m[1]) })],
  [/violates not-null constraint/i, () => ({ code: "23502" })],
  [new RegExp(`violates check constraint(?: ${quoted})?`, "i"), (m) => ({
    code: "23514",
    constraint: m[1] && unquote(m[1])
  })],
  [new RegExp(`violates exclusion constraint(?: ${quoted})?`, "i"), (m) => ({
    code: "23P01",
    constraint: m[1] && unquote(m[1])
  })],
  // data
  [/value too long for type/i, () => ({ code: "22001" })],
  [/invalid input syntax/i, () => ({ code: "22P02" })],
  [/division by zero/i, () => ({ code: "22012" })],
  [/out of range for type|field value out of range|value out of range/i, () => ({ code: "22003" })],
  // permissions
  [/permission denied|row-level security|password authentication failed|JWT expired/i, () => ({ code: "42501" })],
  // queries
  [/JSON object requested, multiple \(or no\) rows returned|The result contains 0 rows|no rows returned/i, () => ({
    code: "P0002"
  })],
  [/syntax error at or near/i, () => ({ code: "42601" })],
  [/read-only transaction/i, () => ({ code: "25006" })],
  [new RegExp(`(?:relation|table) ${quoted} does not exist`, "i"), () => ({ code: "42P01" })],
  [new RegExp(`column ${quoted} (?:of relation ${quoted} )?does not exist`, "i"), () => ({ code: "42703" })]
]

const inferFromMessage = (message: string): Inferred | undefined => {
  for (const [pattern, make] of MESSAGE_RULES) {
    const match = pattern.exec(message)
    if (match) return make(match)
  }
  return undefined
}

const MAX_NODES = 512
const MAX_MESSAGES = 6

/** Breadth-first over the error, its `cause`s, `errors` (AggregateError), Causes, Exits and FiberFailures. */
const walk = (input: unknown): Findings => {
  const found: Findings = {
    ours: undefined,
    server: undefined,
    postgrest: undefined,
    system: undefined,
    inferred: undefined,
    interrupted: false,
    messages: []
  }
  const queue: Array<unknown> = [input]
  const seen = new Set<unknown>()
  const enqueue = (u: unknown) => {
    if (typeof u === "string" || (isObj(u) && !seen.has(u))) queue.push(u)
  }
  const note = (message: string | undefined) => {
    const text = nonEmpty(message)
    if (text !== undefined && found.messages.length < MAX_MESSAGES && !found.messages.includes(text)) {
      found.messages.push(text)
    }
    if (text !== undefined && found.inferred === undefined) found.inferred = inferFromMessage(text)
  }
  for (let index = 0; index < queue.length && index < MAX_NODES; index++) {
    const node = queue[index]
    if (typeof node === "string") {
      note(node)
      continue
    }
    if (!isObj(node) || seen.has(node)) continue
    seen.add(node)
    try {
      if (isDatabaseError(node)) {
        found.ours ??= node
        continue
      }
      if (Cause.isCause(node)) {
        for (const item of Chunk.toReadonlyArray(Cause.failures(node))) enqueue(item)
        for (const item of Chunk.toReadonlyArray(Cause.defects(node))) enqueue(item)
        if (Cause.isInterruptedOnly(node)) found.interrupted = true
        continue
      }
      if (Exit.isExit(node)) {
        if (Exit.isFailure(node)) enqueue(node.cause)
        continue
      }
      if (Runtime.isFiberFailure(node)) {
        enqueue(node[Runtime.FiberFailureCauseId])
      }
      if (Cause.isTimeoutException(node)) found.inferred ??= { code: "57014" }
      if (Cause.isNoSuchElementException(node)) found.inferred ??= { code: "P0002" }
    } catch {
      // a hostile object: keep walking what we can read
    }
    const code = getString(node, "code")
    if (code !== undefined) {
      if (isSqlStateOf(code, node)) {
        found.server ??= readServerError(node, code)
      } else if (/^PGRST/i.test(code)) {
        found.postgrest ??= {
          code: code.toUpperCase(),
          message: getString(node, "message"),
          details: getString(node, "details"),
          hint: getString(node, "hint")
        }
      } else if (
        CONNECTION_CODES.has(code) ||
        (/^E[A-Z_]+$/.test(code) && NETWORK_SYSCALLS.has(getString(node, "syscall") ?? ""))
      ) {
        found.system ??= { code, message: getString(node, "message") }
      }
    }
    note(getString(node, "message"))
    enqueue(get(node, "cause"))
    enqueue(get(node, "error"))
    const errors = get(node, "errors")
    try {
      if (Array.isArray(errors)) for (const item of errors.slice(0, 16)) enqueue(item)
    } catch {
      // a hostile array
    }
  }
  return found
}

const readServerError = (node: Obj, code: string): ServerError => ({
  code,
  message: getString(node, "message"),
  // PostgREST passes SQLSTATEs through as `{ code, message, details, hint }`
  detail: getString(node, "detail") ?? getString(node, "details"),
  hint: getString(node, "hint"),
  severity: getString(node, "severity"),
  constraint: getString(node, "constraint"),
  table: getString(node, "table"),
  schema: getString(node, "schema"),
  column: getString(node, "column"),
  dataType: getString(node, "dataType"),
  where: getString(node, "where")
})

// ---------------------------------------------------------------------------
// Detail text: key columns and referenced tables
// ---------------------------------------------------------------------------

const KEYWORDS: ReadonlySet<string> = new Set([
  "and",
  "or",
  "not",
  "null",
  "true",
  "false",
  "is",
  "as",
  "in",
  "case",
  "when",
  "then",
  "else",
  "end",
  "distinct",
  "from",
  "at",
  "time",
  "zone",
  "interval"
])

/** Column names inside an index expression: not function names, types, keywords or literals. */
const identifiersIn = (expression: string): Array<string> => {
  const out: Array<string> = []
  let i = 0
  let skipNames = false // after `::` or COLLATE: type / collation names follow
  const nextNonSpace = (from: number): string | undefined => {
    let j = from
    while (j < expression.length && /\s/.test(expression[j]!)) j++
    return expression[j]
  }
  while (i < expression.length) {
    const ch = expression[i]!
    if (ch === "'") {
      i++
      while (i < expression.length) {
        if (expression[i] === "'" && expression[i + 1] === "'") i += 2
        else if (expression[i] === "'") break
        else i++
      }
      i++
      skipNames = false
      continue
    }
    if (ch === "\"" || /[A-Za-z_]/.test(ch)) {
      let name: string
      if (ch === "\"") {
        let j = i + 1
        let text = ""
        while (j < expression.length) {
          if (expression[j] === "\"" && expression[j + 1] === "\"") {
            text += "\""
            j += 2
          } else if (expression[j] === "\"") break
          else text += expression[j++]
        }
        name = text
        i = j + 1
      } else {
        const match = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(expression.slice(i))!
        name = match[0]
        i += name.length
      }
      const isFunction = nextNonSpace(i) === "("
      if (ch !== "\"" && name.toLowerCase() === "collate") skipNames = true
      else if (!isFunction && !skipNames && (ch === "\"" || !KEYWORDS.has(name.toLowerCase()))) out.push(name)
      continue
    }
    if (ch === ":" && expression[i + 1] === ":") {
      skipNames = true
      i += 2
      continue
    }
    if (/\s/.test(ch)) {
      i++
      continue
    }
    skipNames = false
    i++
  }
  return out
}

const keyPartColumns = (part: string): Array<string> => {
  const quotedMatch = /^"((?:[^"]|"")*)"$/.exec(part)
  if (quotedMatch) return [unquote(quotedMatch[1]!)]
  if (/^[A-Za-z_][A-Za-z0-9_$]*$/.test(part)) return [part]
  return identifiersIn(part)
}

/**
 * The key columns of pg's detail text: `Key (org_id, email)=(...) already exists.` gives
 * `["org_id", "email"]`, `Key (lower(email::text))=(...)` gives `["email"]`, quoted identifiers
 * are unquoted. Only the part before `)=(` is read, never the values. Why: the detail is the only
 * place pg names the columns of a unique, foreign-key or exclusion violation.
 *
 * @since 0.1.0
 */
export const keyColumnsFromDetail = (detail: string): ReadonlyArray<string> | undefined => {
  const text = detail.trimStart()
  if (!text.startsWith("Key (")) return undefined
  const parts: Array<string> = []
  let current = ""
  let depth = 1
  let quote: "\"" | "'" | undefined
  let i = 5
  for (; i < text.length; i++) {
    const ch = text[i]!
    if (quote !== undefined) {
      current += ch
      if (ch === quote) {
        if (text[i + 1] === quote) {
          current += quote
          i++
        } else quote = undefined
      }
      continue
    }
    if (ch === "\"" || ch === "'") quote = ch
    else if (ch === "(") depth++
    else if (ch === ")") {
      depth--
      if (depth === 0) break
    } else if (ch === "," && depth === 1) {
      parts.push(current.trim())
      current = ""
      continue
    }
    current += ch
  }
  if (depth !== 0 || text.slice(i + 1, i + 3) !== "=(") return undefined
  parts.push(current.trim())
  const columns: Array<string> = []
  for (const part of parts) {
    for (const column of keyPartColumns(part)) if (!columns.includes(column)) columns.push(column)
  }
  return columns.length > 0 ? columns : undefined
}

const FK_MISSING = new RegExp(`is not present in table ${quoted}`)
const FK_REFERENCED = new RegExp(`is still referenced from table ${quoted}`)

const foreignKeyFacts = (
  detail: string | undefined,
  message: string | undefined
): { problem?: ForeignKeyProblem; referencedTable?: string } => {
  const missing = detail === undefined ? null : FK_MISSING.exec(detail)
  if (missing) return { problem: "missing_reference", referencedTable: unquote(missing[1]!) }
  const referenced = detail === undefined ? null : FK_REFERENCED.exec(detail)
  if (referenced) return { problem: "still_referenced", referencedTable: unquote(referenced[1]!) }
  if (message !== undefined) {
    if (/^insert or update on table/i.test(message)) return { problem: "missing_reference" }
    if (/^update or delete on table/i.test(message)) return { problem: "still_referenced" }
  }
  return {}
}

const constraintFromMessage = (message: string | undefined): string | undefined => {
  const match = message === undefined ? null : new RegExp(`constraint ${quoted}`).exec(message)
  return match ? unquote(match[1]!) : undefined
}

const tableFromMessage = (message: string | undefined): string | undefined => {
  if (message === undefined) return undefined
  const trailing = new RegExp(`on table ${quoted}$`).exec(message)
  const match = trailing ?? new RegExp(`(?:relation|table) ${quoted}`).exec(message)
  return match ? unquote(match[1]!) : undefined
}

const columnFromMessage = (message: string | undefined): string | undefined => {
  const match = message === undefined ? null : new RegExp(`null value in column ${quoted}`).exec(message)
  return match ? unquote(match[1]!) : undefined
}

/** PostgreSQL's default names: `<table>_<column>_check`, `..._not_null`, `..._excl`. */
const columnFromConstraintName = (constraint: string, table: string | undefined): string | undefined => {
  if (table === undefined || !constraint.startsWith(`${table}_`)) return undefined
  const match = /^(.+)_(?:check|not_null|excl)\d*$/.exec(constraint.slice(table.length + 1))
  return match && /^[a-z_][a-z0-9_$]*$/.test(match[1]!) ? match[1] : undefined
}

// ---------------------------------------------------------------------------
// User messages: plain language, a field name at most, never values or internals
// ---------------------------------------------------------------------------

const humanize = (field: string): string | undefined => {
  const text = field
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/[_\s]+/g, " ")
    .trim()
    .toLowerCase()
  return text === "" || text.length > 64 ? undefined : text
}

const list = (names: ReadonlyArray<string>): string =>
  names.length <= 1 ? (names[0] ?? "") : `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`

interface MessageFacts {
  readonly tag: SqlStateTag
  readonly kind: ConstraintKind | undefined
  readonly fallback: string
  readonly field: string | undefined
  readonly fields: ReadonlyArray<string> | undefined
  readonly foreignKey: ForeignKeyProblem | undefined
}

const userMessageFor = (facts: MessageFacts): string => {
  const field = facts.field === undefined ? undefined : humanize(facts.field)
  const fields = (facts.fields ?? []).map(humanize).filter((f): f is string => f !== undefined)
  if (facts.tag === "InvalidData") {
    return field === undefined ? facts.fallback : `The value for ${field} is not valid.`
  }
  if (facts.tag !== "ConstraintViolation") return facts.fallback
  switch (facts.kind) {
    case "unique":
      if (field !== undefined) return `A record with this ${field} already exists.`
      if (fields.length > 1) return `A record with this combination of ${list(fields)} already exists.`
      return facts.fallback
    case "foreign_key":
      if (facts.foreignKey === "still_referenced") {
        return "This record is still in use by other records, so it cannot be deleted or changed."
      }
      if (field !== undefined) return `The selected ${field} does not exist.`
      if (fields.length > 1) return `The selected combination of ${list(fields)} does not exist.`
      return facts.fallback
    case "not_null":
      return field === undefined ? facts.fallback : `The ${field} field is required.`
    case "check":
      return field === undefined ? facts.fallback : `The value for ${field} is not allowed.`
    case "exclusion":
      return field === undefined ? facts.fallback : `The value for ${field} conflicts with an existing record.`
    default:
      return facts.fallback
  }
}

// ---------------------------------------------------------------------------
// Building the tagged errors
// ---------------------------------------------------------------------------

interface Built {
  readonly tag: SqlStateTag
  readonly kind?: ConstraintKind | undefined
  readonly foreignKey?: ForeignKeyProblem | undefined
  readonly referencedTable?: string | undefined
  readonly userMessage: string
  readonly technicalMessage: string
  readonly sqlState?: string | undefined
  readonly errorCode?: string | undefined
  readonly constraint?: string | undefined
  readonly table?: string | undefined
  readonly field?: string | undefined
  readonly fields?: ReadonlyArray<string> | undefined
  readonly attempts?: number | undefined
  readonly cause: unknown
}

/** Drops `undefined` values (exactOptionalPropertyTypes: optional keys are omitted, never undefined). */
const defined = <T extends Record<string, unknown>>(record: T): { [K in keyof T]: Exclude<T[K], undefined> } => {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(record)) if (value !== undefined) out[key] = value
  return out as { [K in keyof T]: Exclude<T[K], undefined> }
}

const build = (b: Built): DatabaseError => {
  const { foreignKey, kind, referencedTable, tag, ...rest } = b
  const props = defined({ ...rest, fields: rest.fields === undefined ? undefined : [...rest.fields] })
  switch (tag) {
    case "ConstraintViolation":
      return new ConstraintViolation({ ...props, kind: kind ?? "other", ...defined({ foreignKey, referencedTable }) })
    case "InvalidData":
      return new InvalidData(props)
    case "Deadlock":
      return new Deadlock(props)
    case "SerializationFailure":
      return new SerializationFailure(props)
    case "ConnectionError":
      return new ConnectionError(props)
    case "CommitOutcomeUnknown":
      return new CommitOutcomeUnknown(props)
    case "QueryTimeout":
      return new QueryTimeout(props)
    case "PermissionDenied":
      return new PermissionDenied(props)
    case "NotFound":
      return new NotFound(props)
    case "QueryError":
      return new QueryError(props)
    case "UnknownDatabaseError":
      return new UnknownDatabaseError(props)
  }
}

const UNKNOWN_RULE: SqlStateRule = {
  tag: "UnknownDatabaseError",
  userMessage: defaultUserMessages.UnknownDatabaseError
}

const chainText = (found: Findings, fallback: unknown): string =>
  found.messages.length > 0 ? found.messages.join(": ") : safeString(fallback)

interface Facts {
  readonly code: string
  readonly reported: boolean
  readonly message: string | undefined
  readonly detail: string | undefined
  readonly constraint: string | undefined
  readonly table: string | undefined
  readonly column: string | undefined
  readonly errorCode: string | undefined
  readonly technicalMessage: string
}

const fromFacts = (facts: Facts, cause: unknown, constraints: ConstraintLookup | undefined): DatabaseError => {
  const rule = sqlStateRule(facts.code) ?? UNKNOWN_RULE
  const isConstraint = rule.tag === "ConstraintViolation"
  const constraint = facts.constraint ?? (isConstraint ? constraintFromMessage(facts.message) : undefined)
  const table = facts.table ?? (isConstraint ? tableFromMessage(facts.message) : undefined)
  const keys = isConstraint && facts.detail !== undefined ? keyColumnsFromDetail(facts.detail) : undefined
  const fk = rule.kind === "foreign_key" ? foreignKeyFacts(facts.detail, facts.message) : {}
  const registered = constraint === undefined ? undefined : safeLookup(constraints, constraint, table)
  const column = facts.column ?? (rule.kind === "not_null" ? columnFromMessage(facts.message) : undefined)
  const field = nonEmpty(registered?.field) ?? column ?? (keys?.length === 1 ? keys[0] : undefined) ??
    (constraint !== undefined && (rule.kind === "check" || rule.kind === "exclusion")
      ? columnFromConstraintName(constraint, table)
      : undefined)
  const fields = keys !== undefined && keys.length > 1 ? keys : undefined
  const userMessage = nonEmpty(registered?.userMessage) ?? userMessageFor({
    tag: rule.tag,
    kind: rule.kind,
    fallback: rule.userMessage,
    field,
    fields: field === undefined ? fields : undefined,
    foreignKey: fk.problem
  })
  return build({
    tag: rule.tag,
    kind: rule.kind,
    foreignKey: fk.problem,
    referencedTable: fk.referencedTable,
    userMessage,
    technicalMessage: facts.technicalMessage,
    sqlState: facts.reported ? facts.code : undefined,
    errorCode: facts.errorCode,
    constraint,
    table,
    field,
    fields,
    cause
  })
}

const safeLookup = (
  constraints: ConstraintLookup | undefined,
  constraint: string,
  table: string | undefined
): ConstraintInfo | undefined => {
  try {
    return typeof constraints?.lookup === "function" ? constraints.lookup(constraint, table) : undefined
  } catch {
    return undefined
  }
}

const serverTechnical = (server: ServerError, found: Findings): string => {
  const name = sqlStateName(server.code)?.[0] ?? "unknown_sqlstate"
  const context = found.messages.filter((m) => m !== server.message)
  const parts = [
    `${context.length > 0 ? `${context.join(": ")}: ` : ""}[${server.code} ${name}] ${server.message ?? ""}`.trim()
  ]
  if (server.severity !== undefined && server.severity !== "ERROR") parts.push(`Severity: ${server.severity}`)
  if (server.detail !== undefined) parts.push(`Detail: ${server.detail}`)
  if (server.hint !== undefined) parts.push(`Hint: ${server.hint}`)
  if (server.table !== undefined) {
    parts.push(`Table: ${server.schema === undefined ? "" : `${server.schema}.`}${server.table}`)
  }
  if (server.column !== undefined) parts.push(`Column: ${server.column}`)
  if (server.constraint !== undefined) parts.push(`Constraint: ${server.constraint}`)
  if (server.dataType !== undefined) parts.push(`Type: ${server.dataType}`)
  if (server.where !== undefined) parts.push(`Where: ${server.where}`)
  return technical(parts.join(" | "))
}

const POSTGREST_RULES: ReadonlyArray<readonly [RegExp, SqlStateTag, string | undefined]> = [
  [/^PGRST116$/, "NotFound", undefined],
  [/^PGRST30[12]$/, "PermissionDenied", "Your session has expired or is not valid. Please sign in again."],
  [/^PGRST300$/, "UnknownDatabaseError", undefined],
  [/^PGRST3\d\d$/, "PermissionDenied", "Your session has expired or is not valid. Please sign in again."],
  [/^PGRST00\d$/, "ConnectionError", undefined],
  [/^PGRST[12]\d\d$/, "QueryError", undefined]
]

const fromPostgrest = (error: PostgrestError, found: Findings, cause: unknown): DatabaseError => {
  const [, tag, message] = POSTGREST_RULES.find(([pattern]) => pattern.test(error.code)) ??
    [undefined, "UnknownDatabaseError" as const, undefined]
  const parts = [`[${error.code}] ${error.message ?? ""}`.trim()]
  if (error.details !== undefined && error.details !== "") parts.push(`Details: ${error.details}`)
  if (error.hint !== undefined && error.hint !== "") parts.push(`Hint: ${error.hint}`)
  const context = found.messages.filter((m) => m !== error.message)
  return build({
    tag,
    userMessage: message ?? defaultUserMessages[tag],
    technicalMessage: technical(`${context.length > 0 ? `${context.join(": ")}: ` : ""}${parts.join(" | ")}`),
    errorCode: error.code,
    cause
  })
}

interface Analysis {
  readonly error: DatabaseError
  /** Whether anything in the input was recognised (false: an `UnknownDatabaseError` by default). */
  readonly recognised: boolean
  /** The severity the server reported (FATAL/PANIC mean the session died). */
  readonly severity: string | undefined
  /** Whether the result is one of our own errors found in the input. */
  readonly own?: boolean
}

const analyze = (input: unknown, constraints: ConstraintLookup | undefined): Analysis => {
  // A Cause (or what carries one): classify each failure / defect, take the first recognised one.
  const cause = causeOf(input)
  if (cause !== undefined) {
    const items = [...Chunk.toReadonlyArray(Cause.failures(cause)), ...Chunk.toReadonlyArray(Cause.defects(cause))]
    let first: Analysis | undefined
    for (const item of items.slice(0, 16)) {
      const analysis = analyze(item, constraints)
      if (analysis.recognised) return analysis
      first ??= analysis
    }
    if (first !== undefined) return first
    const interrupted = Cause.isInterruptedOnly(cause)
    return {
      error: new UnknownDatabaseError({
        technicalMessage: interrupted ? "The operation was interrupted" : "An empty Cause carried no error",
        cause: input
      }),
      recognised: false,
      severity: undefined
    }
  }

  const found = walk(input)
  if (found.ours !== undefined) return { error: found.ours, recognised: true, severity: undefined, own: true }
  if (found.server !== undefined) {
    const server = found.server
    return {
      error: fromFacts({
        code: server.code,
        reported: true,
        message: server.message,
        detail: server.detail,
        constraint: server.constraint,
        table: server.table,
        column: server.column,
        errorCode: undefined,
        technicalMessage: serverTechnical(server, found)
      }, input, constraints),
      recognised: true,
      severity: server.severity
    }
  }
  if (found.postgrest !== undefined) {
    return { error: fromPostgrest(found.postgrest, found, input), recognised: true, severity: undefined }
  }
  if (found.system !== undefined) {
    const text = chainText(found, input)
    return {
      error: fromFacts({
        code: "08001",
        reported: false,
        message: undefined,
        detail: undefined,
        constraint: undefined,
        table: undefined,
        column: undefined,
        errorCode: found.system.code,
        technicalMessage: technical(text.includes(found.system.code) ? text : `${found.system.code}: ${text}`)
      }, input, constraints),
      recognised: true,
      severity: undefined
    }
  }
  if (found.inferred !== undefined) {
    const inferred = found.inferred
    const text = chainText(found, input)
    return {
      error: fromFacts({
        code: inferred.code,
        reported: false,
        message: found.messages.find((m) => inferFromMessage(m) !== undefined),
        detail: undefined,
        constraint: inferred.constraint,
        table: inferred.table,
        column: inferred.column,
        errorCode: inferred.errorCode,
        technicalMessage: technical(text)
      }, input, constraints),
      recognised: true,
      severity: undefined
    }
  }
  return {
    error: new UnknownDatabaseError({
      technicalMessage: technical(`Unrecognised error: ${chainText(found, input)}`),
      cause: input
    }),
    recognised: false,
    severity: undefined
  }
}

const causeOf = (input: unknown): Cause.Cause<unknown> | undefined => {
  try {
    if (Cause.isCause(input)) return input
    if (Exit.isExit(input)) return Exit.isFailure(input) ? input.cause : undefined
    if (Runtime.isFiberFailure(input)) return input[Runtime.FiberFailureCauseId]
  } catch {
    // not a Cause
  }
  return undefined
}

const lookupOf = (options: unknown): ConstraintLookup | undefined => {
  const constraints = get(options, "constraints")
  return typeof get(constraints, "lookup") === "function" ? constraints as ConstraintLookup : undefined
}

const safeAnalyze = (error: unknown, options: ClassifyOptions | undefined): Analysis => {
  try {
    return analyze(error, lookupOf(options))
  } catch (defect) {
    return {
      error: new UnknownDatabaseError({
        technicalMessage: technical(`Unclassifiable error (${safeString(defect)})`),
        cause: error
      }),
      recognised: false,
      severity: undefined
    }
  }
}

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

/**
 * Classifies any failure of a database call. Accepts pg's `DatabaseError`, @effect/sql's `SqlError`
 * (cause chains of any depth), Effect `Cause`s / `Exit`s / `FiberFailure`s (defects included), our
 * own tagged errors (returned unchanged), PostgREST / supabase-js `{ code, message, details, hint }`,
 * Node system errors, `AggregateError`, strings, `null` and hostile objects.
 * Why: the seed's entry point; it never throws and never returns `undefined`.
 *
 * @since 0.1.0
 */
export const classifyDatabaseError = (error: unknown, options?: ClassifyOptions): DatabaseError =>
  safeAnalyze(error, options).error

/**
 * Classifies a failure of COMMIT. Why: if the connection broke (class 08, 57P0x, a socket error), a
 * timeout fired, the session died (FATAL), or the failure is unrecognised, the transaction may or
 * may not have committed: that is `CommitOutcomeUnknown` (VERIFY_COMMIT, never retryable). An ERROR
 * the server answered COMMIT with (40001, 23xxx from deferred constraints, ...) means it rolled
 * back, so those keep their normal classification.
 *
 * @since 0.1.0
 */
export const classifyCommitFailure = (error: unknown, options?: ClassifyOptions): DatabaseError => {
  const { error: classified, own, severity } = safeAnalyze(error, options)
  if (own === true && classified._tag === "CommitOutcomeUnknown") return classified
  const died = severity === "FATAL" || severity === "PANIC"
  const unknownOutcome = classified._tag === "ConnectionError" || classified._tag === "QueryTimeout" ||
    classified._tag === "CommitOutcomeUnknown" ||
    (classified._tag === "UnknownDatabaseError" && (classified.sqlState === undefined || died)) || died
  if (!unknownOutcome) return classified
  return new CommitOutcomeUnknown(defined({
    technicalMessage: technical(`COMMIT outcome unknown: ${classified.technicalMessage}`),
    sqlState: classified.sqlState,
    errorCode: classified.errorCode,
    table: classified.table,
    attempts: classified.attempts,
    cause: classified.cause
  }))
}

/**
 * Whether the failure may succeed when retried. Why: the seed's helper for retry loops.
 *
 * @since 0.1.0
 */
export const isDatabaseErrorRetryable = (error: unknown): boolean => classifyDatabaseError(error).isRetryable

/**
 * The plain-language message for an end user. Why: the seed's helper for toasts and forms.
 *
 * @since 0.1.0
 */
export const getDatabaseErrorMessage = (error: unknown): string => classifyDatabaseError(error).userMessage

/**
 * What the caller should do next. Why: the seed's helper for choosing a recovery path.
 *
 * @since 0.1.0
 */
export const getDatabaseRecoveryAction = (error: unknown): DatabaseRecoveryAction =>
  classifyDatabaseError(error).recoveryAction

/**
 * Everything we know about a SQLSTATE. Why: logs, dashboards and docs can say what a code means
 * and what this library does with it.
 *
 * @since 0.1.0
 */
export interface SqlStateDescription {
  readonly code: string
  /** The condition name (`unique_violation`), `undefined` for a code PostgreSQL 18 does not define. */
  readonly name: string | undefined
  readonly classCode: string
  /** The class description (`Integrity Constraint Violation`). */
  readonly className: string | undefined
  /** E (error), W (warning) or S (success), from errcodes.txt. */
  readonly severity: SqlStateSeverity | undefined
  /** Whether the code is one of PostgreSQL 18's. */
  readonly known: boolean
  readonly tag: DatabaseErrorTag
  readonly kind?: ConstraintKind
  readonly category: DatabaseErrorCategory
  readonly isRetryable: boolean
  readonly recoveryAction: DatabaseRecoveryAction
  /** The message used when nothing more specific (a field) is known. */
  readonly userMessage: string
}

/**
 * Describes a SQLSTATE: `describeSqlState("23505")` gives `unique_violation`, a `unique`
 * `ConstraintViolation`, FIX_DATA. Why: the classification table made inspectable.
 *
 * @since 0.1.0
 */
export const describeSqlState = (code: string): SqlStateDescription => {
  const normalized = typeof code === "string" ? code.trim().toUpperCase() : ""
  const entry = sqlStateName(normalized)
  const rule = (SQLSTATE.test(normalized) ? sqlStateRule(normalized) : undefined) ?? UNKNOWN_RULE
  const traits = databaseErrorTraits[rule.tag]
  return {
    code: normalized,
    name: entry?.[0],
    classCode: normalized.slice(0, 2),
    className: sqlStateClassName(normalized.slice(0, 2)),
    severity: entry?.[1],
    known: entry !== undefined,
    tag: rule.tag,
    ...(rule.kind === undefined ? {} : { kind: rule.kind }),
    category: traits.category,
    isRetryable: traits.isRetryable,
    recoveryAction: traits.recoveryAction,
    userMessage: rule.userMessage
  }
}

/**
 * `classifyDatabaseError` in Effect, using the `ConstraintRegistry` when one is provided.
 * Why: application code classifies with its own constraint names and messages.
 *
 * @since 0.1.0
 */
export const classify = (error: unknown): Effect.Effect<DatabaseError> =>
  Effect.map(
    Effect.serviceOption(ConstraintRegistry),
    (registry) => classifyDatabaseError(error, Option.match(registry, { onNone: () => ({}), onSome: (constraints) => ({ constraints }) }))
  )

/** Whether a value is a `SqlError` (or `ResultLengthMismatch`) of @effect/sql, by its type id. */
const isSqlError = (u: unknown): boolean => isObj(u) && get(u, SqlErrorTypeId) === SqlErrorTypeId

/**
 * Whether a defect is a database failure that `refineErrors` turns into a typed failure: a
 * `SqlError` (COMMIT and ROLLBACK failures of `sql.withTransaction` die with one), one of our
 * errors, or a bare pg server error. Why: other defects are bugs and must stay defects.
 *
 * @since 0.1.0
 */
export const isDatabaseDefect = (defect: unknown): boolean => {
  if (isSqlError(defect) || isDatabaseError(defect)) return true
  if (!isObj(defect)) return false
  const code = getString(defect, "code")
  return code !== undefined && SQLSTATE.test(code) && typeof get(defect, "severity") === "string"
}

/**
 * The error type after `refineErrors`: `SqlError` replaced by the union. Why: names the result.
 *
 * @since 0.1.0
 */
export type Refined<E> = Exclude<E, { readonly _tag: "SqlError" }> | DatabaseError

/**
 * Rewrites a Cause: `SqlError` failures and database defects become `DatabaseError` failures; the
 * caller's own failures, other defects and interruptions are kept as they are.
 * Why: the building block of `refineErrors`, usable where a Cause is already in hand.
 *
 * @since 0.1.0
 */
export const refineCause = <E>(cause: Cause.Cause<E>, options?: ClassifyOptions): Cause.Cause<Refined<E>> =>
  Cause.match<Cause.Cause<Refined<E>>, E>(cause, {
    onEmpty: Cause.empty,
    onFail: (error) =>
      Cause.fail(
        (isObj(error) && get(error, "_tag") === "SqlError" && isSqlError(error)
          ? classifyDatabaseError(error, options)
          : error) as Refined<E>
      ),
    onDie: (defect) => isDatabaseDefect(defect) ? Cause.fail(classifyDatabaseError(defect, options)) : Cause.die(defect),
    onInterrupt: Cause.interrupt,
    onSequential: Cause.sequential,
    onParallel: Cause.parallel
  })

/**
 * Turns an effect's `SqlError` failures, and its defects that carry a `SqlError` or pg error
 * (COMMIT failures of `sql.withTransaction` arrive as defects), into the `DatabaseError` union.
 * Other failures pass through unchanged and other defects stay defects. Uses the
 * `ConstraintRegistry` when one is provided.
 * Why: makes `Effect.catchTag("ConstraintViolation", ...)` work on any @effect/sql program.
 *
 * @since 0.1.0
 */
export const refineErrors = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, Refined<E>, R> =>
  Effect.catchAllCause(self, (cause) =>
    Effect.flatMap(Effect.serviceOption(ConstraintRegistry), (registry) =>
      Effect.failCause(
        refineCause(cause, Option.match(registry, { onNone: () => ({}), onSome: (constraints) => ({ constraints }) }))
      )))
