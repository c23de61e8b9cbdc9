/**
 * The members of `DatabaseService` that carry node-postgres types, added to the public interface by
 * module augmentation. This file is part of the library's own compilation (so the transaction engine,
 * the health probe and the tests see them), but no public declaration file imports it: a consumer's
 * compiler never meets a `pg` type through this library (no `@types/pg` needed, no silent `any`).
 *
 * @internal
 */
import type { SqlError } from "@effect/sql/SqlError"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type Pg from "pg"
import type { Expiry, PgConnection } from "../pgConnection.js"

declare module "../../Database.js" {
  interface DatabaseService {
    /** The `pg.Pool` itself, for diagnostics and tests. */
    readonly pool: Pg.Pool
    /**
     * A pooled connection for the current scope, on the leak-free path. The transaction module uses
     * it to run BEGIN/COMMIT itself.
     */
    readonly reserve: Effect.Effect<PgConnection, SqlError, Scope.Scope>
    /**
     * A pooled connection under a transaction's deadline, without a scope: the caller hands it back
     * with `release()`. The wait is abandoned, and the connection's statements cancelled or refused,
     * once `expiry` is expired (see the transaction engine).
     */
    readonly leaseUntil: (expiry: Expiry) => Effect.Effect<PgConnection, SqlError>
    /**
     * Runs `f` on a dedicated connection outside the application pool (one at a time), so that a
     * health probe never queues behind application work. The connection is discarded after any
     * failure or interruption, and re-opened on next use.
     */
    readonly withProbeConnection: <A, E, R>(
      f: (client: Pg.Client) => Effect.Effect<A, E, R>
    ) => Effect.Effect<A, E | SqlError, R>
  }
}

export {}
