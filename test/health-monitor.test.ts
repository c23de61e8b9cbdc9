/** The monitor fiber on the TestClock: scripted results, so every tick is deterministic. */
import { describe, expect, it } from "@effect/vitest"
import {
  Cause,
  Chunk,
  Duration,
  Effect,
  Exit,
  Fiber,
  HashMap,
  Layer,
  Logger,
  LogLevel,
  Metric,
  Option,
  Ref,
  Scope,
  Stream,
  TestClock
} from "effect"
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
      yield* TestClock.adjust(0)
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

  it.effect("a failing callback is logged and the monitor goes on", () => {
    const logged: Array<{ level: string; message: unknown; annotations: Record<string, unknown> }> = []
    const capture = Logger.make(({ annotations, logLevel, message }) => {
      logged.push({
        level: logLevel.label,
        message: Array.isArray(message) ? message[0] : message,
        annotations: Object.fromEntries(HashMap.toEntries(annotations))
      })
    })
    return Effect.gen(function*() {
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
      yield* TestClock.adjust(0)
      for (let tick = 1; tick < script.length; tick++) yield* TestClock.adjust("1 second")
      expect(yield* Ref.get(count)).toBe(6)
      expect(yield* Ref.get(calls)).toBe(4)
      // Each failure of the callback is one warning naming the status and the error.
      const warnings = logged.filter((entry) => entry.level === "WARN")
      expect(warnings).toHaveLength(4)
      for (const warning of warnings) {
        expect(warning.message).toBe("health status callback failed; the monitor goes on")
        expect(String(warning.annotations.error)).toContain("alerting is down")
        expect(Object.keys(Health.DatabaseHealthStatus)).toContain(warning.annotations.status)
      }
    }).pipe(Effect.scoped, Effect.provide(Logger.replace(Logger.defaultLogger, capture)), Logger.withMinimumLogLevel(LogLevel.Debug))
  })

  it.effect("changes is a Stream of status changes; latest never waits", () =>
    Effect.gen(function*() {
      const count = yield* Ref.make(0)
      const context = yield* Layer.build(
        HealthMonitor.HealthMonitor.layer({ interval: "5 seconds" }).pipe(Layer.provide(countingHealth(count)))
      )
      const monitor = yield* HealthMonitor.HealthMonitor.pipe(Effect.provide(context))
      const collected = yield* monitor.changes.pipe(Stream.take(4), Stream.runCollect, Effect.fork)
      yield* TestClock.adjust(0)
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
      yield* TestClock.adjust(0)
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
      yield* TestClock.adjust(0)
      for (let tick = 1; tick < statuses.length; tick++) yield* TestClock.adjust("1 second")
      // The lone DEGRADED is a blip; CRITICAL and the return to HEALTHY are confirmed.
      expect(yield* Ref.get(seen)).toEqual(["HEALTHY", "CRITICAL", "HEALTHY"])
      expect(Chunk.toReadonlyArray(yield* Fiber.join(changes)).map((c) => c.status)).toEqual(["HEALTHY", "CRITICAL", "HEALTHY"])
      // latest is every result, confirmed or not.
      expect(Option.map(yield* monitor.latest, (c) => c.status)).toEqual(Option.some("HEALTHY"))
    }).pipe(Effect.scoped))
})

// ---------------------------------------------------------------------------
// A tick must survive anything (issue 10, point 3): the fault-suite scenario
// "the monitor survives a dying check".
// ---------------------------------------------------------------------------

/** What the scripted service does on each call (the last one repeats). */
type Behaviour =
  | "healthy"
  | "die" // a defect while judging
  | "fail" // a typed failure the service's type says cannot happen
  | "hang" // never answers (interruptible)
  | "deaf" // never answers and ignores interruption
  | "throw" // `check` itself throws instead of returning an Effect
  | "garbage" // succeeds with something that is not a result

interface Probe {
  readonly calls: Ref.Ref<number>
  /** Calls whose fiber was interrupted (a hung check that the monitor gave up on). */
  readonly interrupted: Ref.Ref<number>
}

const faultyHealth = (script: ReadonlyArray<Behaviour>, probe: Probe, extra: Partial<Health.DatabaseHealthService> = {}) =>
  Layer.effect(
    Health.DatabaseHealth,
    Effect.gen(function*() {
      const healthy = yield* Health.DatabaseHealth.pipe(Effect.provide(Health.DatabaseHealth.layerTest([{ status: "HEALTHY" }])))
      const service: Health.DatabaseHealthService = {
        thresholds: healthy.thresholds,
        ...extra,
        check: (t) => {
          const call = Effect.runSync(Ref.getAndUpdate(probe.calls, (n) => n + 1))
          const behaviour = script[Math.min(call, script.length - 1)]!
          const onInterrupt = Effect.onInterrupt(() => Ref.update(probe.interrupted, (n) => n + 1))
          switch (behaviour) {
            case "healthy":
              return healthy.check(t)
            case "die":
              return Effect.map(healthy.check(t), () => {
                throw new Error("cannot read properties of undefined (reading 'seconds')")
              })
            case "fail":
              return Effect.fail(new Error("connect to postgres://app:s3cret-pw@db.internal/app refused")) as unknown as Effect.Effect<
                Health.DatabaseHealthCheck
              >
            case "hang":
              return onInterrupt(Effect.never)
            case "deaf":
              return Effect.uninterruptible(Effect.never)
            case "throw":
              throw new Error("check exploded before returning an Effect")
            case "garbage":
              return Effect.succeed(undefined) as unknown as Effect.Effect<Health.DatabaseHealthCheck>
          }
        }
      }
      return service
    })
  )

interface Line {
  readonly level: string
  readonly message: string
  readonly annotations: Record<string, unknown>
}

/** Runs `effect` with a logger that records every line (the monitor's fiber inherits it). */
const capturingLogs = <A, E, R>(f: (lines: ReadonlyArray<Line>) => Effect.Effect<A, E, R>) => {
  const lines: Array<Line> = []
  const recorder = Logger.make(({ annotations, logLevel, message }) => {
    lines.push({
      level: logLevel.label,
      message: String(Array.isArray(message) ? message[0] : message),
      annotations: Object.fromEntries(HashMap.toEntries(annotations))
    })
  })
  return f(lines).pipe(Effect.provide(Logger.add(recorder)))
}

const failureLines = (lines: ReadonlyArray<Line>) =>
  lines.filter((l) => l.message.startsWith("database health check failed"))

/** Builds the monitor on the scripted service in a fresh scope; the test drives the TestClock. */
const startMonitor = (
  script: ReadonlyArray<Behaviour>,
  options: HealthMonitor.HealthMonitorOptions = {},
  extra: Partial<Health.DatabaseHealthService> = {}
) =>
  Effect.gen(function*() {
    const probe: Probe = { calls: yield* Ref.make(0), interrupted: yield* Ref.make(0) }
    const seen = yield* Ref.make<Array<string>>([])
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(
      HealthMonitor.HealthMonitor.layer({
        interval: "10 seconds",
        onStatusChange: (check) => Ref.update(seen, (s) => [...s, check.status]),
        ...options
      }).pipe(Layer.provide(faultyHealth(script, probe, extra))),
      scope
    )
    const monitor = yield* HealthMonitor.HealthMonitor.pipe(Effect.provide(context))
    const latest = Effect.map(monitor.latest, Option.getOrThrow)
    return { probe, seen: Ref.get(seen), scope, monitor, latest }
  })

describe("HealthMonitor: every tick survives its check", () => {
  it.effect("a dying check is reported as CRITICAL with the reason, logged once, and the monitor goes on", () =>
    capturingLogs((lines) =>
      Effect.gen(function*() {
        const { latest, probe, scope, seen } = yield* startMonitor(["healthy", "die", "healthy"])
        yield* TestClock.adjust(0)
        expect((yield* latest).status).toBe("HEALTHY")

        yield* TestClock.adjust("10 seconds")
        const critical = yield* latest
        expect(critical.status).toBe("CRITICAL")
        expect(critical.message).toContain("the health check itself failed")
        expect(critical.message).toContain("it crashed: Error: cannot read properties of undefined")
        expect(critical.recommendations.length).toBeGreaterThan(0)
        expect(critical.figures.probeLatency.status).toBe("UNKNOWN")
        expect((yield* Metric.value(Health.gauges.status)).value).toBe(Health.statusSeverity("CRITICAL"))
        const logged = failureLines(lines)
        expect(logged).toHaveLength(1)
        expect(logged[0]!.level).toBe("ERROR")
        expect(logged[0]!.annotations.failure).toBe("defect")
        expect(String(logged[0]!.annotations.reason)).toContain("cannot read properties of undefined")

        // The fiber still runs: the next tick happens and reports the recovery.
        yield* TestClock.adjust("10 seconds")
        expect((yield* latest).status).toBe("HEALTHY")
        expect(yield* seen).toEqual(["HEALTHY", "CRITICAL", "HEALTHY"])
        yield* TestClock.adjust("10 seconds")
        expect(yield* Ref.get(probe.calls)).toBe(4)
        expect(failureLines(lines)).toHaveLength(1)

        yield* Scope.close(scope, Exit.void)
        yield* TestClock.adjust("1 minute")
        expect(yield* Ref.get(probe.calls)).toBe(4)
      })
    ))

  it.effect("a failing check is CRITICAL, and neither the result nor the log line carries the password", () =>
    capturingLogs((lines) =>
      Effect.gen(function*() {
        const { latest, seen } = yield* startMonitor(["fail", "healthy"])
        yield* TestClock.adjust(0)
        const critical = yield* latest
        expect(critical.status).toBe("CRITICAL")
        expect(critical.message).toContain("the health check itself failed (it failed: Error: connect to")
        const logged = failureLines(lines)
        expect(logged).toHaveLength(1)
        expect(logged[0]!.annotations.failure).toBe("failure")
        expect(JSON.stringify(critical)).not.toContain("s3cret-pw")
        expect(JSON.stringify(lines)).not.toContain("s3cret-pw")

        yield* TestClock.adjust("10 seconds")
        expect((yield* latest).status).toBe("HEALTHY")
        expect(yield* seen).toEqual(["CRITICAL", "HEALTHY"])
      })
    ))

  it.effect("a hung check is abandoned after checkTimeout, reported as CRITICAL, and the next tick runs", () =>
    capturingLogs((lines) =>
      Effect.gen(function*() {
        const { latest, probe, seen } = yield* startMonitor(["healthy", "hang", "healthy"], { checkTimeout: "3 seconds" })
        yield* TestClock.adjust(0)
        yield* TestClock.adjust("10 seconds")
        expect((yield* latest).status).toBe("HEALTHY") // still waiting on the hung check
        yield* TestClock.adjust("3 seconds")
        const critical = yield* latest
        expect(critical.status).toBe("CRITICAL")
        expect(critical.message).toContain("it did not finish within 3s")
        expect(yield* Ref.get(probe.interrupted)).toBe(1)
        const logged = failureLines(lines)
        expect(logged).toHaveLength(1)
        expect(logged[0]!.level).toBe("WARN")
        expect(logged[0]!.annotations.failure).toBe("timeout")

        yield* TestClock.adjust("10 seconds")
        expect((yield* latest).status).toBe("HEALTHY")
        expect(yield* seen).toEqual(["HEALTHY", "CRITICAL", "HEALTHY"])
      })
    ))

  it.effect("checkTimeout defaults to the longest a live check takes (3 probes, the window, the evidence) plus 1 s (15 s without them)", () =>
    Effect.gen(function*() {
      const withProbe = yield* startMonitor(["hang"], {}, { probeTimeout: Duration.seconds(1) })
      const without = yield* startMonitor(["hang"])
      // 3 × 1 s + no window + min(2 s, 1 s) + 1 s
      yield* TestClock.adjust("4999 millis")
      expect(Option.isNone(yield* withProbe.monitor.latest)).toBe(true)
      yield* TestClock.adjust("1 millis")
      expect((yield* withProbe.latest).message).toContain("it did not finish within 5s")
      yield* TestClock.adjust("9999 millis")
      expect(Option.isNone(yield* without.monitor.latest)).toBe(true)
      yield* TestClock.adjust("1 millis")
      expect((yield* without.latest).message).toContain("it did not finish within 15s")
      yield* Scope.close(withProbe.scope, Exit.void)
      yield* Scope.close(without.scope, Exit.void)
    }))

  it.effect("a check that ignores interruption stalls neither the monitor nor its scope's close", () =>
    Effect.gen(function*() {
      const { latest, probe, scope, seen } = yield* startMonitor(["deaf", "healthy", "deaf"], { checkTimeout: "2 seconds" })
      yield* TestClock.adjust("2 seconds")
      expect((yield* latest).message).toContain("it did not finish within 2s")
      yield* TestClock.adjust("10 seconds")
      expect((yield* latest).status).toBe("HEALTHY")
      expect(yield* seen).toEqual(["CRITICAL", "HEALTHY"])
      // The third check hangs too; closing the scope now waits at most checkTimeout for it.
      yield* TestClock.adjust("10 seconds")
      expect(yield* Ref.get(probe.calls)).toBe(3)
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("2 seconds")
      expect(Option.isSome(yield* Fiber.poll(closing))).toBe(true)
      yield* TestClock.adjust("1 minute")
      expect(yield* Ref.get(probe.calls)).toBe(3)
    }))

  it.effect("a service whose check throws or returns no result is CRITICAL too", () =>
    capturingLogs((lines) =>
      Effect.gen(function*() {
        const { latest, seen } = yield* startMonitor(["throw", "garbage", "healthy"], { interval: "1 second" })
        yield* TestClock.adjust(0)
        expect((yield* latest).message).toContain("it crashed: Error: check exploded before returning an Effect")
        yield* TestClock.adjust("1 second")
        expect((yield* latest).message).toContain("it returned no valid result")
        yield* TestClock.adjust("1 second")
        expect((yield* latest).status).toBe("HEALTHY")
        expect(yield* seen).toEqual(["CRITICAL", "HEALTHY"])
        expect(failureLines(lines).map((l) => l.annotations.failure)).toEqual(["defect", "invalid result"])
      })
    ))

  it.effect("a failed check goes through confirmations like any result", () =>
    Effect.gen(function*() {
      const { latest, seen } = yield* startMonitor(["healthy", "die", "healthy", "die", "die"], { confirmations: 2 })
      yield* TestClock.adjust(0)
      for (let tick = 1; tick < 5; tick++) yield* TestClock.adjust("10 seconds")
      expect((yield* latest).status).toBe("CRITICAL")
      // The lone dying tick is a blip; two in a row are reported.
      expect(yield* seen).toEqual(["HEALTHY", "CRITICAL"])
    }))

  it.effect("stopping scheduleHealthChecks interrupts a hung check at once", () =>
    Effect.gen(function*() {
      const probe: Probe = { calls: yield* Ref.make(0), interrupted: yield* Ref.make(0) }
      const seen = yield* Ref.make<Array<string>>([])
      const stop = yield* HealthMonitor.scheduleHealthChecks("1 minute", (check) => Ref.update(seen, (s) => [...s, check.status])).pipe(
        Effect.provide(faultyHealth(["die", "hang"], probe))
      )
      yield* TestClock.adjust(0)
      expect(yield* Ref.get(seen)).toEqual(["CRITICAL"])
      yield* TestClock.adjust("1 minute")
      expect(yield* Ref.get(probe.calls)).toBe(2)
      yield* stop // no clock moves: the hung check is interrupted, not waited out
      expect(yield* Ref.get(probe.interrupted)).toBe(1)
      yield* TestClock.adjust("10 minutes")
      expect(yield* Ref.get(probe.calls)).toBe(2)
    }).pipe(Effect.scoped))

  it.effect("invalid options fail the layer with HealthMonitorConfigError", () =>
    Effect.gen(function*() {
      const fieldOf = (options: unknown) =>
        Layer.build(
          HealthMonitor.HealthMonitor.layer(options as HealthMonitor.HealthMonitorOptions).pipe(
            Layer.provide(Health.DatabaseHealth.layerTest([{ status: "HEALTHY" }]))
          )
        ).pipe(
          Effect.scoped,
          Effect.flip,
          Effect.map((error) => error._tag === "HealthMonitorConfigError" ? `${error.field}: ${error.reason}` : error._tag)
        )
      expect(yield* fieldOf({ intervall: "5 seconds" })).toMatch(/^intervall: is not an option \(did you mean interval\?\)/)
      expect(yield* fieldOf({ interval: "soon" })).toMatch(/^interval: must be a duration/)
      expect(yield* fieldOf({ interval: 0 })).toBe("interval: must be a finite duration greater than zero")
      expect(yield* fieldOf({ checkTimeout: "0 seconds" })).toBe("checkTimeout: must be a finite duration greater than zero")
      expect(yield* fieldOf({ checkTimeout: Duration.infinity })).toBe("checkTimeout: must be a finite duration greater than zero")
      expect(yield* fieldOf({ confirmations: 0 })).toBe("confirmations: must be an integer from 1 to 1000")
      expect(yield* fieldOf({ confirmations: 1.5 })).toBe("confirmations: must be an integer from 1 to 1000")
      expect(yield* fieldOf({ onStatusChange: "alert" })).toBe("onStatusChange: must be a function")
      expect(yield* fieldOf({ thresholds: { degraded: { cacheHitRatio: 101 } } })).toBe("HealthThresholdsError")
      const message = yield* Layer.build(
        HealthMonitor.HealthMonitor.layer({ confirmations: -1 }).pipe(
          Layer.provide(Health.DatabaseHealth.layerTest([{ status: "HEALTHY" }]))
        )
      ).pipe(Effect.scoped, Effect.flip, Effect.map((e) => e.message))
      expect(message).toBe("Invalid health monitor options: confirmations must be an integer from 1 to 1000")
      // The seed's function keeps its signature: an invalid interval is a defect.
      const exit = yield* HealthMonitor.scheduleHealthChecks(-5).pipe(
        Effect.provide(Health.DatabaseHealth.layerTest([{ status: "HEALTHY" }])),
        Effect.scoped,
        Effect.exit
      )
      expect(Exit.isFailure(exit) ? Cause.squash(exit.cause) : exit).toBeInstanceOf(HealthMonitor.HealthMonitorConfigError)
    }))
})
