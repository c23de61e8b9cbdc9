/**
 * Transactions as Effect values: isolation, a deadline, safe retries, and no dirty connection.
 *
 * Why not `sql.withTransaction`: @effect/sql 0.52 turns COMMIT failures into defects, reports a
 * transaction whose COMMIT was answered with ROLLBACK as committed, has no isolation level and no
 * deadline, and cannot retry. Here the outermost call owns BEGIN/COMMIT/ROLLBACK on a leased
 * connection and provides it as `SqlClient.TransactionConnection`, so ordinary `sql` statements and
 * nested `sql.withTransaction` calls inside run on it (nested ones as savepoints).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import type { SqlError } from "@effect/sql/SqlError"
import type { Database } from "./Database.js"
import type { DatabaseError } from "./Errors.js"
import * as config from "./internal/transaction/config.js"
import * as context from "./internal/transaction/context.js"
import * as engine from "./internal/transaction/engine.js"
import * as internalMetrics from "./internal/transaction/metrics.js"

/**
 * The four SQL isolation levels.
 *
 * @since 0.1.0
 * @category options
 */
export const IsolationLevel = config.IsolationLevel

/**
 * @since 0.1.0
 * @category options
 */
export type IsolationLevel = config.IsolationLevel

/**
 * The validated transaction options, with their defaults. Why a Schema: options are checked before
 * anything is sent, with a typed error naming the field.
 *
 * @since 0.1.0
 * @category options
 */
export const TransactionConfig = config.TransactionConfig

/**
 * @since 0.1.0
 * @category options
 */
export type TransactionConfig = config.TransactionConfig

/**
 * What `withTransaction` accepts (every field optional; an explicit `undefined` means the default):
 *
 * - `isolationLevel`: default READ COMMITTED;
 * - `readOnly`: READ ONLY access mode (default false);
 * - `deferrable`: only with SERIALIZABLE and readOnly (default false);
 * - `timeout`: deadline of the whole call, retries and backoff included (default 30 s);
 * - `retryDeadlocks`: retry deadlocks and serialization failures (default true);
 * - `maxRetries`: most retries after the first attempt (default 30; the deadline is the hard bound);
 * - `schedule`: replaces the default backoff (exponential from 25 ms with full jitter, at most 250 ms);
 *   still capped by `maxRetries` and the deadline.
 *
 * @since 0.1.0
 * @category options
 */
export type TransactionConfigInput = config.TransactionConfigInput

/**
 * Invalid transaction options (an unknown key included), or a nested call that asks for what its
 * outer transaction is not. Nothing was sent to the server. Options written in the program are the
 * programmer's: `withTransaction` dies with this error (a defect, like any bug); configuration read
 * at runtime is validated with `makeConfig`, whose failure is this error, typed.
 *
 * @since 0.1.0
 * @category errors
 */
export const TransactionConfigError = config.TransactionConfigError

/**
 * @since 0.1.0
 * @category errors
 */
export type TransactionConfigError = config.TransactionConfigError

/**
 * Validates options without touching the server (cached per options object). Why: a typo must fail
 * before a connection is taken.
 *
 * @since 0.1.0
 * @category options
 */
export const validateConfig = config.validateConfig

/**
 * Validated options from configuration read at runtime (a file, the environment): the failure is a
 * typed `TransactionConfigError`, and the result is accepted by `withTransaction` as it is. Why:
 * options written in the program fail as a defect, but read ones deserve a typed error.
 *
 * @since 0.1.0
 * @category options
 */
export const makeConfig = (input: unknown): Effect.Effect<TransactionConfig, TransactionConfigError> =>
  config.validateConfig(input as TransactionConfigInput)

/**
 * What the running transaction is, for logs and for code that adapts to it.
 *
 * @since 0.1.0
 * @category context
 */
export type TransactionInfo = context.TransactionInfo

/**
 * The transaction the current fiber runs in. Why: its id, attempt and backend pid belong in the
 * caller's logs.
 *
 * @since 0.1.0
 * @category context
 */
export const CurrentTransaction = context.CurrentTransaction

/**
 * @since 0.1.0
 * @category context
 */
export type CurrentTransaction = context.CurrentTransaction

/**
 * Transaction metrics, for Prometheus or OpenTelemetry exporters.
 *
 * @since 0.1.0
 * @category metrics
 */
export const metrics = internalMetrics.metrics

/**
 * The type of `withTransaction` and `withTransactionRetry`: data-first or pipeable.
 *
 * @since 0.1.0
 * @category combinators
 */
export interface TransactionCombinator {
  (
    config?: TransactionConfigInput | TransactionConfig
  ): <A, E, R>(
    effect: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, Exclude<E, SqlError> | DatabaseError, Database | Exclude<R, CurrentTransaction>>
  <A, E, R>(
    effect: Effect.Effect<A, E, R>,
    config?: TransactionConfigInput | TransactionConfig
  ): Effect.Effect<A, Exclude<E, SqlError> | DatabaseError, Database | Exclude<R, CurrentTransaction>>
}

const combinator = (policy: "deadlocks" | "retryable"): TransactionCombinator =>
  dual(
    (args) => Effect.isEffect(args[0]),
    (effect: Effect.Effect<any, any, any>, options?: TransactionConfigInput | TransactionConfig) =>
      engine.run(effect, (options ?? config.defaults) as TransactionConfigInput, policy)
  ) as TransactionCombinator

/**
 * Runs `effect` in a transaction: BEGIN with the isolation level, access mode and server-side
 * limits; COMMIT on success (a failed or aborted COMMIT is a typed failure); ROLLBACK on any failure,
 * defect or interruption. Deadlocks and serialization failures are retried (the whole effect, on a
 * fresh BEGIN) while `retryDeadlocks` is on. Nested calls become savepoints.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withTransaction: TransactionCombinator = combinator("deadlocks")

/**
 * Like `withTransaction`, and also retries every other retryable failure that happened before
 * COMMIT was sent (lost connections, server-side timeouts ...). Never retries an unknown COMMIT
 * outcome.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withTransactionRetry: TransactionCombinator = combinator("retryable")
