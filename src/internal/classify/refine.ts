/**
 * Which failures and defects of an effect are database failures, and the rewrite of a Cause that
 * turns them into members of the union while keeping everything else as it was.
 *
 * @internal
 */
import { SqlErrorTypeId } from "@effect/sql/SqlError"
import * as Cause from "effect/Cause"
import type { ClassifyOptions, Refined } from "../../Classify.js"
import { isDatabaseError } from "../../Errors.js"
import { safeAnalyze } from "./analyze.js"
import { SQLSTATE } from "./rules.js"
import { get, getCode, isObj } from "./safe.js"

/** Whether a value is a `SqlError` (or `ResultLengthMismatch`) of @effect/sql, by its type id. */
const isSqlError = (u: unknown): boolean => isObj(u) && get(u, SqlErrorTypeId) === SqlErrorTypeId

/** Whether a failure is @effect/sql's `SqlError` (its `ResultLengthMismatch` stays the caller's). */
const isSqlErrorFailure = (u: unknown): boolean => isObj(u) && get(u, "_tag") === "SqlError" && isSqlError(u)

/** See `Classify.isDatabaseDefect`. */
export const isDatabaseDefect = (defect: unknown): boolean => {
  if (isSqlError(defect) || isDatabaseError(defect)) return true
  if (!isObj(defect)) return false
  const code = getCode(defect, "code")
  return code !== undefined && SQLSTATE.test(code) && typeof get(defect, "severity") === "string"
}

/** See `Classify.refineCause`. */
export const refineCause = <E>(cause: Cause.Cause<E>, options?: ClassifyOptions): Cause.Cause<Refined<E>> =>
  Cause.match<Cause.Cause<Refined<E>>, E>(cause, {
    onEmpty: Cause.empty,
    onFail: (error) =>
      Cause.fail((isSqlErrorFailure(error) ? safeAnalyze(error, options).error : error) as Refined<E>),
    onDie: (defect) =>
      isDatabaseDefect(defect) ? Cause.fail(safeAnalyze(defect, options).error) : Cause.die(defect),
    onInterrupt: Cause.interrupt,
    onSequential: Cause.sequential,
    onParallel: Cause.parallel
  })
