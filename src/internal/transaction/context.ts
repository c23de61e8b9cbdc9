/**
 * What a fiber inside a transaction can see: the public `CurrentTransaction` (the connection the
 * engine uses for nested calls is in `state.ts`, apart, so that public types never reach `pg`).
 *
 * @internal
 */
import * as Context from "effect/Context"
import type { IsolationLevel } from "./config.js"

export interface TransactionInfo {
  /** Generated on the client for the whole call (all attempts). */
  readonly id: string
  /** 1 for the first attempt. */
  readonly attempt: number
  readonly isolationLevel: IsolationLevel
  readonly readOnly: boolean
  /** `pg_backend_pid()` of the session running it (the server's, also behind PgBouncer). */
  readonly backendPid: number
  /** When this attempt began. */
  readonly startedAt: Date
  /** 0 at the outermost level, 1 for a savepoint inside it, ... */
  readonly depth: number
}

export class CurrentTransaction extends Context.Tag("effect-pg-resilience/CurrentTransaction")<
  CurrentTransaction,
  TransactionInfo
>() {}
