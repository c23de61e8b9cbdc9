/**
 * Polling for a condition the server reaches on its own time (a session ending, a standby
 * replaying, a commit landing), bounded so that a test never hangs.
 */
import { Duration, Effect, Option } from "effect"

/**
 * Repeats `check` until `done` holds, every 50 ms, for at most `limit` (then it dies naming `what`).
 */
export const eventually = <A, E, R>(
  check: Effect.Effect<A, E, R>,
  done: (a: A) => boolean,
  limit: Duration.DurationInput = "10 seconds",
  what = "condition"
): Effect.Effect<A, E, R> => {
  const attempt: Effect.Effect<A, E, R> = Effect.flatMap(check, (a) =>
    done(a) ? Effect.succeed(a) : Effect.zipRight(Effect.sleep("50 millis"), Effect.suspend(() => attempt)))
  return attempt.pipe(
    Effect.timeoutOption(limit),
    Effect.flatMap(Option.match({
      onNone: () => Effect.dieMessage(`${what} not met within ${Duration.format(Duration.decode(limit))}`),
      onSome: Effect.succeed
    }))
  )
}
