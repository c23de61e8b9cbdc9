/**
 * A `@effect/sql` `Connection` on a `pg.Pool` that we own.
 *
 * It exists because the stock @effect/sql-pg 0.53 connection leaks a pool client when a queued
 * `sql.reserve` is interrupted, and cancels running queries through another pooled connection
 * (which cannot run when the pool is full). Here:
 * - a client handed out by the pool belongs to a `Scope` from the moment it arrives, and a waiter
 *   that was abandoned hands its client straight back;
 * - a running query is cancelled with PostgreSQL's own cancel request (a separate socket that uses no
 *   pool slot and no server connection slot); if the query does not end within `cancelGrace`, the
 *   client is destroyed rather than returned dirty.
 *
 * The lease model is in `pgConnection/lease.ts`; the node-postgres internals it relies on are in
 * `pgConnection/driver.ts` (both re-exported here, so the rest of the library imports this module).
 *
 * @internal
 */
import type { Connection } from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import Pg from "pg"
import Cursor from "pg-cursor"
import { destroyClient, isUsable, processIdOf, ReportingClient, sendCancelRequest, serverMajorOf } from "./pgConnection/driver.js"
import {
  acquireFailed,
  deadlinePassed,
  type Expiry,
  type Lease,
  onExpire,
  type PoolHandle,
  statementFailed,
  type Submit
} from "./pgConnection/lease.js"

export * from "./pgConnection/driver.js"
export * from "./pgConnection/lease.js"

const cancelSent = new Error("a cancel request was sent to this session")

/** The failure of a statement whose connection was cut because no answer came in time. */
const noAnswer = (limitMillis: number) =>
  Object.assign(
    new Error(`Connection terminated: no answer from the server within ${Math.round(limitMillis)} ms, the connection was closed`),
    { code: "ETIMEDOUT" }
  )

/**
 * Cancels the statement running on `client`: PostgreSQL's cancel request, the session marked never
 * to be reused (a cancel request is asynchronous: if the statement ends on its own meanwhile, the
 * request can land on whatever the session runs next), and the connection cut should the statement
 * not end within the grace. Returns that timer, to be cleared when the statement ends.
 */
const cancelStatement = (
  handle: PoolHandle,
  client: Pg.ClientBase,
  session: { broken: Error | undefined }
): ReturnType<typeof setTimeout> => {
  sendCancelRequest(handle.cancelTarget, client, handle.cancelGraceMillis)
  session.broken ??= cancelSent
  return setTimeout(() => {
    const reason = new Error("query did not end after its cancel request")
    session.broken = reason
    destroyClient(client, reason)
  }, handle.cancelGraceMillis)
}

/**
 * The interruption of a running statement. `stop` runs at once, in the same turn as the check of
 * what is running (so nothing can end in between): it cancels what still runs and hands back the
 * function that clears the connection-cutting timer, or `undefined` when nothing runs. The
 * interruption then ends when the statement does (`ended`, which `stop` registers) or, should
 * cutting the connection not end it, 50 ms after the grace.
 */
const interruptRunning = (
  handle: PoolHandle,
  stop: (ended: () => void) => (() => void) | undefined
): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    let resumed = false
    let clearCut: (() => void) | undefined
    const ended = () => {
      if (resumed) return
      resumed = true
      clearCut?.()
      clearTimeout(fallback)
      resume(Effect.void)
    }
    const fallback = setTimeout(ended, handle.cancelGraceMillis + 50)
    clearCut = stop(ended)
    if (clearCut === undefined) ended()
  })

/**
 * Runs one statement on a leased client. When interrupted, cancels the statement on the server and
 * waits (bounded) for it to end so that the next statement of the lease does not queue behind it.
 *
 * Under the lease's deadline (`expiry`): a statement submitted after it passed fails at once, and a
 * statement running when it passes is cancelled, except COMMIT (`kind` "commit"), whose outcome
 * decides whether the work happened: it gets `cancelGrace` more to answer, then its connection is
 * cut and it fails as a lost connection (the outcome is unknown).
 */
const runOnLease = <A>(
  handle: PoolHandle,
  lease: Lease,
  submit: Submit<A>,
  kind: "statement" | "commit" = "statement"
): Effect.Effect<A, SqlError> =>
  Effect.async<A, SqlError>((resume) => {
    const expiry = lease.expiry
    if (expiry?.expired && kind === "statement") return resume(Effect.fail(statementFailed(deadlinePassed())))
    let finished = false
    let onFinish: (() => void) | undefined
    let timer: ReturnType<typeof setTimeout> | undefined
    const started = performance.now()
    const cancel = () => {
      timer = cancelStatement(handle, lease.client, lease)
    }
    const unwatch = expiry === undefined ? undefined : onExpire(
      expiry,
      kind === "statement"
        ? cancel
        : () => {
          timer = setTimeout(() => {
            if (finished) return
            finished = true
            const reason = noAnswer(handle.cancelGraceMillis + (performance.now() - started))
            lease.broken = reason
            destroyClient(lease.client, reason)
            onFinish?.()
            resume(Effect.fail(statementFailed(reason)))
          }, handle.cancelGraceMillis)
        }
    )
    submit(lease.client, (error, value) => {
      if (finished) return
      finished = true
      if (timer !== undefined) clearTimeout(timer)
      unwatch?.()
      const discarded = error ? handle.discardAfter?.(lease.client, error) : undefined
      if (discarded) lease.broken ??= discarded
      handle.observe(performance.now() - started)
      onFinish?.()
      resume(error ? Effect.fail(statementFailed(discarded ?? error)) : Effect.succeed(value as A))
    })
    return interruptRunning(handle, (ended) => {
      if (finished) return undefined
      unwatch?.()
      if (timer === undefined) cancel()
      onFinish = ended
      return () => clearTimeout(timer)
    })
  })

/**
 * Checks a client out for one statement and returns it afterwards. Interruption while queued
 * abandons the wait (the client is released on arrival); interruption while running cancels.
 */
const runPooled = <A>(handle: PoolHandle, submit: Submit<A>): Effect.Effect<A, SqlError> =>
  Effect.async<A, SqlError>((resume) => {
    let state: "waiting" | "running" | "done" | "abandoned" = "waiting"
    let client: Pg.PoolClient | undefined
    const session: { broken: Error | undefined } = { broken: undefined }
    let onFinish: (() => void) | undefined
    const onError = (error: Error) => {
      session.broken = error
    }
    handle.pool.connect((error, client_, release_) => {
      if (state === "abandoned") {
        if (client_) release_()
        return
      }
      if (error || !client_) {
        state = "done"
        return resume(Effect.fail(acquireFailed(error ?? new Error("the pool returned no client"))))
      }
      client = client_
      state = "running"
      client.on("error", onError)
      const started = performance.now()
      submit(client, (queryError, value) => {
        handle.observe(performance.now() - started)
        client_.off("error", onError)
        const discarded = queryError ? handle.discardAfter?.(client_, queryError) : undefined
        if (discarded) session.broken ??= discarded
        const wasCancelled = onFinish !== undefined
        state = "done"
        release_(session.broken)
        if (wasCancelled) return onFinish!()
        resume(queryError ? Effect.fail(statementFailed(discarded ?? queryError)) : Effect.succeed(value as A))
      })
    })
    return interruptRunning(handle, (ended) => {
      if (state === "waiting") {
        state = "abandoned"
        return undefined
      }
      if (state !== "running" || client === undefined) return undefined
      const timer = cancelStatement(handle, client, session)
      onFinish = ended
      return () => clearTimeout(timer)
    })
  })

/**
 * Leases a client, to be handed back with `releaseLease` exactly once. The wait is interruptible
 * even inside an uninterruptible region (so a transaction on a full pool obeys a timeout) and is
 * abandoned when `expiry` expires; no interruption point can lose the client: a client the pool
 * hands over after its waiter left goes straight back, and so does one handed over while the
 * interruption lands before the interruptible wait has ended. The lease is the caller's once it
 * is back in the caller's own region: call it from an uninterruptible one (`acquireRelease`, or the
 * transaction's attempt), where nothing can interrupt between receiving the lease and keeping it.
 */
export const takeLease = (handle: PoolHandle, expiry?: Expiry): Effect.Effect<Lease, SqlError> =>
  Effect.suspend(() => {
    let state: "waiting" | "delivered" | "owned" | "abandoned" = "waiting"
    let lease: Lease | undefined
    const wait = Effect.async<Lease, SqlError>((resume) => {
      if (expiry?.expired) return resume(Effect.fail(acquireFailed(deadlinePassed())))
      const unwatch = expiry === undefined ? undefined : onExpire(expiry, () => {
        if (state !== "waiting") return
        state = "abandoned"
        resume(Effect.fail(acquireFailed(deadlinePassed())))
      })
      handle.pool.connect((error, client, release) => {
        unwatch?.()
        if (state !== "waiting") {
          if (client) release()
          return
        }
        if (error || !client) {
          state = "abandoned"
          return resume(Effect.fail(acquireFailed(error ?? new Error("the pool returned no client"))))
        }
        state = "delivered"
        const taken: Lease = {
          client,
          broken: undefined,
          expiry,
          release: () => {
            if (state === "abandoned") return
            state = "abandoned"
            client.off("error", onError)
            release(taken.broken)
          }
        }
        const onError = (error: Error) => {
          taken.broken = error
        }
        client.on("error", onError)
        lease = taken
        resume(Effect.succeed(taken))
      })
      return Effect.sync(() => {
        if (state === "waiting") state = "abandoned"
      })
    })
    // Delivered but not yet the caller's: an interruption that wins the race gives the client back.
    const giveBack = Effect.sync(() => {
      if (state === "delivered") lease?.release()
    })
    return Effect.flatMap(
      Effect.onInterrupt(Effect.interruptible(wait), () => giveBack),
      (taken) =>
        Effect.sync(() => {
          state = "owned"
          return taken
        })
    )
  })

/** Hands a lease back to the pool (destroying its client when it is broken). */
export const releaseLease = (lease: Lease): void => lease.release()

/** A lease for the current scope: handed back when the scope closes. */
export const acquireLease = (handle: PoolHandle, expiry?: Expiry): Effect.Effect<Lease, SqlError, Scope.Scope> =>
  Effect.acquireRelease(takeLease(handle, expiry), (lease) => Effect.sync(() => releaseLease(lease)))

const rowsOf = (result: Pg.QueryResult | Array<Pg.QueryResult>): ReadonlyArray<any> =>
  Array.isArray(result) ? result.map((r) => r.rows ?? []) : (result.rows ?? [])

const query = <A>(sql: string, params: ReadonlyArray<unknown>, map: (r: any) => A): Submit<A> => (client, done) =>
  client.query(sql, params as Array<unknown>, (error: Error | null, result: any) => {
    if (error) done(error)
    else done(null, map(result))
  })

/** The `@effect/sql` connection for one leased client, or for one-client-per-statement use. */
export class PgConnection implements Connection {
  constructor(readonly handle: PoolHandle, readonly lease: Lease | undefined) {}

  /** Hands a leased connection back to the pool (once; a broken one is destroyed). */
  release(): void {
    this.lease?.release()
  }

  /** The server's major version, as the connection reported it at start-up. */
  get serverMajor(): number | undefined {
    return this.lease ? serverMajorOf(this.lease.client) : undefined
  }

  /** The connection's process id: the backend's, unless a pooler stands in between (see `ReportingClient.processIsBackend`). */
  get processId(): number {
    return this.lease === undefined ? 0 : processIdOf(this.lease.client) ?? 0
  }

  /**
   * Whether `processId` is known to be the server backend's pid (compared once with
   * `pg_backend_pid()`); `false` behind a pooler such as PgBouncer, `undefined` until compared.
   */
  get processIsBackend(): boolean | undefined {
    return (this.lease?.client as Partial<ReportingClient> | undefined)?.processIsBackend
  }

  /** Records what `pg_backend_pid()` answered on this connection. */
  observeBackendPid(pid: number): void {
    const client = this.lease?.client as Partial<ReportingClient> | undefined
    if (client) client.processIsBackend = pid === this.processId
  }

  /** Whether the connection can still send a statement. */
  get usable(): boolean {
    return this.lease !== undefined && isUsable(this.lease.client)
  }

  /** Marks the connection never to be reused (it is destroyed when released). */
  markBroken(reason: unknown): void {
    if (this.lease) this.lease.broken ??= reason instanceof Error ? reason : new Error(String(reason))
  }

  /**
   * ROLLBACK, bounded by `cancelGrace`: if it is not confirmed in time (or fails) the connection is
   * destroyed, so a session that may still hold locks never goes back to the pool. A connection that
   * is already cut needs none: the server ends the transaction when the socket closes. Succeeds with
   * whether the rollback was confirmed.
   */
  rollback(): Effect.Effect<boolean> {
    const lease = this.lease!
    const graceMillis = this.handle.cancelGraceMillis
    return Effect.async<boolean>((resume) => {
      if (!isUsable(lease.client)) return resume(Effect.succeed(false))
      let settled = false
      const timer = setTimeout(() => {
        if (settled) return
        settled = true
        const reason = new Error("ROLLBACK was not confirmed in time")
        lease.broken = reason
        destroyClient(lease.client, reason)
        resume(Effect.succeed(false))
      }, graceMillis)
      lease.client.query("ROLLBACK", (error: Error | null) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        if (error) {
          lease.broken = error
          destroyClient(lease.client, error)
        }
        resume(Effect.succeed(!error))
      })
    })
  }

  private run<A>(submit: Submit<A>): Effect.Effect<A, SqlError> {
    return this.lease ? runOnLease(this.handle, this.lease, submit) : runPooled(this.handle, submit)
  }

  execute(
    sql: string,
    params: ReadonlyArray<unknown>,
    transformRows: (<A extends object>(row: ReadonlyArray<A>) => ReadonlyArray<A>) | undefined
  ): Effect.Effect<ReadonlyArray<any>, SqlError> {
    const rows = this.run(query(sql, params, rowsOf))
    return transformRows ? Effect.map(rows, transformRows) : rows
  }

  executeRaw(sql: string, params: ReadonlyArray<unknown>): Effect.Effect<Pg.QueryResult, SqlError> {
    return this.run(query(sql, params, (r: Pg.QueryResult) => r))
  }

  /**
   * Runs COMMIT on the leased client: not refused or cancelled by the lease's deadline, but given
   * `cancelGrace` past it to answer before its connection is cut (see `runOnLease`).
   */
  commit(): Effect.Effect<Pg.QueryResult, SqlError> {
    return runOnLease(this.handle, this.lease!, query("COMMIT", [], (r: Pg.QueryResult) => r), "commit")
  }

  executeWithoutTransform(sql: string, params: ReadonlyArray<unknown>) {
    return this.run(query(sql, params, rowsOf))
  }

  executeValues(sql: string, params: ReadonlyArray<unknown>): Effect.Effect<ReadonlyArray<ReadonlyArray<unknown>>, SqlError> {
    return this.run<ReadonlyArray<ReadonlyArray<unknown>>>((client, done) =>
      client.query(
        { text: sql, values: params as Array<unknown>, rowMode: "array" },
        (error: Error | null, result: Pg.QueryArrayResult) => (error ? done(error) : done(null, result.rows))
      )
    )
  }

  executeUnprepared(
    sql: string,
    params: ReadonlyArray<unknown>,
    transformRows: (<A extends object>(row: ReadonlyArray<A>) => ReadonlyArray<A>) | undefined
  ) {
    return this.execute(sql, params, transformRows)
  }

  executeStream(
    sql: string,
    params: ReadonlyArray<unknown>,
    transformRows: (<A extends object>(row: ReadonlyArray<A>) => ReadonlyArray<A>) | undefined
  ): Stream.Stream<any, SqlError> {
    const handle = this.handle
    const existing = this.lease
    return Effect.gen(function*() {
      const lease = existing ?? (yield* acquireLease(handle))
      const cursor = lease.client.query(new Cursor(sql, params as Array<unknown>))
      yield* Effect.addFinalizer(() =>
        Effect.async<void>((resume) => {
          cursor.close(() => resume(Effect.void))
        }).pipe(Effect.timeoutOption(handle.cancelGraceMillis))
      )
      const pull = Effect.async<Chunk.Chunk<any>, Option.Option<SqlError>>((resume) => {
        cursor.read(128, (error, rows) => {
          if (error) resume(Effect.fail(Option.some(statementFailed(error))))
          else if (rows.length > 0) resume(Effect.succeed(Chunk.unsafeFromArray(transformRows ? transformRows(rows) : rows)))
          else resume(Effect.fail(Option.none()))
        })
      })
      return Stream.repeatEffectChunkOption(pull)
    }).pipe(Stream.unwrapScoped)
  }
}
