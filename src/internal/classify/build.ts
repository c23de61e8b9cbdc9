/**
 * Building the members of the union from what classification found: the rule of the code, the
 * names in the server's texts, the registry, the user message and the technical message.
 *
 * @internal
 */
import type { ConstraintLookup } from "../../Classify.js"
import {
  type ConstraintKind,
  ConstraintViolation,
  DatabaseError,
  type Deadlock,
  defaultUserMessages,
  type ForeignKeyProblem
} from "../../Errors.js"
import { sqlStateName, type SqlStateRule, sqlStateRule, type SqlStateTag } from "../sqlstate.js"
import {
  columnFromConstraintName,
  columnFromMessage,
  constraintFromMessage,
  foreignKeyFacts,
  keyColumnsFromDetail,
  tableFromMessage
} from "./detail.js"
import { safeLookup } from "./registry.js"
import { type Inferred, postgrestRule } from "./rules.js"
import { nonEmpty, safeString, technical } from "./safe.js"
import { userMessageFor } from "./userMessage.js"
import type { Findings, PostgrestError, ServerError, SystemError } from "./walk.js"

/** Everything a member is built from; `kind`, `foreignKey`, `referencedTable` only for `ConstraintViolation`. */
export interface Built {
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
export const defined = <T extends Record<string, unknown>>(record: T): { [K in keyof T]: Exclude<T[K], undefined> } => {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(record)) if (value !== undefined) out[key] = value
  return out as { [K in keyof T]: Exclude<T[K], undefined> }
}

/** The props every member but `ConstraintViolation` and `TransactionTimeout` is built from. */
type CommonProps = ConstructorParameters<typeof Deadlock>[0]

/** The class of each tag: the union's members, looked up by their `_tag`. */
const classes = Object.fromEntries(DatabaseError.members.map((member) => [member._tag, member])) as unknown as {
  readonly [Tag in Exclude<SqlStateTag, "ConstraintViolation">]: new(props: CommonProps) => DatabaseError
}

/** The member of `tag`, with only the fields that are known (`undefined` ones are left out). */
export const build = (b: Built): DatabaseError => {
  const { foreignKey, kind, referencedTable, tag, ...rest } = b
  const props = defined({ ...rest, fields: rest.fields === undefined ? undefined : [...rest.fields] })
  return tag === "ConstraintViolation"
    ? new ConstraintViolation({ ...props, kind: kind ?? "other", ...defined({ foreignKey, referencedTable }) })
    : new classes[tag](props)
}

/** The rule of a code no table knows. */
export const UNKNOWN_RULE: SqlStateRule = {
  tag: "UnknownDatabaseError",
  userMessage: defaultUserMessages.UnknownDatabaseError
}

/** The messages found, outermost first, or the input itself as a short text. */
export const chainText = (found: Findings, fallback: unknown): string =>
  found.messages.length > 0 ? found.messages.join(": ") : safeString(fallback)

/** What is known of a failure that has (or is given) a SQLSTATE. */
interface Facts {
  readonly code: string
  /** Whether the server reported `code` (else it stands for what the failure would have been). */
  readonly reported: boolean
  readonly message?: string | undefined
  readonly detail?: string | undefined
  readonly constraint?: string | undefined
  readonly table?: string | undefined
  readonly column?: string | undefined
  readonly errorCode?: string | undefined
  readonly technicalMessage: string
}

/**
 * The member for a SQLSTATE and what the texts say: the rule of the code decides the member and
 * kind; the fields, names and registry entry decide the field(s) and the user message.
 */
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

/** `text` after the other messages found around it (`Failed to execute statement: ...`). */
const inContext = (found: Findings, own: string | undefined, text: string): string => {
  const context = found.messages.filter((m) => m !== own)
  return `${context.length > 0 ? `${context.join(": ")}: ` : ""}${text}`
}

/** The technical message of a server error: context, `[code name] message`, then every field the server sent. */
const serverTechnical = (server: ServerError, found: Findings): string => {
  const name = sqlStateName(server.code)?.[0] ?? "unknown_sqlstate"
  const parts = [inContext(found, server.message, `[${server.code} ${name}] ${server.message ?? ""}`).trim()]
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

/** The member for a PostgREST error: its code's rule, `[code] message | Details | Hint`. */
export const fromPostgrest = (error: PostgrestError, found: Findings, cause: unknown): DatabaseError => {
  const { tag, userMessage } = postgrestRule(error.code)
  const parts = [`[${error.code}] ${error.message ?? ""}`.trim()]
  if (error.details !== undefined && error.details !== "") parts.push(`Details: ${error.details}`)
  if (error.hint !== undefined && error.hint !== "") parts.push(`Hint: ${error.hint}`)
  return build({
    tag,
    userMessage,
    technicalMessage: technical(inContext(found, error.message, parts.join(" | "))),
    errorCode: error.code,
    cause
  })
}

/** The member for an error the server reported, with every field it sent. */
export const fromServer = (
  server: ServerError,
  found: Findings,
  cause: unknown,
  constraints: ConstraintLookup | undefined
): DatabaseError =>
  fromFacts({
    code: server.code,
    reported: true,
    message: server.message,
    detail: server.detail,
    constraint: server.constraint,
    table: server.table,
    column: server.column,
    technicalMessage: serverTechnical(server, found)
  }, cause, constraints)

/** A Node system error (`ECONNREFUSED`): a connection that could not be made (08001). */
export const fromSystem = (
  system: SystemError,
  found: Findings,
  cause: unknown,
  constraints: ConstraintLookup | undefined
): DatabaseError => {
  const text = chainText(found, cause)
  return fromFacts({
    code: "08001",
    reported: false,
    errorCode: system.code,
    technicalMessage: technical(text.includes(system.code) ? text : `${system.code}: ${text}`)
  }, cause, constraints)
}

/** A situation recognised from a message (or an Effect exception): classified as its stand-in SQLSTATE. */
export const fromInferred = (
  inferred: Inferred,
  found: Findings,
  cause: unknown,
  constraints: ConstraintLookup | undefined
): DatabaseError =>
  fromFacts({
    code: inferred.code,
    reported: false,
    message: found.inferredFrom,
    constraint: inferred.constraint,
    table: inferred.table,
    column: inferred.column,
    errorCode: inferred.errorCode,
    technicalMessage: technical(chainText(found, cause))
  }, cause, constraints)
