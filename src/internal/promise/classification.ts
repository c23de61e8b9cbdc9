/**
 * The seed's `classifyDatabaseError` result as a plain object, for Promise code that logs it, sends it
 * over the wire or compares it with `toEqual`.
 *
 * @internal
 */
import { classifyDatabaseError } from "../../Classify.js"
import type { DatabaseErrorClassification } from "../../promise.js"

export const classifyPlain = (error: unknown): DatabaseErrorClassification => {
  const classified = classifyDatabaseError(error)
  return {
    category: classified.category,
    isRetryable: classified.isRetryable,
    recoveryAction: classified.recoveryAction,
    userMessage: classified.userMessage,
    technicalMessage: classified.technicalMessage,
    ...(classified.constraint === undefined ? {} : { constraint: classified.constraint }),
    ...(classified.field === undefined ? {} : { field: classified.field })
  }
}
