/**
 * The `DatabaseError` union: every database failure as a tagged error with a recovery action.
 *
 * Why: applications need `Effect.catchTag("ConstraintViolation", ...)` and a message they can show
 * an end user, instead of a `SqlError` whose only clue is a five-character SQLSTATE in its cause.
 * Every member carries the seed's classification fields (`category`, `isRetryable`,
 * `recoveryAction`, `userMessage`, `technicalMessage`, `constraint`, `field`) plus `sqlState`,
 * `table`, `fields` and the original `cause`. Build them with `Classify.classifyDatabaseError`.
 *
 * @since 0.1.0
 */
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"

// ---------------------------------------------------------------------------
// Categories and recovery actions (the seed's enum-like objects)
// ---------------------------------------------------------------------------

/**
 * The seed's seven error categories. Why: callers that predate the tagged union switch on these.
 *
 * @since 0.1.0
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
 */
export type DatabaseErrorCategory = typeof DatabaseErrorCategory[keyof typeof DatabaseErrorCategory]

/**
 * What the caller should do next: the seed's six actions plus `VERIFY_COMMIT`.
 * Why: `VERIFY_COMMIT` is the only correct advice when the connection broke during COMMIT.
 *
 * @since 0.1.0
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
 */
export type DatabaseRecoveryAction = typeof DatabaseRecoveryAction[keyof typeof DatabaseRecoveryAction]

/**
 * Which integrity rule a `ConstraintViolation` broke (SQLSTATE class 23, plus 44000 and 40002).
 * Why: a form shows "already taken" for `unique` but "required" for `not_null`.
 *
 * @since 0.1.0
 */
export const ConstraintKind = Schema.Literal(
  "unique",
  "foreign_key",
  "not_null",
  "check",
  "exclusion",
  "restrict",
  "other"
)

/**
 * One of the values of `ConstraintKind`. Why: the type of `ConstraintViolation.kind`.
 *
 * @since 0.1.0
 */
export type ConstraintKind = typeof ConstraintKind.Type

/**
 * For a foreign-key violation: is the referenced row missing (insert/update of the child), or is
 * the row still referenced (delete/update of the parent)? Why: the two need different messages.
 *
 * @since 0.1.0
 */
export const ForeignKeyProblem = Schema.Literal("missing_reference", "still_referenced")

/**
 * One of the values of `ForeignKeyProblem`. Why: the type of `ConstraintViolation.foreignKey`.
 *
 * @since 0.1.0
 */
export type ForeignKeyProblem = typeof ForeignKeyProblem.Type

/**
 * The fixed classification of each member: category, retryability, recovery action.
 * Why: one table that the members, `describeSqlState` and the docs all agree on.
 *
 * @since 0.1.0
 */
export const databaseErrorTraits = {
  ConstraintViolation: { category: "CONSTRAINT_VIOLATION", isRetryable: false, recoveryAction: "FIX_DATA" },
  InvalidData: { category: "CONSTRAINT_VIOLATION", isRetryable: false, recoveryAction: "FIX_DATA" },
  Deadlock: { category: "TRANSACTION_ERROR", isRetryable: true, recoveryAction: "RETRY" },
  SerializationFailure: { category: "TRANSACTION_ERROR", isRetryable: true, recoveryAction: "RETRY" },
  ConnectionError: { category: "CONNECTION_ERROR", isRetryable: true, recoveryAction: "CHECK_NETWORK" },
  CommitOutcomeUnknown: { category: "TRANSACTION_ERROR", isRetryable: false, recoveryAction: "VERIFY_COMMIT" },
  QueryTimeout: { category: "TIMEOUT_ERROR", isRetryable: true, recoveryAction: "RETRY" },
  TransactionTimeout: { category: "TIMEOUT_ERROR", isRetryable: true, recoveryAction: "RETRY" },
  PermissionDenied: { category: "PERMISSION_ERROR", isRetryable: false, recoveryAction: "CHECK_PERMISSIONS" },
  NotFound: { category: "QUERY_ERROR", isRetryable: false, recoveryAction: "NONE" },
  QueryError: { category: "QUERY_ERROR", isRetryable: false, recoveryAction: "NONE" },
  UnknownDatabaseError: { category: "UNKNOWN", isRetryable: false, recoveryAction: "CONTACT_ADMIN" }
} as const satisfies Record<
  string,
  { category: DatabaseErrorCategory; isRetryable: boolean; recoveryAction: DatabaseRecoveryAction }
>

// ---------------------------------------------------------------------------
// Shared fields
// ---------------------------------------------------------------------------

const fixed = <const A extends string | boolean>(value: A) =>
  Schema.Literal(value).pipe(Schema.propertySignature, Schema.withConstructorDefault(() => value))

const defaulted = (message: string) =>
  Schema.String.pipe(Schema.propertySignature, Schema.withConstructorDefault(() => message))

const optional = <S extends Schema.Schema.Any>(schema: S) => Schema.optionalWith(schema, { exact: true })

const common = {
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
  /** The original error (a `SqlError`, pg's `DatabaseError`, a Node system error, ...). */
  cause: Schema.Unknown
}

/**
 * The userMessage a member gets when the constructor is not given one.
 * Why: code that constructs errors directly (the transaction module) gets sane defaults.
 *
 * @since 0.1.0
 */
export const defaultUserMessages = {
  ConstraintViolation: "The data breaks one of the rules of the system.",
  InvalidData: "Some of the submitted data is not valid.",
  Deadlock: "Your request conflicted with another one in progress. Please try again.",
  SerializationFailure: "The data changed while your request was processed. Please try again.",
  ConnectionError: "The database is temporarily unreachable. Please try again in a moment.",
  CommitOutcomeUnknown: "We could not confirm whether your changes were saved. Please check before trying again.",
  QueryTimeout: "The operation took too long and was cancelled. Please try again.",
  TransactionTimeout: "The operation took too long and was cancelled. Please try again.",
  PermissionDenied: "You do not have permission to perform this action.",
  NotFound: "The requested record was not found.",
  QueryError: "The request could not be processed.",
  UnknownDatabaseError: "Something went wrong on our side. Please try again later or contact support."
} as const

// ---------------------------------------------------------------------------
// The members
// ---------------------------------------------------------------------------

/**
 * A unique, foreign-key, not-null, check or exclusion constraint rejected the data (23xxx).
 * Why: the user can fix it, and `field` says which input to highlight.
 *
 * @since 0.1.0
 */
export class ConstraintViolation extends Schema.TaggedError<ConstraintViolation>()("ConstraintViolation", {
  kind: ConstraintKind,
  /** For `foreign_key`: which side of the reference is wrong. */
  foreignKey: optional(ForeignKeyProblem),
  /** For `foreign_key`: the other table the detail text names. */
  referencedTable: optional(Schema.String),
  category: fixed(databaseErrorTraits.ConstraintViolation.category),
  isRetryable: fixed(databaseErrorTraits.ConstraintViolation.isRetryable),
  recoveryAction: fixed(databaseErrorTraits.ConstraintViolation.recoveryAction),
  userMessage: defaulted(defaultUserMessages.ConstraintViolation),
  ...common
}) {
  /** Why: logs and `Cause.pretty` show the technical message. */
  override get message(): string {
    return this.technicalMessage
  }
}

/**
 * A value the server could not accept: too long, bad number or date, division by zero (class 22).
 * Why: like a constraint violation it is the data, not the system, that must change.
 *
 * @since 0.1.0
 */
export class InvalidData extends Schema.TaggedError<InvalidData>()("InvalidData", {
  category: fixed(databaseErrorTraits.InvalidData.category),
  isRetryable: fixed(databaseErrorTraits.InvalidData.isRetryable),
  recoveryAction: fixed(databaseErrorTraits.InvalidData.recoveryAction),
  userMessage: defaulted(defaultUserMessages.InvalidData),
  ...common
}) {
  /** Why: logs and `Cause.pretty` show the technical message. */
  override get message(): string {
    return this.technicalMessage
  }
}

/**
 * The server broke a deadlock by aborting this transaction (40P01). Why: running it again succeeds.
 *
 * @since 0.1.0
 */
export class Deadlock extends Schema.TaggedError<Deadlock>()("Deadlock", {
  category: fixed(databaseErrorTraits.Deadlock.category),
  isRetryable: fixed(databaseErrorTraits.Deadlock.isRetryable),
  recoveryAction: fixed(databaseErrorTraits.Deadlock.recoveryAction),
  userMessage: defaulted(defaultUserMessages.Deadlock),
  ...common
}) {
  /** Why: logs and `Cause.pretty` show the technical message. */
  override get message(): string {
    return this.technicalMessage
  }
}

/**
 * A concurrent transaction made this one impossible to serialize (40001, also hot-standby
 * conflicts). Why: the whole transaction must be retried from the start.
 *
 * @since 0.1.0
 */
export class SerializationFailure extends Schema.TaggedError<SerializationFailure>()("SerializationFailure", {
  category: fixed(databaseErrorTraits.SerializationFailure.category),
  isRetryable: fixed(databaseErrorTraits.SerializationFailure.isRetryable),
  recoveryAction: fixed(databaseErrorTraits.SerializationFailure.recoveryAction),
  userMessage: defaulted(defaultUserMessages.SerializationFailure),
  ...common
}) {
  /** Why: logs and `Cause.pretty` show the technical message. */
  override get message(): string {
    return this.technicalMessage
  }
}

/**
 * The database could not be reached or the connection broke (class 08, 57P01-57P03, 57P05, 53300,
 * Node socket errors, pool acquisition timeouts). Why: transient; retry after a pause.
 *
 * @since 0.1.0
 */
export class ConnectionError extends Schema.TaggedError<ConnectionError>()("ConnectionError", {
  category: fixed(databaseErrorTraits.ConnectionError.category),
  isRetryable: fixed(databaseErrorTraits.ConnectionError.isRetryable),
  recoveryAction: fixed(databaseErrorTraits.ConnectionError.recoveryAction),
  userMessage: defaulted(defaultUserMessages.ConnectionError),
  ...common
}) {
  /** Why: logs and `Cause.pretty` show the technical message. */
  override get message(): string {
    return this.technicalMessage
  }
}

/**
 * The connection broke while COMMIT was in flight (or the server said 08007 / 40003): the work may
 * or may not be saved. Why: retrying could apply it twice; the caller must check first.
 *
 * @since 0.1.0
 */
export class CommitOutcomeUnknown extends Schema.TaggedError<CommitOutcomeUnknown>()("CommitOutcomeUnknown", {
  category: fixed(databaseErrorTraits.CommitOutcomeUnknown.category),
  isRetryable: fixed(databaseErrorTraits.CommitOutcomeUnknown.isRetryable),
  recoveryAction: fixed(databaseErrorTraits.CommitOutcomeUnknown.recoveryAction),
  userMessage: defaulted(defaultUserMessages.CommitOutcomeUnknown),
  ...common
}) {
  /** Why: logs and `Cause.pretty` show the technical message. */
  override get message(): string {
    return this.technicalMessage
  }
}

/**
 * A server-side deadline fired: statement_timeout or a cancel (57014), lock_timeout (55P03),
 * transaction_timeout (25P04), idle_in_transaction_session_timeout (25P03), or a client-side
 * query timeout. Why: usually load-related, so a retry may succeed.
 *
 * @since 0.1.0
 */
export class QueryTimeout extends Schema.TaggedError<QueryTimeout>()("QueryTimeout", {
  category: fixed(databaseErrorTraits.QueryTimeout.category),
  isRetryable: fixed(databaseErrorTraits.QueryTimeout.isRetryable),
  recoveryAction: fixed(databaseErrorTraits.QueryTimeout.recoveryAction),
  userMessage: defaulted(defaultUserMessages.QueryTimeout),
  ...common
}) {
  /** Why: logs and `Cause.pretty` show the technical message. */
  override get message(): string {
    return this.technicalMessage
  }
}

/**
 * Our own transaction deadline ran out (issued by the transaction module, not by the server).
 * Why: it has no SQLSTATE but callers treat it like any other timeout.
 *
 * @since 0.1.0
 */
export class TransactionTimeout extends Schema.TaggedError<TransactionTimeout>()("TransactionTimeout", {
  /** The deadline that was exceeded. */
  timeout: Schema.DurationFromSelf,
  category: fixed(databaseErrorTraits.TransactionTimeout.category),
  isRetryable: fixed(databaseErrorTraits.TransactionTimeout.isRetryable),
  recoveryAction: fixed(databaseErrorTraits.TransactionTimeout.recoveryAction),
  userMessage: defaulted(defaultUserMessages.TransactionTimeout),
  ...common,
  technicalMessage: defaulted("The transaction exceeded its deadline"),
  /** How many attempts ran before the deadline. */
  attempts: Schema.Number
}) {
  /** Why: logs and `Cause.pretty` show the technical message. */
  override get message(): string {
    return this.technicalMessage
  }
}

/**
 * The role may not do this (42501, including row-level security), the login was refused
 * (class 28), or PostgREST rejected the JWT (PGRST301, PGRST302). Why: retrying cannot help.
 *
 * @since 0.1.0
 */
export class PermissionDenied extends Schema.TaggedError<PermissionDenied>()("PermissionDenied", {
  category: fixed(databaseErrorTraits.PermissionDenied.category),
  isRetryable: fixed(databaseErrorTraits.PermissionDenied.isRetryable),
  recoveryAction: fixed(databaseErrorTraits.PermissionDenied.recoveryAction),
  userMessage: defaulted(defaultUserMessages.PermissionDenied),
  ...common
}) {
  /** Why: logs and `Cause.pretty` show the technical message. */
  override get message(): string {
    return this.technicalMessage
  }
}

/**
 * The row asked for does not exist (PostgREST PGRST116, `NoSuchElementException`, P0002).
 * Why: a 404 for the caller, not an outage.
 *
 * @since 0.1.0
 */
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", {
  category: fixed(databaseErrorTraits.NotFound.category),
  isRetryable: fixed(databaseErrorTraits.NotFound.isRetryable),
  recoveryAction: fixed(databaseErrorTraits.NotFound.recoveryAction),
  userMessage: defaulted(defaultUserMessages.NotFound),
  ...common
}) {
  /** Why: logs and `Cause.pretty` show the technical message. */
  override get message(): string {
    return this.technicalMessage
  }
}

/**
 * The statement itself is wrong: syntax, unknown table or column, unsupported feature, read-only
 * transaction, bad transaction state (class 42 except 42501, 0A, 25, 2B, 34, 3D, 3F, ...).
 * Why: a bug in the program; retrying gives the same answer.
 *
 * @since 0.1.0
 */
export class QueryError extends Schema.TaggedError<QueryError>()("QueryError", {
  category: fixed(databaseErrorTraits.QueryError.category),
  isRetryable: fixed(databaseErrorTraits.QueryError.isRetryable),
  recoveryAction: fixed(databaseErrorTraits.QueryError.recoveryAction),
  userMessage: defaulted(defaultUserMessages.QueryError),
  ...common
}) {
  /** Why: logs and `Cause.pretty` show the technical message. */
  override get message(): string {
    return this.technicalMessage
  }
}

/**
 * Anything else: resources (53 except 53300), limits (54), system and internal errors (58, XX),
 * and errors we cannot recognise. Why: someone has to look at it.
 *
 * @since 0.1.0
 */
export class UnknownDatabaseError extends Schema.TaggedError<UnknownDatabaseError>()("UnknownDatabaseError", {
  category: fixed(databaseErrorTraits.UnknownDatabaseError.category),
  isRetryable: fixed(databaseErrorTraits.UnknownDatabaseError.isRetryable),
  recoveryAction: fixed(databaseErrorTraits.UnknownDatabaseError.recoveryAction),
  userMessage: defaulted(defaultUserMessages.UnknownDatabaseError),
  ...common
}) {
  /** Why: logs and `Cause.pretty` show the technical message. */
  override get message(): string {
    return this.technicalMessage
  }
}

/**
 * Every classified database failure. Why: one type to `catchTag` on.
 *
 * @since 0.1.0
 */
export type DatabaseError =
  | ConstraintViolation
  | InvalidData
  | Deadlock
  | SerializationFailure
  | ConnectionError
  | CommitOutcomeUnknown
  | QueryTimeout
  | TransactionTimeout
  | PermissionDenied
  | NotFound
  | QueryError
  | UnknownDatabaseError

const members = [
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
] as const

/**
 * The union as a schema. Why: lets the errors cross a serialization boundary (RPC, workers).
 *
 * @since 0.1.0
 */
export const DatabaseError = Schema.Union(...members)

/**
 * The seed's name for the result of `classifyDatabaseError`. Why: seed code keeps compiling.
 *
 * @since 0.1.0
 */
export type DatabaseErrorClassification = DatabaseError

/**
 * The tags of the union. Why: exhaustive switches and `catchTags` keys.
 *
 * @since 0.1.0
 */
export type DatabaseErrorTag = DatabaseError["_tag"]

/**
 * Every tag of the union, in declaration order. Why: runtime membership checks and tests.
 *
 * @since 0.1.0
 */
export const databaseErrorTags: ReadonlyArray<DatabaseErrorTag> = [
  "ConstraintViolation",
  "InvalidData",
  "Deadlock",
  "SerializationFailure",
  "ConnectionError",
  "CommitOutcomeUnknown",
  "QueryTimeout",
  "TransactionTimeout",
  "PermissionDenied",
  "NotFound",
  "QueryError",
  "UnknownDatabaseError"
]

/**
 * Marks every member's prototype. Why: recognises our errors even across duplicate package copies.
 *
 * @since 0.1.0
 */
export const DatabaseErrorTypeId: unique symbol = Symbol.for("effect-pg-resilience/DatabaseError")

/**
 * The type of `DatabaseErrorTypeId`. Why: lets other modules name the marker.
 *
 * @since 0.1.0
 */
export type DatabaseErrorTypeId = typeof DatabaseErrorTypeId

for (const member of members) {
  Object.defineProperty(member.prototype, DatabaseErrorTypeId, { value: DatabaseErrorTypeId })
}

/**
 * Whether a value is a member of the `DatabaseError` union. Why: classification returns these
 * unchanged, and callers narrow `unknown` with it. Never throws.
 *
 * @since 0.1.0
 */
export const isDatabaseError = (u: unknown): u is DatabaseError => {
  try {
    return Predicate.hasProperty(u, DatabaseErrorTypeId) && u[DatabaseErrorTypeId] === DatabaseErrorTypeId
  } catch {
    return false
  }
}
