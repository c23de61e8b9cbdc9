/**
 * Reading values that may be anything: proxies whose every trap throws, throwing getters, revoked
 * proxies, cyclic objects, 10 MB strings. Every read is guarded, and every text read is cut (then
 * scrubbed of passwords) before anyone applies a pattern to it, so the cost of classification is
 * bounded by these limits, not by the input.
 *
 * @internal
 */
import { clipSecrets } from "../redact.js"

/** Free text from outside (message, detail, hint, where): at most this many characters are kept. */
export const MAX_TEXT = 4096
/** Identifiers (constraint, table, column, ...): PostgreSQL's are at most 63 bytes. */
export const MAX_NAME = 256
/** Codes longer than this are no SQLSTATE, PostgREST or Node code: ignored. */
export const MAX_CODE = 64
/** The technical message of a classified error is cut here (plus the note saying so). */
export const MAX_TECHNICAL = 4000

/** Objects and functions: the values that have properties to read. */
export const isObj = (u: unknown): u is object => (typeof u === "object" && u !== null) || typeof u === "function"

/** `u[key]`, or `undefined` when `u` has no properties or reading throws. */
export const get = (u: unknown, key: PropertyKey): unknown => {
  if (!isObj(u)) return undefined
  try {
    return (u as Record<PropertyKey, unknown>)[key]
  } catch {
    return undefined
  }
}

/** `u[key]` when it is a string. */
export const getString = (u: unknown, key: PropertyKey): string | undefined => {
  const value = get(u, key)
  return typeof value === "string" ? value : undefined
}

/** `undefined` for `undefined`, the empty string and blanks. */
export const nonEmpty = (s: string | undefined): string | undefined =>
  s === undefined || s.trim() === "" ? undefined : s

/** Outside free text, cut and scrubbed (see `clipSecrets`). */
export const clipText = (s: string | undefined): string | undefined =>
  s === undefined ? undefined : clipSecrets(s, MAX_TEXT)

/** A string property of the input as outside free text: cut and scrubbed. */
export const getText = (u: unknown, key: PropertyKey): string | undefined => clipText(getString(u, key))

/** A string property of the input that names something (a constraint, a table): cut and scrubbed. */
export const getName = (u: unknown, key: PropertyKey): string | undefined => {
  const value = getString(u, key)
  return value === undefined ? undefined : clipSecrets(value, MAX_NAME)
}

/** A string property that holds a code, `undefined` when too long to be one. */
export const getCode = (u: unknown, key: PropertyKey): string | undefined => {
  const value = getString(u, key)
  return value === undefined || value.length > MAX_CODE ? undefined : value
}

/** The technical message: cut to `MAX_TECHNICAL` first, then scrubbed (linear, bounded). */
export const technical = (text: string): string => clipSecrets(text, MAX_TECHNICAL)

/**
 * The properties `describe` shows of a value without a message: those errors of drivers, HTTP
 * clients and Node carry. Why a fixed list: enumerating keys costs as much as the object is big
 * (100,000 keys: 20 ms), runs Proxy traps, and would print a thrown config's `password: "..."`.
 */
const DESCRIBED_KEYS: ReadonlyArray<string> = [
  "name",
  "code",
  "errno",
  "syscall",
  "address",
  "port",
  "status",
  "statusCode",
  "type",
  "_tag",
  "reason",
  "detail",
  "details",
  "hint",
  "description",
  "error"
]

/** One property value in `describe`: primitives as JSON, strings cut, objects by their kind only. */
const describeValue = (value: unknown): string | undefined => {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value.length > MAX_NAME ? `${value.slice(0, MAX_NAME)}...` : value)
    case "number":
    case "boolean":
      return String(value)
    case "bigint":
      return `${value}n`
    case "symbol":
      return `Symbol(${JSON.stringify((value.description ?? "").slice(0, MAX_NAME))})`
    case "function":
      return "[function]"
    case "object":
      return value === null ? "null" : Array.isArray(value) ? "[array]" : "[object]"
    default:
      return undefined
  }
}

/** Whether `u` is an array; `undefined` when even that cannot be read (a revoked proxy). */
const isArraySafe = (u: object): boolean | undefined => {
  try {
    return Array.isArray(u)
  } catch {
    return undefined
  }
}

/** The name of `u`'s constructor when it says something (not `Object`, not absurdly long). */
const constructorName = (u: object): string | undefined => {
  const name = getString(get(u, "constructor"), "name")
  return name === undefined || name === "Object" || name.length > 64 ? undefined : name
}

/**
 * A short rendering of a value without a message: its constructor's name and the `DESCRIBED_KEYS`
 * it has, `{"code":12345}`. Bounded whatever the value: a fixed number of guarded reads.
 */
const describe = (u: object): string => {
  const isArray = isArraySafe(u)
  if (isArray === undefined) return "[unreadable value]"
  if (isArray) {
    const length = get(u, "length")
    return `[array of ${typeof length === "number" ? length : "?"}]`
  }
  const name = constructorName(u)
  const prefix = name === undefined ? (typeof u === "function" ? "[function] " : "") : `${name} `
  const parts: Array<string> = []
  for (const key of DESCRIBED_KEYS) {
    const value = describeValue(get(u, key))
    if (value !== undefined) parts.push(`${JSON.stringify(key)}:${value}`)
  }
  return `${prefix}{${parts.join(",")}}`
}

/** What a value is when nothing else can be said of it. Never throws. */
const lastResort = (u: unknown): string => {
  try {
    return Object.prototype.toString.call(u)
  } catch {
    return "[unprintable value]"
  }
}

/** Any value as a short text, outside text in it cut and scrubbed (never throws). */
export const safeString = (u: unknown): string => {
  try {
    if (typeof u === "string") return clipSecrets(u, MAX_TEXT)
    if (typeof u === "symbol") return `Symbol(${clipSecrets(u.description ?? "", MAX_NAME)})`
    if (u === null) return "null"
    if (u === undefined) return "undefined"
    if (typeof u !== "object" && typeof u !== "function") return String(u)
    const name = getName(u, "name")
    const message = getText(u, "message")
    if (message !== undefined) return name ? `${name}: ${message}` : message
    return describe(u)
  } catch {
    return lastResort(u)
  }
}

/**
 * The shapes of codes worth showing beside a kind: a SQLSTATE, a Node or TLS code (capitals and
 * underscores: `ECONNREFUSED`, `ERR_SOCKET_CLOSED`), a PostgREST code. Anything else in `code` is
 * outside text like any other (a crafted `PGRST<password>`) and is left out.
 */
const KNOWN_CODE = /^(?:[0-9A-Z]{5}|[A-Z][A-Z_]{1,39}|PGRST\d{3})$/

/** The cause's `code` when it has the shape of a known kind of code, or is an integer (an errno). */
const knownCode = (u: object): string | undefined => {
  const code = get(u, "code")
  if (typeof code === "number") return Number.isInteger(code) ? String(code) : undefined
  return typeof code === "string" && KNOWN_CODE.test(code) ? code : undefined
}

/**
 * What kind of value a cause is, in a few words and without any of its free text:
 * `SqlError`, `DatabaseError [23505]`, `Error [ECONNREFUSED]`, `string (10485760 characters)`.
 * Why: the JSON form of a classified error (logs) must not carry the cause's texts (a password,
 * a row's values, 10 MB) nor throw on a hostile one; the cause itself stays on the error.
 */
export const summarizeCause = (u: unknown): string => {
  try {
    if (typeof u === "string") return `string (${u.length} characters)`
    if (!isObj(u)) return u === null ? "null" : typeof u
    const tag = getString(u, "_tag")
    const kind = (tag !== undefined && /^\w{1,64}$/.test(tag) ? tag : undefined) ?? nonEmpty(constructorName(u)) ??
      (typeof u === "function" ? "function" : "object")
    const code = knownCode(u)
    return code === undefined ? kind : `${kind} [${code}]`
  } catch {
    return lastResort(u)
  }
}
