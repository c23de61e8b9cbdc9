/**
 * Retry delays and attempt counts on the TestClock: the server raises a real SQLSTATE every
 * attempt, and the clock only moves when the test moves it, so nothing here sleeps.
 */
import { layer } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Chunk, Clock, Duration, Effect, Fiber, Queue, Schedule, TestClock, TestServices } from "effect"
import { expect } from "vitest"
import * as Transaction from "../src/Transaction.js"
import { TestDatabase } from "./support/TestDatabase.js"

/** A body that fails every time with a real server error of the given SQLSTATE, reporting each attempt. */
const failingWith = (sqlState: string, attempts: Queue.Queue<number>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* Queue.offer(attempts, yield* Clock.currentTimeMillis)
    yield* sql.unsafe(`DO $$ BEGIN RAISE EXCEPTION 'scripted failure' USING ERRCODE = '${sqlState}'; END $$`)
  })

/**
 * Waits (really) until a new sleep appears on the TestClock and returns its wake-up time. The
 * TestClock also lists sleeps that other fibers started (the transaction's deadline, finished
 * timeouts of the test harness), so only entries absent from `known` count; the found one is added.
 */
const nextSleep = (known: Array<number>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 2000; i++) {
      const sleeps = [...Chunk.toReadonlyArray(yield* TestClock.sleeps())]
      for (const seen of known) {
        const at = sleeps.indexOf(seen)
        if (at >= 0) sleeps.splice(at, 1)
      }
      if (sleeps.length > 0) {
        known.push(sleeps[0]!)
        return sleeps[0]!
      }
      yield* TestServices.provideLive(Effect.sleep("5 millis"))
    }
    throw new Error("the transaction never slept")
  })

/** The sleeps on the TestClock now (before the transaction under test starts). */
const baseline = Effect.map(TestClock.sleeps(), (sleeps) => [...Chunk.toReadonlyArray(sleeps)])

layer(TestDatabase.layer, { timeout: "60 seconds" })("Transaction retries on the TestClock", (it) => {
  it.effect("a custom schedule sets the delays, maxRetries caps them, and the last error carries the count", () =>
    Effect.gen(function*() {
      const attempts = yield* Queue.unbounded<number>()
      const known = yield* baseline
      const t0 = yield* Clock.currentTimeMillis
      const fiber = yield* Transaction.withTransaction(failingWith("40001", attempts), {
        schedule: Schedule.spaced("1 second"),
        maxRetries: 3,
        timeout: "1 minute"
      }).pipe(Effect.flip, Effect.fork)
      const seen: Array<number> = []
      for (let retry = 0; retry < 3; retry++) {
        seen.push(yield* Queue.take(attempts))
        const wake = yield* nextSleep(known)
        expect(wake - (yield* Clock.currentTimeMillis)).toBe(1000)
        yield* TestClock.adjust("1 second")
      }
      seen.push(yield* Queue.take(attempts))
      const error = yield* Fiber.join(fiber)
      expect(seen.map((t) => Math.round(t - t0))).toEqual([0, 1000, 2000, 3000])
      expect(error._tag).toBe("SerializationFailure")
      if (error._tag === "SerializationFailure") expect(error.attempts).toBe(4)
    }))

  it.effect("the default: 30 retries, exponential from 25 ms with full jitter, at most 250 ms", () =>
    Effect.gen(function*() {
      const attempts = yield* Queue.unbounded<number>()
      const known = yield* baseline
      const fiber = yield* Transaction.withTransaction(failingWith("40P01", attempts), { timeout: "1 minute" }).pipe(
        Effect.flip,
        Effect.fork
      )
      // Moves the TestClock to each sleep the transaction starts, until all 31 attempts have run.
      const times: Array<number> = []
      while (times.length < 31) {
        if ((yield* Queue.size(attempts)) > 0) {
          times.push(yield* Queue.take(attempts))
          continue
        }
        const sleeps = [...Chunk.toReadonlyArray(yield* TestClock.sleeps())].filter((at) => !known.includes(at))
        if (sleeps.length > 0) {
          known.push(sleeps[0]!)
          yield* TestClock.adjust(Duration.millis(sleeps[0]! - (yield* Clock.currentTimeMillis)))
        } else {
          yield* TestServices.provideLive(Effect.sleep("2 millis"))
        }
      }
      const error = yield* Fiber.join(fiber)
      expect(error._tag).toBe("Deadlock")
      if (error._tag === "Deadlock") expect(error.attempts).toBe(31)
      const delays = times.slice(1).map((t, i) => t - times[i]!)
      expect(delays).toHaveLength(30)
      // The clock holds fractional milliseconds, so a delay read back as the difference of two
      // timestamps carries float rounding (a capped 1000 ms delay was read as 1000.0000000000005).
      const rounding = 1e-6
      delays.forEach((delay, i) => {
        expect(delay).toBeGreaterThanOrEqual(-rounding)
        expect(delay).toBeLessThanOrEqual(Math.min(250, 25 * 2 ** i) + rounding)
      })
      // Full jitter: not a fixed ladder (thirty delays all at their bound would be a broken jitter).
      expect(delays.filter((delay, i) => delay < Math.min(250, 25 * 2 ** i) * 0.95).length).toBeGreaterThan(0)
    }))

  // The deadline is wall-clock time, like the server's own limits: this one runs on the live clock.
  it.effect("no retry is scheduled past the deadline: the last error surfaces instead", () =>
    TestServices.provideLive(Effect.gen(function*() {
      const attempts = yield* Queue.unbounded<number>()
      const error = yield* Transaction.withTransaction(failingWith("40001", attempts), {
        schedule: Schedule.spaced("400 millis"),
        maxRetries: 10,
        timeout: "1 second"
      }).pipe(Effect.flip)
      // Attempts at about 0, 400 and 800 ms; the next would start at 1200 ms, past the deadline.
      expect(yield* Queue.size(attempts)).toBe(3)
      expect(error._tag).toBe("SerializationFailure")
      if (error._tag === "SerializationFailure") expect(error.attempts).toBe(3)
    })))

  it.effect("withTransaction does not retry other retryable errors; withTransactionRetry does", () =>
    Effect.gen(function*() {
      const attempts = yield* Queue.unbounded<number>()
      // 57014 query_canceled: retryable, but not a deadlock or serialization failure.
      const once = yield* Effect.flip(Transaction.withTransaction(failingWith("57014", attempts)))
      expect(once._tag).toBe("QueryTimeout")
      expect(yield* Queue.size(attempts)).toBe(1)
      yield* Queue.takeAll(attempts)
      const known = yield* baseline

      const fiber = yield* Transaction.withTransactionRetry(failingWith("57014", attempts), {
        schedule: Schedule.spaced("10 millis"),
        maxRetries: 2,
        timeout: "1 minute"
      }).pipe(Effect.flip, Effect.fork)
      for (let retry = 0; retry < 2; retry++) {
        yield* Queue.take(attempts)
        yield* nextSleep(known)
        yield* TestClock.adjust("10 millis")
      }
      yield* Queue.take(attempts)
      const error = yield* Fiber.join(fiber)
      expect(error._tag).toBe("QueryTimeout")
      if (error._tag === "QueryTimeout") expect(error.attempts).toBe(3)
    }))

  it.effect("retryDeadlocks: false turns retries off", () =>
    Effect.gen(function*() {
      const attempts = yield* Queue.unbounded<number>()
      const error = yield* Effect.flip(
        Transaction.withTransaction(failingWith("40P01", attempts), { retryDeadlocks: false })
      )
      expect(error._tag).toBe("Deadlock")
      expect(yield* Queue.size(attempts)).toBe(1)
    }))
})
