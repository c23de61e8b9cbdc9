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
 * @internal
 */
import type { Connection } from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Net from "node:net"
import Pg from "pg"
import { parse as parseConnectionString } from "pg-connection-string"
import Cursor from "pg-cursor"

/** What a connection needs from the pool that owns it. */
export interface PoolHandle {
  readonly pool: Pg.Pool
  readonly cancelTarget: CancelTarget
  /** How long an interrupted query may take to end after its cancel request, in ms. */
  readonly cancelGraceMillis: number
  /** Called with the server round-trip time of every statement, in ms. */
  readonly observe: (millis: number) => void
}

/** A pool client checked out for the lifetime of a scope (a transaction or `sql.reserve`). */
export interface Lease {
  readonly client: Pg.PoolClient
  /** Set when the client must not go back to the pool (socket error, unconfirmed cancel). */
  broken: Error | undefined
}

type Done<A> = (error: Error | null, value?: A) => void
type Submit<A> = (client: Pg.ClientBase, done: Done<A>) => void

const acquireFailed = (cause: unknown) => new SqlError({ cause, message: "Failed to acquire connection" })
const statementFailed = (cause: unknown) => new SqlError({ cause, message: "Failed to execute statement" })

/** Where a cancel request goes: the server the pool connects to. */
export type CancelTarget = { readonly host: string; readonly port: number } | { readonly path: string }

/** Reads the server address from pool options (URL or discrete fields), as node-postgres would. */
export const cancelTargetOf = (options: Pg.PoolConfig): CancelTarget => {
  let host = options.host ?? "localhost"
  let port = options.port ?? 5432
  if (options.connectionString) {
    const parsed = parseConnectionString(options.connectionString)
    host = parsed.host ?? host
    port = parsed.port ? Number(parsed.port) : port
  }
  return host.startsWith("/") ? { path: `${host}/.s.PGSQL.${port}` } : { host, port }
}

/**
 * Sends PostgreSQL's CancelRequest for whatever `client` runs now. Best effort: it opens its own
 * short-lived socket, so it works while every pool slot and every server connection slot is taken.
 */
export const sendCancelRequest = (target: CancelTarget, client: Pg.ClientBase): void => {
  const { processID, secretKey } = client as unknown as { processID?: number | null; secretKey?: number | null }
  if (processID == null || secretKey == null) return
  const message = Buffer.alloc(16)
  message.writeInt32BE(16, 0)
  message.writeInt32BE(80877102, 4) // CancelRequest code
  message.writeInt32BE(processID, 8)
  message.writeInt32BE(secretKey, 12)
  const socket = "path" in target ? Net.connect(target.path) : Net.connect(target.port, target.host)
  socket.setTimeout(2000, () => socket.destroy())
  socket.on("error", () => socket.destroy())
  socket.on("connect", () => socket.end(message))
}

/** Cuts a client's socket at once: for a connection that must never be used (or waited on) again. */
export const destroyClient = (client: Pg.ClientBase, reason?: Error): void => {
  const stream = (client as unknown as { connection?: { stream?: { destroy(e?: Error): void } } }).connection?.stream
  try {
    stream?.destroy(reason)
  } catch {
    // already gone
  }
}

const cancelSent = new Error("a cancel request was sent to this session")

/**
 * Runs one statement on a leased client. When interrupted, cancels the statement on the server and
 * waits (bounded) for it to end so that the next statement of the lease does not queue behind it.
 */
const runOnLease = <A>(handle: PoolHandle, lease: Lease, submit: Submit<A>): Effect.Effect<A, SqlError> =>
  Effect.async<A, SqlError>((resume) => {
    let finished = false
    let onFinish: (() => void) | undefined
    const started = performance.now()
    submit(lease.client, (error, value) => {
      finished = true
      handle.observe(performance.now() - started)
      onFinish?.()
      resume(error ? Effect.fail(statementFailed(error)) : Effect.succeed(value as A))
    })
    return Effect.async<void>((resumeCancel) => {
      if (finished) return resumeCancel(Effect.void)
      sendCancelRequest(handle.cancelTarget, lease.client)
      // A cancel request is asynchronous: if the statement ends on its own meanwhile, the request can
      // land on whatever this session runs next. The session is therefore never reused.
      lease.broken ??= cancelSent
      const timer = setTimeout(() => {
        const reason = new Error("query did not end after its cancel request")
        lease.broken = reason
        destroyClient(lease.client, reason)
        resumeCancel(Effect.void)
      }, handle.cancelGraceMillis)
      onFinish = () => {
        clearTimeout(timer)
        resumeCancel(Effect.void)
      }
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
    let broken: Error | undefined
    let onFinish: (() => void) | undefined
    const onError = (error: Error) => {
      broken = error
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
        const wasCancelled = onFinish !== undefined
        state = "done"
        release_(broken)
        if (wasCancelled) return onFinish!()
        resume(queryError ? Effect.fail(statementFailed(queryError)) : Effect.succeed(value as A))
      })
    })
    return Effect.async<void>((resumeCancel) => {
      if (state === "waiting") {
        state = "abandoned"
        return resumeCancel(Effect.void)
      }
      if (state !== "running" || client === undefined) return resumeCancel(Effect.void)
      const running = client
      sendCancelRequest(handle.cancelTarget, running)
      broken ??= cancelSent // see runOnLease: never reused after a cancel
      const timer = setTimeout(() => {
        const reason = new Error("query did not end after its cancel request")
        broken = reason
        destroyClient(running, reason)
      }, handle.cancelGraceMillis)
      onFinish = () => {
        clearTimeout(timer)
        resumeCancel(Effect.void)
      }
    })
  })

/**
 * Leases a client for the current scope. The wait is interruptible even inside an uninterruptible
 * region (so `sql.withTransaction` on a full pool obeys a timeout), and no interruption point can
 * lose the client: it is given back when the wait is interrupted (also after the pool already
 * handed it over), when the scope closes, and on arrival when its waiter is gone.
 */
export const acquireLease = (handle: PoolHandle): Effect.Effect<Lease, SqlError, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    let state: "waiting" | "delivered" | "owned" | "abandoned" | "released" = "waiting"
    let lease: Lease | undefined
    let release: ((error?: Error | boolean) => void) | undefined
    const onError = (error: Error) => {
      if (lease) lease.broken = error
    }
    const giveBack = () => {
      if (state === "waiting") {
        state = "abandoned"
      } else if ((state === "delivered" || state === "owned") && lease && release) {
        state = "released"
        lease.client.off("error", onError)
        release(lease.broken)
      }
    }
    yield* Scope.addFinalizer(scope, Effect.sync(giveBack))
    return yield* Effect.interruptible(
      Effect.async<Lease, SqlError>((resume) => {
        handle.pool.connect((error, client, release_) => {
          if (state !== "waiting") {
            if (client) release_()
            return
          }
          if (error || !client) {
            state = "abandoned"
            return resume(Effect.fail(acquireFailed(error ?? new Error("the pool returned no client"))))
          }
          state = "delivered"
          release = release_
          lease = { client, broken: undefined }
          client.on("error", onError)
          // The lease is the fiber's only once this runs; if an interruption wins the race, the
          // canceler below gives the client back instead.
          resume(Effect.sync(() => {
            if (state === "delivered") state = "owned"
            return lease!
          }))
        })
        return Effect.sync(giveBack)
      })
    )
  })

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
