/**
 * One classification: find the Cause in the input (classify each failure and defect, take the
 * first recognised), else walk the error graph and build the member from the best finding: our
 * own error, a server error, a PostgREST error, a system error, a recognised message, nothing.
 *
 * Never throws: anything thrown inside (a hostile object no guard foresaw) becomes an
 * `UnknownDatabaseError` that says so.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import type { ClassifyOptions, ConstraintLookup } from "../../Classify.js"
import { type DatabaseError, UnknownDatabaseError } from "../../Errors.js"
import { chainText, fromInferred, fromPostgrest, fromServer, fromSystem } from "./build.js"
import { lookupOf } from "./registry.js"
import { safeString, technical } from "./safe.js"
import { type Budget, causeOf, MAX_TOTAL_NODES, walk } from "./walk.js"

/** The result of one classification, with what `classifyCommitFailure` needs to judge it. */
export interface Analysis {
  readonly error: DatabaseError
  /** Whether anything in the input was recognised (false: an `UnknownDatabaseError` by default). */
  readonly recognised: boolean
  /** The severity the server reported (FATAL/PANIC mean the session died). */
  readonly severity: string | undefined
  /** Whether the result is one of our own errors found in the input. */
  readonly own?: boolean
}

/**
 * How many nested analyses one classification may run. Why: a Cause whose failures are Causes
 * (16 wide, any depth) would otherwise cost 16^depth analyses; past the budget, `walk` (bounded by
 * `MAX_NODES`) reads what is left breadth-first.
 */
const MAX_ANALYSES = 64

/** Classifies `input`, spending from `budget` (shared by the nested analyses of a Cause). */
const analyze = (input: unknown, constraints: ConstraintLookup | undefined, budget: Budget): Analysis => {
  // A Cause (or what carries one): classify each failure / defect, take the first recognised one.
  const cause = budget.analyses++ < MAX_ANALYSES ? causeOf(input) : undefined
  if (cause !== undefined) {
    const items = [...Chunk.toReadonlyArray(Cause.failures(cause)), ...Chunk.toReadonlyArray(Cause.defects(cause))]
    let first: Analysis | undefined
    for (const item of items.slice(0, 16)) {
      const analysis = analyze(item, constraints, budget)
      if (analysis.recognised) return analysis
      first ??= analysis
    }
    if (first !== undefined) return first
    const interrupted = Cause.isInterruptedOnly(cause)
    return unrecognised(() =>
      new UnknownDatabaseError({
        technicalMessage: interrupted ? "The operation was interrupted" : "An empty Cause carried no error",
        cause: input
      })
    )
  }

  const found = walk(input, budget)
  if (found.ours !== undefined) return { error: found.ours, recognised: true, severity: undefined, own: true }
  if (found.server !== undefined) {
    return {
      error: fromServer(found.server, found, input, constraints),
      recognised: true,
      severity: found.server.severity
    }
  }
  const error = found.postgrest !== undefined
    ? fromPostgrest(found.postgrest, found, input)
    : found.system !== undefined
    ? fromSystem(found.system, found, input, constraints)
    : found.inferred !== undefined
    ? fromInferred(found.inferred, found, input, constraints)
    : undefined
  if (error !== undefined) return { error, recognised: true, severity: undefined }
  return unrecognised(() =>
    new UnknownDatabaseError({
      technicalMessage: technical(`Unrecognised error: ${chainText(found, input)}`),
      cause: input
    })
  )
}

/**
 * An analysis that recognised nothing; its error is built only if it is the one returned. Why: a
 * Cause with many unrecognised items would otherwise build (and capture a stack for) each.
 */
const unrecognised = (make: () => DatabaseError): Analysis => {
  let error: DatabaseError | undefined
  return {
    get error() {
      return error ??= make()
    },
    recognised: false,
    severity: undefined
  }
}

/** Classifies `error` with the registry of `options`, within one fresh budget. Never throws. */
export const safeAnalyze = (error: unknown, options: ClassifyOptions | undefined): Analysis => {
  try {
    const analysis = analyze(error, lookupOf(options), { analyses: 0, nodes: MAX_TOTAL_NODES })
    void analysis.error // built here (it may be lazy, see `unrecognised`), inside the guard
    return analysis
  } catch (defect) {
    return {
      error: new UnknownDatabaseError({
        technicalMessage: technical(`Unclassifiable error (${safeString(defect)})`),
        cause: error
      }),
      recognised: false,
      severity: undefined
    }
  }
}
