/**
 * The user-facing copy built from what is known: plain language, a field name at most, never a
 * value, SQL, constraint or table name. The fallback of each SQLSTATE and the default of each
 * member live with their tables (`internal/sqlstate.ts`, `Errors.ts`); this file holds the
 * sentences that name a field.
 *
 * @internal
 */
import type { ConstraintKind, ForeignKeyProblem } from "../../Errors.js"
import type { SqlStateTag } from "../sqlstate.js"
import { MAX_NAME } from "./safe.js"

/** PostgREST rejected the session (an expired or invalid JWT). */
export const SESSION_EXPIRED = "Your session has expired or is not valid. Please sign in again."

/**
 * A field name as words (`createdByUserId` -> `created by user id`), or `undefined` when it is long
 * or holds anything but letters, digits, blanks and `_-.$'`. Why: a hostile column name (a URL, a
 * SQL fragment) must never reach the user message.
 */
const humanize = (field: string): string | undefined => {
  if (field.length > MAX_NAME) return undefined
  const text = field
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/[_\s]+/g, " ")
    .trim()
    .toLowerCase()
  return text === "" || text.length > 64 || !/^[\p{L}\p{N} .$'-]+$/u.test(text) ? undefined : text
}

/** `a`, `a and b`, `a, b and c`. */
const list = (names: ReadonlyArray<string>): string =>
  names.length <= 1 ? (names[0] ?? "") : `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`

/** What the message may use: the member and kind, the fallback, and the field(s) as reported. */
export interface MessageFacts {
  readonly tag: SqlStateTag
  readonly kind: ConstraintKind | undefined
  readonly fallback: string
  readonly field: string | undefined
  readonly fields: ReadonlyArray<string> | undefined
  readonly foreignKey: ForeignKeyProblem | undefined
}

/** The user message for a classified failure (the fallback when no field can be named safely). */
export const userMessageFor = (facts: MessageFacts): string => {
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
