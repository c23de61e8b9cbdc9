/**
 * The `DatabaseError` union: every database failure as a tagged error with a recovery action.
 *
 * Why: applications need `Effect.catchTag("ConstraintViolation", ...)` and a message they can show
 * an end user, instead of a `SqlError` whose only clue is a five-character SQLSTATE in its cause.
 * Every member carries the seed's classification fields (`category`, `isRetryable`,
 * `recoveryAction`, `userMessage`, `technicalMessage`, `constraint`, `field`) plus `sqlState`,
 * `table`, `fields` and the original `cause`. Build them with `Classify.classifyDatabaseError`.
 *
 * The members are made from one table (`members` below: category, retryability, recovery action
 * and default user message per tag); the tags, `databaseErrorTraits` and `defaultUserMessages`
 * are derived from it. Every member shows its `technicalMessage` as its `message` (logs and
 * `Cause.pretty`), and its JSON form names the kind of its `cause` instead of copying it.
 *
 * @since 0.1.0
 */
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import { defaulted, type MemberDefinition, memberFactory, optional, row } from "./internal/classify/member.js"

// ---------------------------------------------------------------------------
// Categories and recovery actions (the seed's enum-like objects)
// ---------------------------------------------------------------------------

/**
 * The seed's seven error categories. Why: callers that predate the tagged union switch on these.
 *
 * @since 0.1.0
 * @category models
 */
export const DatabaseErrorCategory = {
  CONSTRAINT_VIOLATION: "CONSTRAINT_VIOLATION",
  CONNECTION_ERROR: "CONNECTION_ERROR",
  TRANSACTION_ERROR: "TRANSACTION_ERROR",
  TIMEOUT_ERROR: "TIMEOUT_ERROR",
  PERMISSION_ERROR: "PERMISSION_ERROR",
  QUERY_ERROR: "QUERY_ERROR",
  UNKNOWN: "UNKNOWN"
} as const

/**
 * One of the values of `DatabaseErrorCategory`. Why: the type of the `category` field.
 *
 * @since 0.1.0
 * @category models
 */
export type DatabaseErrorCategory = typeof DatabaseErrorCategory[keyof typeof DatabaseErrorCategory]

/**
 * What the caller should do next: the seed's six actions plus `VERIFY_COMMIT`.
 * Why: `VERIFY_COMMIT` is the only correct advice when the connection broke during COMMIT.
 *
 * @since 0.1.0
 * @category models
 */
export const DatabaseRecoveryAction = {
  RETRY: "RETRY",
  FIX_DATA: "FIX_DATA",
  CHECK_NETWORK: "CHECK_NETWORK",
  CHECK_PERMISSIONS: "CHECK_PERMISSIONS",
  CONTACT_ADMIN: "CONTACT_ADMIN",
  NONE: "NONE",
  VERIFY_COMMIT: "VERIFY_COMMIT"
} as const

/**
 * One of the values of `DatabaseRecoveryAction`. Why: the type of the `recoveryAction` field.
 *
 * @since 0.1.0
 * @category models
 */
export type DatabaseRecoveryAction = typeof DatabaseRecoveryAction[keyof typeof DatabaseRecoveryAction]

/**
 * Which integrity rule a `ConstraintViolation` broke (SQLSTATE class 23, plus 44000 and 40002).
 * Why: a form shows "already taken" for `unique` but "required" for `not_null`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ConstraintKind = Schema.Literal("unique", "foreign_key", "not_null", "check", "exclusion", "restrict", "other")

/**
 * One of the values of `ConstraintKind`. Why: the type of `ConstraintViolation.kind`.
 *
 * @since 0.1.0
 * @category models
 */
export type ConstraintKind = typeof ConstraintKind.Type

/**
 * For a foreign-key violation: is the referenced row missing (insert/update of the child), or is
 * the row still referenced (delete/update of the parent)? Why: the two need different messages.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ForeignKeyProblem = Schema.Literal("missing_reference", "still_referenced")

/**
 * One of the values of `ForeignKeyProblem`. Why: the type of `ConstraintViolation.foreignKey`.
 *
 * @since 0.1.0
 * @category models
 */
export type ForeignKeyProblem = typeof ForeignKeyProblem.Type

// ---------------------------------------------------------------------------
// The one table of members
// ---------------------------------------------------------------------------

/**
 * Every member of the union, in declaration order: the single definition of its tag, traits and
 * default user message. A class below can only be made for a tag of this table.
 */
const members = {
  // tag: row(category, isRetryable, recoveryAction, default userMessage)
  ConstraintViolation: row("CONSTRAINT_VIOLATION", false, "FIX_DATA", "The data breaks one of the rules of the system."),
  InvalidData: row("CONSTRAINT_VIOLATION", false, "FIX_DATA", "Some of the submitted data is not valid."),
  Deadlock: row("TRANSACTION_ERROR", true, "RETRY", "Your request conflicted with another one in progress. Please try again."),
  SerializationFailure: row("TRANSACTION_ERROR", true, "RETRY", "The data changed while your request was processed. Please try again."),
  ConnectionError: row("CONNECTION_ERROR", true, "CHECK_NETWORK", "The database is temporarily unreachable. Please try again in a moment."),
  CommitOutcomeUnknown: row("TRANSACTION_ERROR", false, "VERIFY_COMMIT", "We could not confirm whether your changes were saved. Please check before trying again."),
  QueryTimeout: row("TIMEOUT_ERROR", true, "RETRY", "The operation took too long and was cancelled. Please try again."),
  TransactionTimeout: row("TIMEOUT_ERROR", true, "RETRY", "The operation took too long and was cancelled. Please try again."),
  PermissionDenied: row("PERMISSION_ERROR", false, "CHECK_PERMISSIONS", "You do not have permission to perform this action."),
  NotFound: row("QUERY_ERROR", false, "NONE", "The requested record was not found."),
  QueryError: row("QUERY_ERROR", false, "NONE", "The request could not be processed."),
  UnknownDatabaseError: row("UNKNOWN", false, "CONTACT_ADMIN", "Something went wrong on our side. Please try again later or contact support.")
} as const satisfies Record<string, MemberDefinition>

type Members = typeof members

/**
 * The tags of the union. Why: exhaustive switches and `catchTags` keys.
 *
 * @since 0.1.0
 * @category models
 */
export type DatabaseErrorTag = keyof Members

/**
 * Every tag of the union, in declaration order. Why: runtime membership checks and tests.
 *
 * @since 0.1.0
 * @category constants
 */
export const databaseErrorTags: ReadonlyArray<DatabaseErrorTag> = Object.keys(members) as Array<DatabaseErrorTag>

/**
 * The fixed classification of each member: category, retryability, recovery action.
 * Why: one table that the members, `describeSqlState` and the docs all agree on.
 *
 * @since 0.1.0
 * @category constants
 */
export const databaseErrorTraits: {
  readonly [Tag in DatabaseErrorTag]: {
    readonly category: Members[Tag]["category"]
    readonly isRetryable: Members[Tag]["isRetryable"]
    readonly recoveryAction: Members[Tag]["recoveryAction"]
  }
} = Object.fromEntries(databaseErrorTags.map((tag) => {
  const { category, isRetryable, recoveryAction } = members[tag]
  return [tag, { category, isRetryable, recoveryAction }]
})) as any

/**
 * The userMessage a member gets when the constructor is not given one.
 * Why: code that constructs errors directly (the transaction module) gets sane defaults.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultUserMessages: { readonly [Tag in DatabaseErrorTag]: Members[Tag]["userMessage"] } = Object
  .fromEntries(databaseErrorTags.map((tag) => [tag, members[tag].userMessage])) as any

/**
 * Marks every member's prototype. Why: recognises our errors even across duplicate package copies.
 *
 * @since 0.1.0
 * @category type id
 */
export const DatabaseErrorTypeId: unique symbol = Symbol.for("effect-pg-resilience/DatabaseError")

/**
 * The type of `DatabaseErrorTypeId`. Why: lets other modules name the marker.
 *
 * @since 0.1.0
 * @category type id
 */
export type DatabaseErrorTypeId = typeof DatabaseErrorTypeId

/** The fields every member has besides its traits and user message. */
const commonFields = {
  /** For logs and operators: SQLSTATE, server message, detail, hint; passwords scrubbed. May hold row values. */
  technicalMessage: Schema.String,
  /** The SQLSTATE reported by the server (or passed through by PostgREST), when there is one. */
  sqlState: optional(Schema.String),
  /** A code that is no SQLSTATE: a Node system error (`ECONNREFUSED`) or PostgREST (`PGRST116`). */
  errorCode: optional(Schema.String),
  /** The constraint the server named. */
  constraint: optional(Schema.String),
  /** The table the server named. */
  table: optional(Schema.String),
  /** The column the error is about: from the wire, the key in the detail text, or the registry. */
  field: optional(Schema.String),
  /** Every key column, for composite keys (`Key (org_id, email)=...`). */
  fields: optional(Schema.Array(Schema.String)),
  /** How many attempts were made, set when retries ran out. */
  attempts: optional(Schema.Number),
  /**
   * The original error (a `SqlError`, pg's `DatabaseError`, a Node system error, ...). Kept as it
   * is for `Cause` and debugging; the JSON form of the error only names its kind.
   */
  cause: Schema.Unknown
}

/**
 * `class X extends Member<X>()("X") {}`: the member `X` of the table, with the common fields.
 * Every member shows its technical message as `message` and names only the kind of its cause in
 * its JSON form (see `internal/classify/member.ts`).
 */
const Member = memberFactory(members, commonFields, DatabaseErrorTypeId)

// ---------------------------------------------------------------------------
// The members
// ---------------------------------------------------------------------------

/**
 * A unique, foreign-key, not-null, check or exclusion constraint rejected the data (23xxx).
 * Why: the user can fix it, and `field` says which input to highlight.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConstraintViolation extends Member<ConstraintViolation>()("ConstraintViolation", {
  kind: ConstraintKind,
  /** For `foreign_key`: which side of the reference is wrong. */
  foreignKey: optional(ForeignKeyProblem),
  /** For `foreign_key`: the other table the detail text names. */
  referencedTable: optional(Schema.String)
}) {}

/**
 * A value the server could not accept: too long, bad number or date, division by zero (class 22).
 * Why: like a constraint violation it is the data, not the system, that must change.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidData extends Member<InvalidData>()("InvalidData") {}

/**
 * The server broke a deadlock by aborting this transaction (40P01). Why: running it again succeeds.
 *
 * @since 0.1.0
 * @category errors
 */
export class Deadlock extends Member<Deadlock>()("Deadlock") {}

/**
 * A concurrent transaction made this one impossible to serialize (40001, also hot-standby
 * conflicts). Why: the whole transaction must be retried from the start.
 *
 * @since 0.1.0
 * @category errors
 */
export class SerializationFailure extends Member<SerializationFailure>()("SerializationFailure") {}

/**
 * The database could not be reached or the connection broke (class 08, 57P01-57P03, 57P05, 53300,
 * Node socket errors, pool acquisition timeouts). Why: transient; retry after a pause.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionError extends Member<ConnectionError>()("ConnectionError") {}

/**
 * The connection broke while COMMIT was in flight (or the server said 08007 / 40003): the work may
 * or may not be saved. Why: retrying could apply it twice; the caller must check first.
 *
 * @since 0.1.0
 * @category errors
 */
export class CommitOutcomeUnknown extends Member<CommitOutcomeUnknown>()("CommitOutcomeUnknown") {}

/**
 * A server-side deadline fired: statement_timeout or a cancel (57014), lock_timeout (55P03),
 * transaction_timeout (25P04), idle_in_transaction_session_timeout (25P03), or a client-side
 * query timeout. Why: usually load-related, so a retry may succeed.
 *
 * @since 0.1.0
 * @category errors
 */
export class QueryTimeout extends Member<QueryTimeout>()("QueryTimeout") {}

/**
 * Our own transaction deadline ran out (issued by the transaction module, not by the server).
 * Why: it has no SQLSTATE but callers treat it like any other timeout.
 *
 * @since 0.1.0
 * @category errors
 */
export class TransactionTimeout extends Member<TransactionTimeout>()("TransactionTimeout", {
  /** The deadline that was exceeded. */
  timeout: Schema.DurationFromSelf,
  technicalMessage: defaulted("The transaction exceeded its deadline"),
  /** How many attempts ran before the deadline. */
  attempts: Schema.Number
}) {}

/**
 * The role may not do this (42501, including row-level security), the login was refused
 * (class 28), or PostgREST rejected the JWT (PGRST301, PGRST302). Why: retrying cannot help.
 *
 * @since 0.1.0
 * @category errors
 */
export class PermissionDenied extends Member<PermissionDenied>()("PermissionDenied") {}

/**
 * The row asked for does not exist (PostgREST PGRST116, `NoSuchElementException`, P0002).
 * Why: a 404 for the caller, not an outage.
 *
 * @since 0.1.0
 * @category errors
 */
export class NotFound extends Member<NotFound>()("NotFound") {}

/**
 * The statement itself is wrong: syntax, unknown table or column, unsupported feature, read-only
 * transaction, bad transaction state (class 42 except 42501, 0A, 25, 2B, 34, 3D, 3F, ...).
 * Why: a bug in the program; retrying gives the same answer.
 *
 * @since 0.1.0
 * @category errors
 */
export class QueryError extends Member<QueryError>()("QueryError") {}

/**
 * Anything else: resources (53 except 53300), limits (54), system and internal errors (58, XX),
 * and errors we cannot recognise. Why: someone has to look at it.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnknownDatabaseError extends Member<UnknownDatabaseError>()("UnknownDatabaseError") {}

// ---------------------------------------------------------------------------
// The union
// ---------------------------------------------------------------------------

/**
 * The union as a schema; its `members` are the classes, in the table's order.
 * Why: lets the errors cross a serialization boundary (RPC, workers).
 *
 * @since 0.1.0
 * @category schemas
 */
export const DatabaseError = Schema.Union(
  ConstraintViolation,
  InvalidData,
  Deadlock,
  SerializationFailure,
  ConnectionError,
  CommitOutcomeUnknown,
  QueryTimeout,
  TransactionTimeout,
  PermissionDenied,
  NotFound,
  QueryError,
  UnknownDatabaseError
)

/**
 * Every classified database failure. Why: one type to `catchTag` on.
 *
 * @since 0.1.0
 * @category models
 */
export type DatabaseError = InstanceType<(typeof DatabaseError.members)[number]>

/**
 * The seed's name for the result of `classifyDatabaseError`. Why: seed code keeps compiling.
 *
 * @since 0.1.0
 * @category models
 */
export type DatabaseErrorClassification = DatabaseError

/** Compile-time check: the union has exactly one class for each tag of the table. */
type SameTags<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never
const unionCoversTheTable: SameTags<DatabaseError["_tag"], DatabaseErrorTag> = true
void unionCoversTheTable

/**
 * Whether a value is a member of the `DatabaseError` union. Why: classification returns these
 * unchanged, and callers narrow `unknown` with it. Never throws.
 *
 * @since 0.1.0
 * @category refinements
 */
export const isDatabaseError = (u: unknown): u is DatabaseError => {
  try {
    return Predicate.hasProperty(u, DatabaseErrorTypeId) && u[DatabaseErrorTypeId] === DatabaseErrorTypeId
  } catch {
    return false
  }
}
