/**
 * The classification table made inspectable: what a SQLSTATE is called and what this library
 * makes of it.
 *
 * @internal
 */
import type { SqlStateDescription } from "../../Classify.js"
import { databaseErrorTraits } from "../../Errors.js"
import { sqlStateClassName, sqlStateName, sqlStateRule } from "../sqlstate.js"
import { UNKNOWN_RULE } from "./build.js"
import { SQLSTATE } from "./rules.js"
import { MAX_CODE } from "./safe.js"

/** See `Classify.describeSqlState`. Reads at most `MAX_CODE` characters of `code`. */
export const describeSqlState = (code: string): SqlStateDescription => {
  const normalized = typeof code === "string" ? code.slice(0, MAX_CODE).trim().toUpperCase() : ""
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
