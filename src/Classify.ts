/**
 * Turns whatever a database call failed with into one member of the `DatabaseError` union.
 *
 * Why: @effect/sql reports every failure as `SqlError { cause }`, pg hides the meaning in a
 * SQLSTATE, PostgREST in a `PGRST` code, Node in `ECONNREFUSED`, and COMMIT failures arrive as
 * defects. `classifyDatabaseError` reads all of these (never throwing) and `refineErrors` applies it
 * to an effect so that `Effect.catchTag("ConstraintViolation", ...)` works on any @effect/sql
 * program.
 *
 * Bounded work whatever the input: every text read from it (message, detail, hint, where, names)
 * is cut to 4096 characters (256 for names), with a note saying so, and scrubbed of passwords
 * before any pattern is applied; the walk over causes visits at most 512 nodes (about 2,100 for
 * all the nested Causes of one input). The implementation lives in `internal/classify/`.
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type {
  ConstraintKind,
  DatabaseError,
  DatabaseErrorCategory,
  DatabaseErrorTag,
  DatabaseRecoveryAction
} from "./Errors.js"
import * as analyze from "./internal/classify/analyze.js"
import * as commit from "./internal/classify/commit.js"
import * as detailText from "./internal/classify/detail.js"
import * as refine from "./internal/classify/refine.js"
import * as registry from "./internal/classify/registry.js"
import * as sqlStateDescription from "./internal/classify/sqlStateDescription.js"
import type { SqlStateSeverity } from "./internal/sqlstate.js"

// ---------------------------------------------------------------------------
// Constraint registry
// ---------------------------------------------------------------------------

/**
 * What an application knows about one of its constraints.
 * Why: `users_email_key` should read "That email is already registered", on the `email` field.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConstraintInfo {
  /** The field to report (and to name in the default user message). */
  readonly field?: string | undefined
  /** The exact user message to use instead of the generated one. */
  readonly userMessage?: string | undefined
}

/**
 * Looks constraints up by name. Why: the pure classifier takes it as a plain value, the Effect API
 * as a service.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConstraintLookup {
  /** `table.constraint` is tried before `constraint`, for names reused across tables. */
  readonly lookup: (constraint: string, table?: string) => ConstraintInfo | undefined
}

/**
 * Builds a lookup from `{ "users_email_key": { field: "email", userMessage: "..." } }` (keys may
 * also be `"table.constraint"`). Why: the registry is plain data an application declares once.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeConstraintLookup: (
  entries: Readonly<Record<string, ConstraintInfo>> | ReadonlyMap<string, ConstraintInfo>
) => ConstraintLookup = registry.makeConstraintLookup

/**
 * The application's constraint registry as a service.
 * Why: provide it once as a Layer (`layerConstraints`) and every `classify` / `refineErrors` uses it.
 *
 * @since 0.1.0
 * @category services
 */
export class ConstraintRegistry extends Context.Tag("effect-pg-resilience/ConstraintRegistry")<
  ConstraintRegistry,
  ConstraintLookup
>() {
  /**
   * Same as `Classify.layerConstraints`.
   *
   * @since 0.1.0
   * @category layers
   * @deprecated since 0.2.0: use `Classify.layerConstraints` (module-level, as every module's layers).
   */
  static layer(
    entries: Readonly<Record<string, ConstraintInfo>> | ReadonlyMap<string, ConstraintInfo>
  ): Layer.Layer<ConstraintRegistry> {
    return layerConstraints(entries)
  }
}

/**
 * The registry of `entries` as a Layer. Why: provide it once and every `classify` / `refineErrors`
 * (and every transaction) names your fields in your words.
 *
 * @example
 * ```ts
 * const Constraints = Classify.layerConstraints({
 *   users_email_key: { field: "email", userMessage: "That email is already registered" }
 * })
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerConstraints = (
  entries: Readonly<Record<string, ConstraintInfo>> | ReadonlyMap<string, ConstraintInfo>
): Layer.Layer<ConstraintRegistry> => Layer.succeed(ConstraintRegistry, registry.makeConstraintLookup(entries))

/**
 * Options of the pure classifier. Why: the registry is optional and the function stays pure.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClassifyOptions {
  readonly constraints?: ConstraintLookup | undefined
}

/** The options that carry the provided registry, if any. */
const optionsOf = (constraints: Option.Option<ConstraintLookup>): ClassifyOptions =>
  Option.match(constraints, { onNone: () => ({}), onSome: (constraints) => ({ constraints }) })

// ---------------------------------------------------------------------------
// Classification
// ---------------------------------------------------------------------------

/**
 * Classifies any failure of a database call. Accepts pg's `DatabaseError`, @effect/sql's `SqlError`
 * (cause chains of any depth), Effect `Cause`s / `Exit`s / `FiberFailure`s (defects included), our
 * own tagged errors (returned unchanged), PostgREST / supabase-js `{ code, message, details, hint }`,
 * Node system errors, `AggregateError`, strings, `null` and hostile objects.
 * Why: the seed's entry point; it never throws and never returns `undefined`.
 *
 * Bounded work whatever the input (see the module's notes): a 1 MB or 10 MB message is classified
 * in well under 10 ms, and no `technicalMessage` exceeds about 4000 characters.
 *
 * @since 0.1.0
 * @category classification
 */
export const classifyDatabaseError = (error: unknown, options?: ClassifyOptions): DatabaseError =>
  analyze.safeAnalyze(error, options).error

/**
 * Classifies a failure of COMMIT. Why: if the connection broke (class 08, 57P0x, a socket error), a
 * timeout fired, the session died (FATAL), or the failure is unrecognised, the transaction may or
 * may not have committed: that is `CommitOutcomeUnknown` (VERIFY_COMMIT, never retryable). An ERROR
 * the server answered COMMIT with (40001, 23xxx from deferred constraints, ...) means it rolled
 * back, so those keep their normal classification.
 *
 * @since 0.1.0
 * @category classification
 */
export const classifyCommitFailure: (error: unknown, options?: ClassifyOptions) => DatabaseError =
  commit.classifyCommitFailure

/**
 * `classifyDatabaseError` in Effect, using the `ConstraintRegistry` when one is provided.
 * Why: application code classifies with its own constraint names and messages.
 *
 * @since 0.1.0
 * @category classification
 */
export const classify = (error: unknown): Effect.Effect<DatabaseError> =>
  Effect.map(Effect.serviceOption(ConstraintRegistry), (constraints) => classifyDatabaseError(error, optionsOf(constraints)))

// ---------------------------------------------------------------------------
// The seed's helpers
// ---------------------------------------------------------------------------

/**
 * Whether the failure may succeed when retried. Why: the seed's helper for retry loops.
 *
 * @since 0.1.0
 * @category seed helpers
 */
export const isDatabaseErrorRetryable = (error: unknown): boolean => classifyDatabaseError(error).isRetryable

/**
 * The plain-language message for an end user. Why: the seed's helper for toasts and forms.
 *
 * @since 0.1.0
 * @category seed helpers
 */
export const getDatabaseErrorMessage = (error: unknown): string => classifyDatabaseError(error).userMessage

/**
 * What the caller should do next. Why: the seed's helper for choosing a recovery path.
 *
 * @since 0.1.0
 * @category seed helpers
 */
export const getDatabaseRecoveryAction = (error: unknown): DatabaseRecoveryAction =>
  classifyDatabaseError(error).recoveryAction

// ---------------------------------------------------------------------------
// The tables, inspectable
// ---------------------------------------------------------------------------

/**
 * Everything we know about a SQLSTATE. Why: logs, dashboards and docs can say what a code means
 * and what this library does with it.
 *
 * @since 0.1.0
 * @category models
 */
export interface SqlStateDescription {
  readonly code: string
  /** The condition name (`unique_violation`), `undefined` for a code PostgreSQL 18 does not define. */
  readonly name: string | undefined
  readonly classCode: string
  /** The class description (`Integrity Constraint Violation`). */
  readonly className: string | undefined
  /** E (error), W (warning) or S (success), from errcodes.txt. */
  readonly severity: SqlStateSeverity | undefined
  /** Whether the code is one of PostgreSQL 18's. */
  readonly known: boolean
  readonly tag: DatabaseErrorTag
  readonly kind?: ConstraintKind
  readonly category: DatabaseErrorCategory
  readonly isRetryable: boolean
  readonly recoveryAction: DatabaseRecoveryAction
  /** The message used when nothing more specific (a field) is known. */
  readonly userMessage: string
}

/**
 * Describes a SQLSTATE: `describeSqlState("23505")` gives `unique_violation`, a `unique`
 * `ConstraintViolation`, FIX_DATA. Why: the classification table made inspectable.
 *
 * @since 0.1.0
 * @category utils
 */
export const describeSqlState: (code: string) => SqlStateDescription = sqlStateDescription.describeSqlState

/**
 * The key columns of pg's detail text: `Key (org_id, email)=(...) already exists.` gives
 * `["org_id", "email"]`, `Key (lower(email::text))=(...)` gives `["email"]`, quoted identifiers
 * are unquoted. Only the part before `)=(` is read, never the values, and at most the first 4096
 * characters (so a huge detail costs no more than a short one). Why: the detail is the only place
 * pg names the columns of a unique, foreign-key or exclusion violation.
 *
 * @since 0.1.0
 * @category utils
 */
export const keyColumnsFromDetail: (detail: string) => ReadonlyArray<string> | undefined = detailText.keyColumnsFromDetail

// ---------------------------------------------------------------------------
// Effects and Causes
// ---------------------------------------------------------------------------

/**
 * Whether a defect is a database failure that `refineErrors` turns into a typed failure: a
 * `SqlError` (COMMIT and ROLLBACK failures of `sql.withTransaction` die with one), one of our
 * errors, or a bare pg server error. Why: other defects are bugs and must stay defects.
 *
 * @since 0.1.0
 * @category refinements
 */
export const isDatabaseDefect: (defect: unknown) => boolean = refine.isDatabaseDefect

/**
 * The error type after `refineErrors`: `SqlError` replaced by the union. Why: names the result.
 * The signatures below spell it out, so that hovers show the members, not this name.
 *
 * @since 0.1.0
 * @category models
 */
export type Refined<E> = Exclude<E, { readonly _tag: "SqlError" }> | DatabaseError

/**
 * Rewrites a Cause: `SqlError` failures and database defects become `DatabaseError` failures; the
 * caller's own failures, other defects and interruptions are kept as they are.
 * Why: the building block of `refineErrors`, usable where a Cause is already in hand.
 *
 * @since 0.1.0
 * @category combinators
 */
export const refineCause: <E>(
  cause: Cause.Cause<E>,
  options?: ClassifyOptions
) => Cause.Cause<Exclude<E, { readonly _tag: "SqlError" }> | DatabaseError> = refine.refineCause

/**
 * Turns an effect's `SqlError` failures, and its defects that carry a `SqlError` or pg error
 * (COMMIT failures of `sql.withTransaction` arrive as defects), into the `DatabaseError` union.
 * Other failures pass through unchanged and other defects stay defects. Uses the
 * `ConstraintRegistry` when one is provided.
 * Why: makes `Effect.catchTag("ConstraintViolation", ...)` work on any @effect/sql program.
 *
 * @since 0.1.0
 * @category combinators
 */
export const refineErrors = <A, E, R>(
  self: Effect.Effect<A, E, R>
): Effect.Effect<A, Exclude<E, { readonly _tag: "SqlError" }> | DatabaseError, R> =>
  Effect.catchAllCause(self, (cause) =>
    Effect.flatMap(
      Effect.serviceOption(ConstraintRegistry),
      (constraints) => Effect.failCause(refineCause(cause, optionsOf(constraints)))
    ))
