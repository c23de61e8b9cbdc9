/** The monitor on the live health service against the run's server (embedded PG 18, or PG 15 in CI). */
import { layer } from "@effect/vitest"
import { Effect, Exit, HashMap, Layer, Logger, Option, Ref, Scope } from "effect"
import { expect } from "vitest"
import * as Health from "../src/Health.js"
import * as HealthMonitor from "../src/HealthMonitor.js"
import { TestDatabase } from "./support/TestDatabase.js"

const HealthLive = Health.DatabaseHealth.layer({ probeTimeout: "1 second" }).pipe(
  Layer.provideMerge(TestDatabase.layerWith({ maxConnections: 4 }))
)

layer(HealthLive, { timeout: "120 seconds", excludeTestServices: true })("HealthMonitor on a real server", (it) => {
  it.effect("the monitor survives a dying check: CRITICAL with the reason, logged, then real checks again", () =>
    Effect.gen(function*() {
      const health = yield* Health.DatabaseHealth
      const calls = yield* Ref.make(0)
      // The real probe runs every time; judging dies on the second call.
      const dyingOnce = Layer.succeed(Health.DatabaseHealth, {
        ...health,
        check: (t) =>
          Effect.flatMap(Ref.updateAndGet(calls, (n) => n + 1), (n) =>
            Effect.map(health.check(t), (check) => {
              if (n === 2) throw new TypeError("cannot read properties of undefined (reading 'seconds')")
              return check
            }))
      })
      const changes = yield* Ref.make<Array<Health.DatabaseHealthCheck>>([])
      const lines: Array<{ message: string; annotations: Record<string, unknown> }> = []
      const recorder = Logger.make(({ annotations, message }) => {
        lines.push({
          message: String(Array.isArray(message) ? message[0] : message),
          annotations: Object.fromEntries(HashMap.toEntries(annotations))
        })
      })
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        HealthMonitor.HealthMonitor.layer({
          interval: "50 millis",
          onStatusChange: (check) => Ref.update(changes, (c) => [...c, check])
        }).pipe(Layer.provide(dyingOnce)),
        scope
      ).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, recorder)))
      const monitor = yield* HealthMonitor.HealthMonitor.pipe(Effect.provide(context))

      const waitFor = (n: number) =>
        Effect.gen(function*() {
          while ((yield* Ref.get(changes)).length < n) yield* Effect.sleep("10 millis")
        }).pipe(Effect.timeout("10 seconds"))
      yield* waitFor(3)
      const [first, failed, recovered] = yield* Ref.get(changes)
      expect(first!.status).not.toBe("CRITICAL")
      expect(failed!.status).toBe("CRITICAL")
      expect(failed!.message).toBe(
        "CRITICAL: the health check itself failed (it crashed: TypeError: cannot read properties of undefined (reading 'seconds')), " +
          "so the state of the database is unknown"
      )
      expect(recovered!.status).not.toBe("CRITICAL")
      expect(recovered!.details.serverVersion).toBeDefined() // a real result again
      const logged = lines.filter((l) => l.message.startsWith("database health check failed"))
      expect(logged).toHaveLength(1)
      // 2 × probeTimeout (1 s) + firstCheckWindow (1 s) + 5 s
      expect(logged[0]!.annotations).toMatchObject({ failure: "defect", checkTimeout: "6s" })

      // Still running: more real checks follow, and /readyz (latest) serves them.
      const after = yield* Ref.get(calls)
      yield* Effect.sleep("200 millis")
      expect(yield* Ref.get(calls)).toBeGreaterThan(after)
      expect(Option.getOrThrow(yield* monitor.latest).status).not.toBe("CRITICAL")

      yield* Scope.close(scope, Exit.void)
      const stopped = yield* Ref.get(calls)
      yield* Effect.sleep("200 millis")
      expect(yield* Ref.get(calls)).toBe(stopped)
    }))
})
