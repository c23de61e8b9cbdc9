/**
 * The judgement on a failure of COMMIT: did the transaction commit, roll back, or can nobody know?
 *
 * @internal
 */
import type { ClassifyOptions } from "../../Classify.js"
import { CommitOutcomeUnknown, type DatabaseError } from "../../Errors.js"
import { safeAnalyze } from "./analyze.js"
import { defined } from "./build.js"
import { technical } from "./safe.js"

/**
 * Whether the failure leaves the outcome of COMMIT unknown: the connection broke, a timeout fired,
 * the session died (FATAL, PANIC), or nothing in it was recognised. An ERROR the server answered
 * COMMIT with means it rolled back.
 */
const outcomeUnknown = (error: DatabaseError, severity: string | undefined): boolean => {
  const died = severity === "FATAL" || severity === "PANIC"
  return died || error._tag === "ConnectionError" || error._tag === "QueryTimeout" ||
    error._tag === "CommitOutcomeUnknown" || (error._tag === "UnknownDatabaseError" && error.sqlState === undefined)
}

/** See `Classify.classifyCommitFailure`. */
export const classifyCommitFailure = (error: unknown, options?: ClassifyOptions): DatabaseError => {
  const { error: classified, own, severity } = safeAnalyze(error, options)
  if (own === true && classified._tag === "CommitOutcomeUnknown") return classified
  if (!outcomeUnknown(classified, severity)) return classified
  return new CommitOutcomeUnknown(defined({
    technicalMessage: technical(`COMMIT outcome unknown: ${classified.technicalMessage}`),
    sqlState: classified.sqlState,
    errorCode: classified.errorCode,
    table: classified.table,
    attempts: classified.attempts,
    cause: classified.cause
  }))
}
