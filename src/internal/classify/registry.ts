/**
 * The constraint registry as plain data: `{ users_email_key: { field, userMessage } }` looked up
 * by `table.constraint`, then by `constraint`. Reads of a registry handed in by the application
 * are guarded: a registry that throws, or is not one, is ignored.
 *
 * @internal
 */
import type { ConstraintInfo, ConstraintLookup } from "../../Classify.js"
import { get } from "./safe.js"

/** See `Classify.makeConstraintLookup`. The entries are copied: later changes to them are not seen. */
export const makeConstraintLookup = (
  entries: Readonly<Record<string, ConstraintInfo>> | ReadonlyMap<string, ConstraintInfo>
): ConstraintLookup => {
  const map: ReadonlyMap<string, ConstraintInfo> = entries instanceof Map
    ? new Map(entries)
    : new Map(Object.entries(entries as Readonly<Record<string, ConstraintInfo>>))
  return {
    lookup: (constraint, table) =>
      (table === undefined ? undefined : map.get(`${table}.${constraint}`)) ?? map.get(constraint)
  }
}

/** The registry of classification options, if they hold one (options may be anything at runtime). */
export const lookupOf = (options: unknown): ConstraintLookup | undefined => {
  const constraints = get(options, "constraints")
  return typeof get(constraints, "lookup") === "function" ? constraints as ConstraintLookup : undefined
}

/** What the registry knows of a constraint; `undefined` when it knows nothing or throws. */
export const safeLookup = (
  constraints: ConstraintLookup | undefined,
  constraint: string,
  table: string | undefined
): ConstraintInfo | undefined => {
  try {
    return typeof constraints?.lookup === "function" ? constraints.lookup(constraint, table) : undefined
  } catch {
    return undefined
  }
}
