/**
 * The connection and settings of the transaction a fiber runs in, for nested calls (savepoints).
 *
 * @internal
 */
import * as Context from "effect/Context"
import type { PgConnection } from "../pgConnection.js"
import type { TransactionInfo } from "./context.js"

/** The connection and settings of the transaction the fiber runs in. */
export class TransactionState extends Context.Tag("effect-pg-resilience/internal/TransactionState")<
  TransactionState,
  { readonly conn: PgConnection; readonly info: TransactionInfo }
>() {}
