/**
 * One health check under a hard bound: run in its own fiber, waited for at most its timeout, and
 * described in one scrubbed line when it fails.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type { DatabaseHealthCheck } from "../health/model.js"
import { scrubSecrets } from "../redact.js"

const statuses: ReadonlySet<unknown> = new Set(["HEALTHY", "DEGRADED", "UNKNOWN", "UNHEALTHY", "CRITICAL"])

/**
 * One line fit for a log and a health message: the first line of the error, passwords scrubbed,
 * at most 200 characters. A failure that is not an `Error` or a string is named by its type only,
 * since it may carry a row's values.
 */
export const describeCause = (cause: Cause.Cause<unknown>): string => {
  const squashed = Cause.squash(cause)
  const text = squashed instanceof Error
    ? (Cause.pretty(cause).split("\n")[0] ?? squashed.name)
    : typeof squashed === "string"
    ? squashed.split("\n")[0] ?? ""
    : typeof squashed === "object" && squashed !== null && typeof (squashed as { _tag?: unknown })._tag === "string"
    ? `a ${(squashed as { _tag: string })._tag} value`
    : `a value of type ${squashed === null ? "null" : typeof squashed}`
  const scrubbed = scrubSecrets(text)
  return scrubbed.length > 200 ? `${scrubbed.slice(0, 199)}…` : scrubbed
}

/** Whether a custom service's result is a health check at all. */
export const isHealthCheck = (u: unknown): u is DatabaseHealthCheck =>
  typeof u === "object" && u !== null &&
  statuses.has((u as { status?: unknown }).status) &&
  typeof (u as { message?: unknown }).message === "string"

/**
 * Runs one check in its own fiber and waits at most `timeout` for it: `None` when it did not
 * finish. A check that overruns is told to stop but not waited for, so even one that ignores
 * interruption cannot stall the monitor. When the monitor itself is interrupted, the check is
 * interrupted and waited for (at most `timeout`), so that it ends before the layers below close.
 */
export const runBounded = (
  check: () => Effect.Effect<DatabaseHealthCheck>,
  timeout: Duration.Duration
): Effect.Effect<Option.Option<Exit.Exit<unknown, unknown>>> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkDaemon(restore(Effect.suspend(() => {
        const effect: unknown = check()
        return Effect.isEffect(effect) ? effect as Effect.Effect<unknown, unknown> : Effect.dieMessage("check did not return an Effect")
      })))
      const done = yield* restore(Effect.timeoutOption(Fiber.await(fiber), timeout)).pipe(
        Effect.onInterrupt(() =>
          Effect.zipRight(
            Fiber.interruptFork(fiber),
            Effect.timeoutOption(Effect.interruptible(Fiber.await(fiber)), timeout)
          )
        )
      )
      if (Option.isNone(done)) yield* Fiber.interruptFork(fiber)
      return done
    })
  )

