/**
 * What the server says, asked from the control session (outside the application pool), so that no
 * claim about the library rests on the library's own word: sessions, locks, and the transaction
 * metrics before and after a step.
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Classify from "../Classify.js"
import * as Errors from "../Errors.js"
import * as Transaction from "../Transaction.js"
import type { DemoEnvironment } from "./environment.js"

/** The application's sessions on the server, as pg_stat_activity and pg_locks show them. */
export interface ServerSessions {
  /** Sessions of the application pool (its health probe excluded). */
  readonly sessions: number
  /** Of those, running a statement (a cancelled pg_sleep would still be one). */
  readonly active: number
  readonly idleInTransaction: number
  /** Locks held by those sessions. */
  readonly locks: number
  /** Locks on the scratch schema's tables held by any session other than the control one. */
  readonly schemaLocks: number
  /** Sessions of the application pool and of its probe. */
  readonly withProbe: number
}

/** Reads `ServerSessions` from the control session. */
export const serverSessions = (env: DemoEnvironment): Effect.Effect<ServerSessions, Errors.DatabaseError> =>
  Effect.map(
    env.control<ServerSessions>`
      SELECT count(*) FILTER (WHERE a.application_name = ${env.appName})::int AS sessions,
             count(*) FILTER (WHERE a.application_name = ${env.appName} AND a.state = 'active')::int AS active,
             count(*) FILTER (WHERE a.application_name = ${env.appName}
                              AND a.state LIKE 'idle in transaction%')::int AS "idleInTransaction",
             (SELECT count(*) FROM pg_locks l JOIN pg_stat_activity s ON s.pid = l.pid
               WHERE s.application_name = ${env.appName})::int AS locks,
             (SELECT count(*) FROM pg_locks l
                JOIN pg_class c ON c.oid = l.relation
                JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = ${env.schema} AND l.pid <> pg_backend_pid())::int AS "schemaLocks",
             count(*)::int AS "withProbe"
        FROM pg_stat_activity a
       WHERE a.application_name IN (${env.appName}, ${`${env.appName} probe`})`,
    (rows) => rows[0] ?? { sessions: 0, active: 0, idleInTransaction: 0, locks: 0, schemaLocks: 0, withProbe: 0 }
  ).pipe(Classify.refineErrors)

/** Re-reads until `done` holds or `withinMillis` pass (the server ends a closed session a little later). */
export const pollUntil = <A, E>(read: Effect.Effect<A, E>, done: (a: A) => boolean, withinMillis = 2000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + withinMillis
    let value = yield* read
    while (!done(value) && Date.now() < deadline) {
      yield* Effect.sleep("50 millis")
      value = yield* read
    }
    return value
  })

/** Counter values of `Transaction.metrics` (process-wide). */
export interface TransactionCounts {
  readonly commits: number
  readonly rollbacks: number
  readonly timeouts: number
  readonly unknownCommitOutcomes: number
  /** Retries by reason (the tag of the error that was retried). */
  readonly retries: Readonly<Record<string, number>>
}

const counter = (metric: Metric.Metric.Counter<number>) => Effect.map(Metric.value(metric), (state) => state.count)

/** Reads every counter of `Transaction.metrics`, retries per reason. */
export const transactionCounts: Effect.Effect<TransactionCounts> = Effect.all({
  commits: counter(Transaction.metrics.commits),
  rollbacks: counter(Transaction.metrics.rollbacks),
  timeouts: counter(Transaction.metrics.timeouts),
  unknownCommitOutcomes: counter(Transaction.metrics.unknownCommitOutcomes),
  retries: Effect.all(
    Object.fromEntries(
      Errors.databaseErrorTags.map((tag) => [tag, counter(Metric.tagged(Transaction.metrics.retries, "reason", tag))])
    )
  )
})

/** What happened between two readings. */
export const countsSince = (before: TransactionCounts, after: TransactionCounts): TransactionCounts => ({
  commits: after.commits - before.commits,
  rollbacks: after.rollbacks - before.rollbacks,
  timeouts: after.timeouts - before.timeouts,
  unknownCommitOutcomes: after.unknownCommitOutcomes - before.unknownCommitOutcomes,
  retries: Object.fromEntries(
    Object.entries(after.retries).map(([reason, n]) => [reason, n - (before.retries[reason] ?? 0)])
  )
})

/** All retries, whatever the reason. */
export const totalRetries = (counts: TransactionCounts): number =>
  Object.values(counts.retries).reduce((sum, n) => sum + n, 0)
