/**
 * The rules that recognise a failure without a SQLSTATE: Node system error codes, PostgREST codes,
 * and the messages of pg, pg-pool, @effect/sql and fetch. Pure data and lookups.
 *
 * Every text handed to these rules has already been cut to `MAX_TEXT` characters and scrubbed
 * (see `safe.ts`): no pattern here ever runs over more than that.
 *
 * @internal
 */
import { defaultUserMessages } from "../../Errors.js"
import { sqlStateName, sqlStateRule, type SqlStateTag } from "../sqlstate.js"
import { get, getCode } from "./safe.js"
import { SESSION_EXPIRED } from "./userMessage.js"

/** The shape of a SQLSTATE: five digits or capital letters. */
export const SQLSTATE = /^[0-9A-Z]{5}$/

/**
 * Whether `code` on `node` is a SQLSTATE the server sent: a known code or class, or any
 * SQLSTATE-shaped code on an object with a `severity` (pg's `DatabaseError`, a custom `RAISE`).
 */
export const isSqlStateOf = (code: string, node: object): boolean =>
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

/**
 * Whether `code` on `node` is a Node / undici system error that means the database could not be
 * reached or the socket broke: a known code, or any `E...` code of a network system call.
 */
export const isConnectionSystemError = (code: string, node: object): boolean =>
  CONNECTION_CODES.has(code) || (/^E[A-Z_]+$/.test(code) && NETWORK_SYSCALLS.has(getCode(node, "syscall") ?? ""))

/** Whether `code` is PostgREST's (`PGRST116`). */
export const isPostgrestCode = (code: string): boolean => /^PGRST[0-9A-Z]{1,8}$/i.test(code)

/** A PostgreSQL identifier as the server quotes it in messages: `"name"`, `""` for a quote. */
export const quoted = `"((?:[^"]|"")+)"`

/** The identifier inside `quoted`'s group. */
export const unquote = (s: string): string => s.replace(/""/g, "\"")

/** A recognised situation without a reported SQLSTATE: classified as if the server had sent `code`. */
export interface Inferred {
  readonly code: string
  readonly constraint?: string | undefined
  readonly column?: string | undefined
  readonly table?: string | undefined
  readonly errorCode?: string | undefined
}

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

/** The situation the first matching rule recognises in a (cut) message. */
export const inferFromMessage = (message: string): Inferred | undefined => {
  for (const [pattern, make] of MESSAGE_RULES) {
    const match = pattern.exec(message)
    if (match) return make(match)
  }
  return undefined
}

/** PostgREST codes (https://postgrest.org/en/stable/references/errors.html): the member and, where it differs, the message. */
const POSTGREST_RULES: ReadonlyArray<readonly [RegExp, SqlStateTag, string | undefined]> = [
  [/^PGRST116$/, "NotFound", undefined],
  [/^PGRST30[12]$/, "PermissionDenied", SESSION_EXPIRED],
  [/^PGRST300$/, "UnknownDatabaseError", undefined],
  [/^PGRST3\d\d$/, "PermissionDenied", SESSION_EXPIRED],
  [/^PGRST00\d$/, "ConnectionError", undefined],
  [/^PGRST[12]\d\d$/, "QueryError", undefined]
]

/** The member a PostgREST code maps to, and the user message (the member's default unless the code needs its own). */
export const postgrestRule = (code: string): { readonly tag: SqlStateTag; readonly userMessage: string } => {
  const [, tag, message] = POSTGREST_RULES.find(([pattern]) => pattern.test(code)) ??
    [undefined, "UnknownDatabaseError" as const, undefined]
  return { tag, userMessage: message ?? defaultUserMessages[tag] }
}
