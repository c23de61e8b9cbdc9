/**
 * What the server's texts name besides its fields: the key columns in the detail text
 * (`Key (org_id, email)=(...)`), which side of a foreign key is wrong and the other table, and the
 * constraint, table or column a message names when the fields are missing (PostgREST, strings).
 * Only names are read, never the values after `)=(`.
 *
 * @internal
 */
import type { ForeignKeyProblem } from "../../Errors.js"
import { quoted, unquote } from "./rules.js"
import { MAX_TEXT } from "./safe.js"
import { identifiersIn } from "./tokenizer.js"

/** The columns one part of the key list names: a plain or quoted identifier, or an expression. */
const keyPartColumns = (part: string): Array<string> => {
  const quotedMatch = /^"((?:[^"]|"")*)"$/.exec(part)
  if (quotedMatch) return [unquote(quotedMatch[1]!)]
  if (/^[A-Za-z_][A-Za-z0-9_$]*$/.test(part)) return [part]
  return identifiersIn(part)
}

/** See `Classify.keyColumnsFromDetail`. Reads at most the first `MAX_TEXT` characters. */
export const keyColumnsFromDetail = (detail: string): ReadonlyArray<string> | undefined => {
  if (typeof detail !== "string") return undefined
  // Only the key list is read, and it is short: a longer text costs no more than MAX_TEXT characters.
  const text = (detail.length > MAX_TEXT ? detail.slice(0, MAX_TEXT) : detail).trimStart()
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
const CONSTRAINT_NAMED = new RegExp(`constraint ${quoted}`)
const TABLE_AT_END = new RegExp(`on table ${quoted}$`)
const TABLE_NAMED = new RegExp(`(?:relation|table) ${quoted}`)
const NULL_COLUMN = new RegExp(`null value in column ${quoted}`)

/**
 * For a foreign-key violation: the missing reference (insert or update of the child) or the row
 * still referenced (delete or update of the parent), and the other table when the detail names it.
 */
export const foreignKeyFacts = (
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

/** The constraint a message names: `... violates check constraint "name"`. */
export const constraintFromMessage = (message: string | undefined): string | undefined => {
  const match = message === undefined ? null : CONSTRAINT_NAMED.exec(message)
  return match ? unquote(match[1]!) : undefined
}

/** The table a message names: `... on table "posts"` at its end, else the first `relation "x"` / `table "x"`. */
export const tableFromMessage = (message: string | undefined): string | undefined => {
  if (message === undefined) return undefined
  const match = TABLE_AT_END.exec(message) ?? TABLE_NAMED.exec(message)
  return match ? unquote(match[1]!) : undefined
}

/** The column of a not-null violation's message: `null value in column "email" ...`. */
export const columnFromMessage = (message: string | undefined): string | undefined => {
  const match = message === undefined ? null : NULL_COLUMN.exec(message)
  return match ? unquote(match[1]!) : undefined
}

/** PostgreSQL's default names: `<table>_<column>_check`, `..._not_null`, `..._excl`. */
export const columnFromConstraintName = (constraint: string, table: string | undefined): string | undefined => {
  if (table === undefined || !constraint.startsWith(`${table}_`)) return undefined
  const match = /^(.+)_(?:check|not_null|excl)\d*$/.exec(constraint.slice(table.length + 1))
  return match && /^[a-z_][a-z0-9_$]*$/.test(match[1]!) ? match[1] : undefined
}

