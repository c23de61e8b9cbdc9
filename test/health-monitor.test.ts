/** The monitor fiber on the TestClock: scripted results, so every tick is deterministic. */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Fiber, Layer, Option, Ref, Scope, Stream, TestClock } from "effect"
import * as Health from "../src/Health.js"
import * as HealthMonitor from "../src/HealthMonitor.js"

const script: Array<Health.DatabaseHealthStatus> = ["HEALTHY", "HEALTHY", "DEGRADED", "DEGRADED", "CRITICAL", "HEALTHY"]

/** The scripted service, counting the checks it is asked for. */
const countingHealth = (count: Ref.Ref<number>) =>
  Layer.effect(
    Health.DatabaseHealth,
    Effect.gen(function*() {
      const scripted = yield* Health.DatabaseHealth.pipe(
        Effect.provide(Health.DatabaseHealth.layerTest(script.map((status) => ({ status }))))
      )
      return { ...scripted, check: (t) => Effect.zipRight(Ref.update(count, (n) => n + 1), scripted.check(t)) }
    })
  )

describe("HealthMonitor", () => {
  it.effect("fires the callback on the first result and once per status change, and stops with its scope", () =>
    Effect.gen(function*() {
      const count = yield* Ref.make(0)
      const seen = yield* Ref.make<Array<string>>([])
      const scope = yield* Scope.make()
      const monitor = yield* Layer.buildWithScope(
        HealthMonitor.HealthMonitor.layer({
          interval: "10 seconds",
          onStatusChange: (check) => Ref.update(seen, (s) => [...s, check.status])
        }).pipe(Layer.provide(countingHealth(count))),
        scope
      )
      yield* Effect.yieldNow()
      expect(yield* Ref.get(count)).toBe(1)
      expect(yield* Ref.get(seen)).toEqual(["HEALTHY"])
      for (let tick = 1; tick < script.length; tick++) yield* TestClock.adjust("10 seconds")
      expect(yield* Ref.get(count)).toBe(6)
      expect(yield* Ref.get(seen)).toEqual(["HEALTHY", "DEGRADED", "CRITICAL", "HEALTHY"])
      const latest = yield* HealthMonitor.HealthMonitor.pipe(Effect.flatMap((m) => m.latest), Effect.provide(monitor))
      expect(Option.map(latest, (c) => c.status)).toEqual(Option.some("HEALTHY"))

      yield* Scope.close(scope, Exit.void)
      yield* TestClock.adjust("10 minutes")
      expect(yield* Ref.get(count)).toBe(6)
    }))

  it.effect("a failing callback is logged and the monitor goes on", () =>
    Effect.gen(function*() {
      const count = yield* Ref.make(0)
      const calls = yield* Ref.make(0)
      yield* Layer.build(
        HealthMonitor.HealthMonitor.layer({
          interval: "1 second",
          onStatusChange: () => {
            Effect.runSync(Ref.update(calls, (n) => n + 1))
            throw new Error("alerting is down")
          }
        }).pipe(Layer.provide(countingHealth(count)))
      )
      yield* Effect.yieldNow()
      for (let tick = 1; tick < script.length; tick++) yield* TestClock.adjust("1 second")
      expect(yield* Ref.get(count)).toBe(6)
      expect(yield* Ref.get(calls)).toBe(4)
    }).pipe(Effect.scoped))

  it.effect("changes is a Stream of status changes; latest never waits", () =>
    Effect.gen(function*() {
      const count = yield* Ref.make(0)
      const context = yield* Layer.build(
        HealthMonitor.HealthMonitor.layer({ interval: "5 seconds" }).pipe(Layer.provide(countingHealth(count)))
      )
      const monitor = yield* HealthMonitor.HealthMonitor.pipe(Effect.provide(context))
      const collected = yield* monitor.changes.pipe(Stream.take(4), Stream.runCollect, Effect.fork)
      yield* Effect.yieldNow()
      for (let tick = 1; tick < script.length; tick++) yield* TestClock.adjust("5 seconds")
      const statuses = Chunk.toReadonlyArray(yield* Fiber.join(collected)).map((c) => c.status)
      expect(statuses).toEqual(["HEALTHY", "DEGRADED", "CRITICAL", "HEALTHY"])
    }).pipe(Effect.scoped))

  it.effect("scheduleHealthChecks keeps the seed's name and returns its stop", () =>
    Effect.gen(function*() {
      const count = yield* Ref.make(0)
      const seen = yield* Ref.make<Array<string>>([])
      const stop = yield* HealthMonitor.scheduleHealthChecks("1 minute", (check) =>
        Ref.update(seen, (s) => [...s, check.status])).pipe(Effect.provide(countingHealth(count)))
      yield* Effect.yieldNow()
      yield* TestClock.adjust("2 minutes")
      expect(yield* Ref.get(count)).toBe(3)
      expect(yield* Ref.get(seen)).toEqual(["HEALTHY", "DEGRADED"])
      yield* stop
      yield* TestClock.adjust("10 minutes")
      expect(yield* Ref.get(count)).toBe(3)
    }).pipe(Effect.scoped))

  it.effect("confirmations: a status is reported only after it was seen that many times in a row", () =>
    Effect.gen(function*() {
      const statuses: Array<Health.DatabaseHealthStatus> = ["HEALTHY", "DEGRADED", "HEALTHY", "CRITICAL", "CRITICAL", "HEALTHY", "HEALTHY"]
      const seen = yield* Ref.make<Array<string>>([])
      const context = yield* Layer.build(
        HealthMonitor.HealthMonitor.layer({
          interval: "1 second",
          confirmations: 2,
          onStatusChange: (check) => Ref.update(seen, (s) => [...s, check.status])
        }).pipe(Layer.provide(Health.DatabaseHealth.layerTest(statuses.map((status) => ({ status })))))
      )
      const monitor = yield* HealthMonitor.HealthMonitor.pipe(Effect.provide(context))
      const changes = yield* monitor.changes.pipe(Stream.take(3), Stream.runCollect, Effect.fork)
      yield* Effect.yieldNow()
      for (let tick = 1; tick < statuses.length; tick++) yield* TestClock.adjust("1 second")
      // The lone DEGRADED is a blip; CRITICAL and the return to HEALTHY are confirmed.
      expect(yield* Ref.get(seen)).toEqual(["HEALTHY", "CRITICAL", "HEALTHY"])
      expect(Chunk.toReadonlyArray(yield* Fiber.join(changes)).map((c) => c.status)).toEqual(["HEALTHY", "CRITICAL", "HEALTHY"])
      // latest is every result, confirmed or not.
      expect(Option.map(yield* monitor.latest, (c) => c.status)).toEqual(Option.some("HEALTHY"))
    }).pipe(Effect.scoped))
})
