/**
 * The breadth-first walk over an error graph: the error, its `cause`s, `errors` (AggregateError),
 * Causes, Exits and FiberFailures. It collects what classification needs (the first server error,
 * PostgREST error, system error, recognised message, our own error) and the first few messages.
 *
 * Bounded whatever the input: at most `MAX_NODES` nodes per walk (`MAX_TOTAL_NODES` for all the
 * walks of one classification), and a budget of characters it may cut, scrub and match.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Exit from "effect/Exit"
import * as Runtime from "effect/Runtime"
import { type DatabaseError, isDatabaseError } from "../../Errors.js"
import { type Inferred, inferFromMessage, isConnectionSystemError, isPostgrestCode, isSqlStateOf } from "./rules.js"
import { clipText, get, getCode, getName, getString, getText, isObj, MAX_TEXT, nonEmpty } from "./safe.js"

/** The fields of pg's `DatabaseError` (and of PostgREST's SQLSTATE passthrough). */
export interface ServerError {
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

/** PostgREST's (and supabase-js's) error shape. */
export interface PostgrestError {
  readonly code: string
  readonly message: string | undefined
  readonly details: string | undefined
  readonly hint: string | undefined
}

/** A Node / undici system error that means the network or socket failed. */
export interface SystemError {
  readonly code: string
  readonly message: string | undefined
}

/** What a walk found: the first of each kind, and the first few messages (cut and scrubbed). */
export interface Findings {
  ours: DatabaseError | undefined
  server: ServerError | undefined
  postgrest: PostgrestError | undefined
  system: SystemError | undefined
  inferred: Inferred | undefined
  /** The message `inferred` was read from. */
  inferredFrom: string | undefined
  interrupted: boolean
  readonly messages: Array<string>
}

const MAX_NODES = 512
const MAX_MESSAGES = 6
/** Characters of message text the message rules may read in one walk (8 long messages). */
const MAX_INFERENCE_CHARS = 8 * MAX_TEXT
/** Characters of message text one walk may cut and scrub at all (16 long messages). */
const MAX_NOTED_CHARS = 16 * MAX_TEXT

/** Nodes all the walks of one classification may visit together (see `MAX_ANALYSES`). */
export const MAX_TOTAL_NODES = 4 * MAX_NODES

/** What one classification may still spend: nested analyses, and nodes across all its walks. */
export interface Budget {
  analyses: number
  nodes: number
}

/**
 * Breadth-first over the error, its `cause`s, `errors` (AggregateError), Causes, Exits and
 * FiberFailures: at most `MAX_NODES` nodes, and no more than the budget has left (but always the
 * input itself).
 */
export const walk = (input: unknown, budget: Budget): Findings => {
  const found: Findings = {
    ours: undefined,
    server: undefined,
    postgrest: undefined,
    system: undefined,
    inferred: undefined,
    inferredFrom: undefined,
    interrupted: false,
    messages: []
  }
  const queue: Array<unknown> = [input]
  const seen = new Set<unknown>()
  const enqueue = (u: unknown) => {
    if (queue.length < MAX_NODES && (typeof u === "string" || (isObj(u) && !seen.has(u)))) queue.push(u)
  }
  let inferenceBudget = MAX_INFERENCE_CHARS
  let notedBudget = MAX_NOTED_CHARS
  /** A message as read from the input: cut and scrubbed only when it will be kept or read. */
  const note = (message: string | undefined) => {
    if (message === undefined || notedBudget <= 0) return
    const keep = found.messages.length < MAX_MESSAGES
    const infer = found.inferred === undefined && inferenceBudget > 0
    if (!keep && !infer) return
    // The budgets count what is read (the cut), not what is left after scrubbing.
    const cost = Math.min(message.length, MAX_TEXT)
    notedBudget -= cost
    const text = nonEmpty(clipText(message))
    if (text === undefined) return
    if (keep && !found.messages.includes(text)) found.messages.push(text)
    if (infer) {
      inferenceBudget -= cost
      found.inferred = inferFromMessage(text)
      if (found.inferred !== undefined) found.inferredFrom = text
    }
  }
  const limit = Math.min(MAX_NODES, Math.max(1, budget.nodes))
  for (let index = 0; index < queue.length && index < limit; index++) {
    budget.nodes--
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
    const code = getCode(node, "code")
    if (code !== undefined) {
      if (isSqlStateOf(code, node)) {
        found.server ??= readServerError(node, code)
      } else if (isPostgrestCode(code)) {
        found.postgrest ??= {
          code: code.toUpperCase(),
          message: getText(node, "message"),
          details: getText(node, "details"),
          hint: getText(node, "hint")
        }
      } else if (isConnectionSystemError(code, node)) {
        found.system ??= { code, message: getText(node, "message") }
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

/** Every text is cut and scrubbed as it is read: nothing later sees more than `MAX_TEXT` characters. */
const readServerError = (node: object, code: string): ServerError => ({
  code,
  message: getText(node, "message"),
  // PostgREST passes SQLSTATEs through as `{ code, message, details, hint }`
  detail: getText(node, "detail") ?? getText(node, "details"),
  hint: getText(node, "hint"),
  severity: getName(node, "severity"),
  constraint: getName(node, "constraint"),
  table: getName(node, "table"),
  schema: getName(node, "schema"),
  column: getName(node, "column"),
  dataType: getName(node, "dataType"),
  where: getText(node, "where")
})

/** The Cause an input is or carries (an Exit's, a FiberFailure's), if any. Never throws. */
export const causeOf = (input: unknown): Cause.Cause<unknown> | undefined => {
  try {
    if (Cause.isCause(input)) return input
    if (Exit.isExit(input)) return Exit.isFailure(input) ? input.cause : undefined
    if (Runtime.isFiberFailure(input)) return input[Runtime.FiberFailureCauseId]
  } catch {
    // not a Cause
  }
  return undefined
}
