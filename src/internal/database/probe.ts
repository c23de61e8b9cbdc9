/**
 * The probe connection: one dedicated client outside the application pool, so that a health probe
 * never queues behind application work. It is re-opened after any failure or interruption.
 *
 * @internal
 */
import { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type Pg from "pg"
import { destroyClient, isUsable, ReportingClient } from "../pgConnection.js"

const connectClient = (client: Pg.Client): Effect.Effect<Pg.Client, SqlError> =>
  Effect.async<Pg.Client, SqlError>((resume) => {
    client.on("error", () => {})
    client.connect((error: Error | undefined) => {
      if (error) resume(Effect.fail(new SqlError({ cause: error, message: "Failed to acquire connection" })))
      else resume(Effect.succeed(client))
    })
    return Effect.sync(() => destroyClient(client))
  })

const endClient = (client: Pg.Client): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    client.end().then(
      () => resume(Effect.void),
      () => resume(Effect.void)
    )
  }).pipe(Effect.timeoutOption(1000), Effect.asVoid)

/**
 * `withProbeConnection` for clients made from `settings` (with several hosts, by the pool's client
 * class, which picks the host the pool would); the client is ended with the scope.
 */
export const makeProbe = (
  settings: Pg.ClientConfig,
  Client: typeof ReportingClient = ReportingClient
): Effect.Effect<
  <A, E, R>(f: (client: Pg.Client) => Effect.Effect<A, E, R>) => Effect.Effect<A, E | SqlError, R>,
  never,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const lock = yield* Effect.makeSemaphore(1)
    let probe: Pg.Client | undefined
    const drop = Effect.suspend(() => {
      const current = probe
      probe = undefined
      return current ? endClient(current) : Effect.void
    })
    // After a failure or an interruption the socket is cut at once: the server may be hung, and a
    // graceful end would wait on it.
    const discard = Effect.sync(() => {
      const current = probe
      probe = undefined
      if (current) destroyClient(current)
    })
    yield* Effect.addFinalizer(() => drop)
    const client = Effect.suspend(() =>
      probe && isUsable(probe)
        ? Effect.succeed(probe)
        : Effect.zipRight(
          discard,
          Effect.tap(connectClient(new Client(settings)), (connected) => {
            probe = connected
          })
        )
    )
    return <A, E, R>(f: (client: Pg.Client) => Effect.Effect<A, E, R>) =>
      lock.withPermits(1)(
        Effect.onExit(
          Effect.flatMap(client, f),
          (exit): Effect.Effect<void> => (exit._tag === "Success" ? Effect.void : discard)
        )
      )
  })
