/**
 * What a leased connection is made of: the pool handle it comes from, the deadline it runs under,
 * the lease itself, and the failures of getting one or running on one.
 *
 * @internal
 */
import { SqlError } from "@effect/sql/SqlError"
import type Pg from "pg"
import type { CancelTarget } from "./driver.js"

/** What a connection needs from the pool that owns it. */
export interface PoolHandle {
  readonly pool: Pg.Pool
  readonly cancelTarget: CancelTarget
  /** How long an interrupted query may take to end after its cancel request, in ms. */
  readonly cancelGraceMillis: number
  /** Called with the server round-trip time of every statement, in ms. */
  readonly observe: (millis: number) => void
  /**
   * Called when a statement fails: an error means the connection must not be reused, and is what
   * the caller gets instead (e.g. a server that turned read-only under a pool that wants a primary,
   * see `failoverPool.ts`).
   */
  readonly discardAfter?: (client: Pg.ClientBase, error: Error) => Error | undefined
}

/**
 * A deadline that work on a lease obeys without a fiber of its own: when it passes (`expire`), the
 * wait for a connection is abandoned, a running statement is cancelled on the server, and a
 * statement submitted afterwards fails at once, all with a "deadline passed" error (57014).
 */
export interface Expiry {
  expired: boolean
  /**
   * What to stop when the deadline passes, one entry per wait or statement (statements run
   * concurrently in one transaction queue on its connection, and each is stopped).
   */
  readonly stops: Set<() => void>
}

export const makeExpiry = (): Expiry => ({ expired: false, stops: new Set() })

/** Registers what to stop when the deadline passes; returns its removal. */
export const onExpire = (expiry: Expiry, stop: () => void): (() => void) => {
  expiry.stops.add(stop)
  return () => void expiry.stops.delete(stop)
}

/** Marks the deadline passed and stops what waits or runs under it. */
export const expire = (expiry: Expiry): void => {
  expiry.expired = true
  const stops = [...expiry.stops]
  expiry.stops.clear()
  for (const stop of stops) stop()
}

/** The failure of work stopped by its deadline: classified as a cancelled statement. */
export const deadlinePassed = () =>
  Object.assign(new Error("canceling statement due to the transaction's deadline"), { code: "57014" })

/** A pool client checked out for the lifetime of a scope (a transaction or `sql.reserve`). */
export interface Lease {
  readonly client: Pg.PoolClient
  /** Set when the client must not go back to the pool (socket error, unconfirmed cancel). */
  broken: Error | undefined
  /** The deadline of the transaction running on it, if any. */
  readonly expiry: Expiry | undefined
  /** Hands the client back to the pool (see `releaseLease`). */
  readonly release: () => void
}

/** How a statement reports back, node-postgres style. */
export type Done<A> = (error: Error | null, value?: A) => void
/** Sends a statement on a client and calls `done` once. */
export type Submit<A> = (client: Pg.ClientBase, done: Done<A>) => void

/** The failure of getting a connection. */
export const acquireFailed = (cause: unknown) => new SqlError({ cause, message: "Failed to acquire connection" })
/** The failure of a statement. */
export const statementFailed = (cause: unknown) => new SqlError({ cause, message: "Failed to execute statement" })
