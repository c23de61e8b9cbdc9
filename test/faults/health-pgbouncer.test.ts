/**
 * Fault suite: the health check with PgBouncer (Debian's 1.18, transaction mode) in front of a server
 * of its own. It notices the pooler by itself (the connection's reported pid is PgBouncer's cancel
 * key, not `pg_backend_pid()`), and with the admin console it reports the clients waiting in the
 * pooler, which PostgreSQL cannot see: with every server connection of the pool held by an open
 * transaction, a third client queues, and `maxwait` grows past the threshold; a probe sent through
 * the pooler then queues as well, and its CRITICAL carries the console's figures.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Redacted, type Scope } from "effect"
import Pg from "pg"
import * as Database from "../../src/Database.js"
import * as EmbeddedPostgres from "../../src/EmbeddedPostgres.js"
import * as Health from "../../src/Health.js"
import * as ControlledServer from "../support/ControlledServer.js"
import * as PgBouncer from "../support/PgBouncer.js"

const POOL_SIZE = 2

const setup = Effect.gen(function*() {
  const server = yield* ControlledServer.make()
  yield* server.query("CREATE DATABASE app")
  const direct = new URL(server.url)
  direct.pathname = "/app"
  const bouncer = yield* PgBouncer.make({ url: direct.toString() }, {
    admin_users: decodeURIComponent(direct.username),
    default_pool_size: POOL_SIZE
  })
  const consoleUrl = `postgres://${direct.username}@127.0.0.1:${bouncer.port}/pgbouncer`
  return { server, bouncer, directUrl: direct.toString(), consoleUrl }
})

const checkOnce = (url: string, options: Health.DatabaseHealthOptions = {}) =>
  Health.performHealthCheck().pipe(
    Effect.provide(
      Health.DatabaseHealth.layer({ probeTimeout: "5 seconds", ...options }).pipe(
        Layer.provide(Database.layer({ url: Redacted.make(url), connectTimeout: "5 seconds" })),
        Layer.orDie
      )
    )
  )

/** A raw client through PgBouncer, closed with the scope. */
const client = (url: string): Effect.Effect<Pg.Client, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const c = new Pg.Client({ connectionString: url })
      c.on("error", () => {})
      await c.connect()
      return c
    }),
    (c) => Effect.promise(() => c.end().catch(() => {}))
  )

describe("Faults: health behind PgBouncer", () => {
  it.live("a pooler in front is detected by the backend pid mismatch, and the check says what it cannot see", () =>
    Effect.scoped(Effect.gen(function*() {
      const { bouncer, directUrl } = yield* setup
      const direct = yield* checkOnce(directUrl)
      expect(direct.details.pooler).toMatchObject({ detected: false, via: [] })
      expect(direct.details.pooler?.clientPid).toBe(direct.details.pooler?.backendPid)
      expect(direct.recommendations.join(" ")).not.toContain("poolerAdminUrl")

      const through = yield* checkOnce(bouncer.url)
      expect(through.details.pooler).toMatchObject({ detected: true, via: ["backend pid"] })
      expect(through.details.pooler?.clientPid).not.toBe(through.details.pooler?.backendPid)
      expect(through.figures.poolerClientsWaiting.value).toBeNull()
      expect(through.recommendations.join(" ")).toContain("A connection pooler stands between this check and the server")
      // What it cannot see is said, but does not count by default (the console is optional) ...
      expect(through.status, through.message).toBe("HEALTHY")
      // ... unless asked to.
      const strict = yield* checkOnce(bouncer.url, { thresholds: { whenUnknown: { poolerClientsWaiting: "UNKNOWN" } } })
      expect(strict.status).toBe("UNKNOWN")
      expect(bouncer.alive()).toBe(true)
    })), 120_000)

  it.live("through the admin console: clients queued for a busy pool are counted, and the longest wait judged", () =>
    Effect.scoped(Effect.gen(function*() {
      const { bouncer, consoleUrl, directUrl } = yield* setup
      const quiet = yield* checkOnce(bouncer.url, { poolerAdminUrl: consoleUrl })
      expect(quiet.details.pooler).toMatchObject({ detected: true, via: ["backend pid", "admin console"] })
      expect(quiet.figures.poolerClientsWaiting.value).toBe(0)
      expect(quiet.figures.poolerMaxWaitSeconds.value).toBe(0)
      expect(quiet.details.pooler?.pools?.[0]).toMatchObject({ database: "app", poolSize: POOL_SIZE, clientsWaiting: 0 })

      // Every server connection of the pool held by an open transaction; a third client queues.
      const holders = yield* Effect.all([client(bouncer.url), client(bouncer.url)])
      for (const h of holders) yield* Effect.promise(() => h.query("BEGIN; SELECT 1"))
      const queued = yield* client(bouncer.url)
      const waiting = queued.query("SELECT 1").catch(() => undefined)
      yield* Effect.sleep("2200 millis")
      // The probe goes to the server directly here: through the pooler it would queue as well.
      const busy = yield* checkOnce(directUrl, {
        poolerAdminUrl: Redacted.make(consoleUrl),
        thresholds: { degraded: { poolerClientsWaiting: 1, poolerMaxWaitSeconds: 1 }, unhealthy: { poolerMaxWaitSeconds: 2 } }
      })
      expect(busy.details.pooler).toMatchObject({ detected: true, via: ["admin console"] })
      expect(busy.figures.poolerClientsWaiting.value).toBe(1)
      expect(busy.figures.poolerClientsWaiting.status).toBe("DEGRADED")
      expect(busy.figures.poolerMaxWaitSeconds.value).toBeGreaterThanOrEqual(2)
      expect(busy.figures.poolerMaxWaitSeconds.status).toMatch(/^(UNHEALTHY|CRITICAL)$/)
      expect(busy.details.pooler?.pools?.[0]).toMatchObject({ database: "app", clientsWaiting: 1, serversActive: POOL_SIZE })
      expect(busy.recommendations.join(" ")).toContain(`1 client(s) wait in the pooler for a server connection (pool app/`)
      // Through the pooler the probe queues too and gets no answer: CRITICAL, and the console's
      // figures say why.
      const queuedProbe = yield* checkOnce(bouncer.url, {
        probeTimeout: "1 second",
        poolerAdminUrl: Redacted.make(consoleUrl),
        thresholds: { degraded: { poolerClientsWaiting: 1, poolerMaxWaitSeconds: 1 }, unhealthy: { poolerMaxWaitSeconds: 2 } }
      })
      expect(queuedProbe.status).toBe("CRITICAL")
      expect(queuedProbe.message).toContain("could not be checked")
      expect(queuedProbe.details.pooler).toMatchObject({ detected: true, via: ["admin console"] })
      expect(queuedProbe.figures.poolerClientsWaiting.value).toBeGreaterThanOrEqual(1)
      expect(queuedProbe.figures.poolerMaxWaitSeconds.value).toBeGreaterThanOrEqual(2)
      expect(queuedProbe.recommendations.join(" ")).toContain("wait in the pooler for a server connection (pool app/")
      for (const h of holders) yield* Effect.promise(() => h.query("ROLLBACK"))
      yield* Effect.promise(() => waiting)
      expect(bouncer.alive()).toBe(true)
    })), 120_000)

  it.live("an admin console that does not answer is said, without its password, and counts only when asked", () =>
    Effect.scoped(Effect.gen(function*() {
      const { bouncer } = yield* setup
      const port = yield* EmbeddedPostgres.freePort
      const url = `postgres://monitor:zebra-console-77@127.0.0.1:${port}/pgbouncer`
      const check = yield* checkOnce(bouncer.url, { poolerAdminUrl: url })
      expect(check.details.pooler?.consoleFailure).toMatch(/ECONNREFUSED/)
      expect(check.recommendations.join(" ")).toContain("The pooler's admin console did not answer")
      expect(check.status, check.message).toBe("HEALTHY")
      expect(JSON.stringify(check)).not.toContain("zebra-console-77")
      const strict = yield* checkOnce(bouncer.url, {
        poolerAdminUrl: url,
        thresholds: { whenUnknown: { poolerClientsWaiting: "UNKNOWN", poolerMaxWaitSeconds: "UNKNOWN" } }
      })
      expect(strict.status).toBe("UNKNOWN")
      const invalid = yield* Effect.flip(Effect.provide(
        Health.performHealthCheck(),
        Health.DatabaseHealth.layer({ poolerAdminUrl: "http://monitor:zebra-console-77@host/pgbouncer" }).pipe(
          Layer.provide(Database.layer({ url: Redacted.make(bouncer.url) }))
        )
      ))
      expect(invalid).toMatchObject({ _tag: "HealthConfigError", field: "poolerAdminUrl" })
      expect(invalid.message).not.toContain("zebra-console-77")
    })), 120_000)
})
