/**
 * Standby-aware health on real replication, made with the machine's PostgreSQL binaries
 * (`pg_config --bindir`: initdb, pg_basebackup -R, random ports): a standby whose primary_conninfo
 * points nowhere, and one streaming through a replication slot, whose replay is paused (behind a busy
 * primary, then behind an idle one) and which is then stopped.
 */
import { layer } from "@effect/vitest"
import { Context, Effect, Layer, Redacted } from "effect"
import { expect } from "vitest"
import * as Database from "../src/Database.js"
import * as Health from "../src/Health.js"
import * as Standby from "./support/Standby.js"

interface Pair {
  readonly primary: Standby.Primary
  readonly streaming: Standby.Node
  readonly disconnected: Standby.Node
  readonly slot: string
}

class Replication extends Context.Tag("test/Replication")<Replication, Pair>() {}

const ReplicationLive = Layer.scoped(
  Replication,
  Effect.gen(function*() {
    const primary = yield* Standby.make()
    yield* primary.query("CREATE TABLE ticks (id bigserial PRIMARY KEY, at timestamptz DEFAULT now())")
    const slot = "replica_a"
    const streaming = yield* primary.standby({ mode: "streaming", slot })
    const disconnected = yield* primary.standby({ mode: "disconnected" })
    return { primary, streaming, disconnected, slot }
  })
)

const checkOnce = (url: string, options: Health.DatabaseHealthOptions = {}) =>
  Health.performHealthCheck().pipe(
    Effect.provide(
      Health.DatabaseHealth.layer(options).pipe(
        Layer.provide(Database.layer({ url: Redacted.make(url), connectTimeout: "5 seconds" })),
        Layer.orDie
      )
    )
  )

/** Commits on the primary for `seconds`, a few a second. */
const commitFor = (primary: Standby.Node, seconds: number) =>
  Effect.repeatN(Effect.zipRight(primary.query("INSERT INTO ticks DEFAULT VALUES"), Effect.sleep("100 millis")), seconds * 10 - 1)

layer(ReplicationLive, { timeout: "240 seconds", excludeTestServices: true })("health of a primary and its standbys", (it) => {
  it.effect("a standby whose WAL receiver cannot connect is not HEALTHY, though what it received equals what it replayed", () =>
    Effect.gen(function*() {
      const { disconnected, primary } = yield* Replication
      yield* commitFor(primary, 2)
      const [state] = yield* disconnected.query<{ same: boolean | null; receiver: number }>(
        "SELECT pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() AS same, " +
          "(SELECT count(*)::int FROM pg_stat_wal_receiver WHERE status = 'streaming') AS receiver"
      )
      expect(state?.receiver).toBe(0)
      const check = yield* checkOnce(disconnected.url)
      // What used to be reported: 0 s behind and HEALTHY, while the primary committed.
      expect(check.status).not.toBe("HEALTHY")
      expect(check.figures.replicationLagSeconds.value).not.toBe(0)
      expect(check.details.inRecovery).toBe(true)
      expect(check.details.replication).toMatchObject({ role: "standby" })
      expect(check.details.replication?.walReceiver).not.toBe("streaming")
      expect(check.figures.replicasDisconnected.value).toBe(1)
      expect(check.figures.replicationLagSeconds.value).toBeNull()
      expect(check.status).toBe("UNHEALTHY")
      expect(check.recommendations.join(" ")).toContain("This standby is not streaming from its primary")

      // The primary cannot know a replica that never connected, unless told to expect it.
      const told = yield* checkOnce(primary.url, { expectedReplicas: 2 })
      expect(told.status).not.toBe("HEALTHY")
      expect(told.details.replication).toMatchObject({ role: "primary", streaming: 1, expected: 2 })
      expect(told.figures.replicasDisconnected.value).toBe(1)
      expect(told.status).toBe("UNHEALTHY")
    }))

  it.effect("a streaming standby: 0 behind while caught up; behind in time and bytes while replay is paused", () =>
    Effect.gen(function*() {
      const { primary, streaming } = yield* Replication
      const idle = yield* checkOnce(streaming.url)
      expect(idle.details.replication?.walReceiver).toBe("streaming")
      expect(idle.figures.replicasDisconnected.value).toBe(0)
      expect(idle.figures.replicationLagSeconds.value).toBe(0)
      expect(idle.status, idle.message).toBe("HEALTHY")

      yield* streaming.query("SELECT pg_wal_replay_pause()")
      yield* Effect.addFinalizer(() => Effect.ignore(streaming.query("SELECT pg_wal_replay_resume()")))
      yield* commitFor(primary, 3)
      const quick = { degraded: { replicationLagSeconds: 1, replicationLagBytes: 1024 }, unhealthy: { replicationLagSeconds: 2 } }
      const paused = yield* checkOnce(streaming.url, { thresholds: quick })
      expect(paused.details.replication?.replayPaused).toBe(true)
      expect(paused.figures.replicationLagSeconds.value).toBeGreaterThanOrEqual(2)
      expect(paused.figures.replicationLagSeconds.status).toMatch(/^(UNHEALTHY|CRITICAL)$/)
      expect(paused.figures.replicationLagBytes.value).toBeGreaterThan(1024)
      expect(paused.status).not.toBe("HEALTHY")
      expect(paused.recommendations.join(" ")).toContain("replay is paused")
      // The primary sees the same replica behind in bytes (its replay position stands still), and
      // names it: each replica is in the details, with its state and how far behind it is.
      const fromPrimary = yield* checkOnce(primary.url, { thresholds: quick })
      expect(fromPrimary.figures.replicationLagBytes.value).toBeGreaterThan(1024)
      expect(fromPrimary.figures.replicationLagBytes.status).not.toBe("HEALTHY")
      const standbys = fromPrimary.details.replication?.standbys ?? []
      expect(standbys).toHaveLength(1)
      const [replica] = standbys
      expect(replica).toMatchObject({ hidden: false, clientAddress: "127.0.0.1", state: "streaming", syncState: "async" })
      if (replica?.hidden !== false) throw new Error("the replica's state is visible to a superuser")
      expect(replica.applicationName).toEqual(expect.any(String))
      expect(replica.lagBytes).toBe(fromPrimary.figures.replicationLagBytes.value)
      expect(fromPrimary.recommendations.join(" ")).toContain(`Replica '${replica.applicationName}' at 127.0.0.1 (streaming, async`)

      yield* streaming.query("SELECT pg_wal_replay_resume()")
      let resumed: Health.DatabaseHealthCheck | undefined
      for (let i = 0; i < 50; i++) {
        resumed = yield* checkOnce(streaming.url, { thresholds: quick, firstCheckWindow: 0 })
        if (resumed.figures.replicationLagSeconds.value === 0) break
        yield* Effect.sleep("100 millis")
      }
      expect(resumed?.figures.replicationLagSeconds.value).toBe(0)
      expect(resumed?.details.replication?.replayPaused).toBe(false)
    }).pipe(Effect.scoped))

  it.effect("replay paused with an idle primary: nothing is behind, yet the standby is not HEALTHY until replay resumes", () =>
    Effect.gen(function*() {
      const { streaming } = yield* Replication
      yield* Effect.addFinalizer(() => Effect.ignore(streaming.query("SELECT pg_wal_replay_resume()")))
      // An idle primary still writes now and then on its own: the background writer logs a snapshot
      // of running transactions within 15 s of the last write (the tests before this one wrote).
      // Such a record arriving while replay is paused puts the standby truly behind, so the
      // scenario is set up again until the check saw nothing received and not replayed.
      let paused: Health.DatabaseHealthCheck | undefined
      for (let tries = 0; tries < 5; tries++) {
        for (let i = 0; i < 100; i++) {
          const [row] = yield* streaming.query<{ same: boolean }>(
            "SELECT pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() AS same"
          )
          if (row?.same === true) break
          yield* Effect.sleep("50 millis")
        }
        yield* streaming.query("SELECT pg_wal_replay_pause()")
        paused = yield* checkOnce(streaming.url)
        if (paused.figures.replicationLagBytes.value === 0) break
        yield* streaming.query("SELECT pg_wal_replay_resume()")
      }
      if (paused === undefined) throw new Error("no check ran")
      // What used to be reported: HEALTHY, nothing said.
      expect(paused.status).not.toBe("HEALTHY")
      expect(paused.figures.replicationLagSeconds.value).toBe(0)
      expect(paused.figures.replicationLagBytes.value).toBe(0)
      expect(paused.figures.replayPaused).toMatchObject({ value: 1, status: "DEGRADED" })
      expect(paused.status).toBe("DEGRADED")
      expect(paused.message).toContain("WAL replay paused")
      expect(paused.details.replication).toMatchObject({ role: "standby", replayPaused: true, walReceiver: "streaming" })
      expect(paused.details.replication?.replayPauseState).toMatch(/^(paused|pause requested)$/)
      expect(paused.recommendations.join(" ")).toContain("WAL replay is paused on this standby")
      expect(paused.recommendations.join(" ")).toContain("SELECT pg_wal_replay_resume()")

      yield* streaming.query("SELECT pg_wal_replay_resume()")
      const resumed = yield* checkOnce(streaming.url)
      expect(resumed.figures.replayPaused.value).toBe(0)
      expect(resumed.details.replication?.replayPaused).toBe(false)
      expect(resumed.status, resumed.message).toBe("HEALTHY")
    }).pipe(Effect.scoped))

  it.effect("a role without pg_monitor: the replicas' state and the WAL receiver are UNKNOWN, never caught up", () =>
    Effect.gen(function*() {
      const { primary, streaming } = yield* Replication
      const role = "blind_watcher"
      yield* primary.query(`DROP ROLE IF EXISTS ${role}; CREATE ROLE ${role} LOGIN PASSWORD 'zebra-pass-31'`)
      const as = (url: string) => {
        const u = new URL(url)
        u.username = role
        u.password = "zebra-pass-31"
        return u.toString()
      }
      // The role reaches the standby by replication.
      for (let i = 0; i < 100; i++) {
        const [row] = yield* streaming.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_roles WHERE rolname = '${role}'`)
        if (row?.n === 1) break
        yield* Effect.sleep("50 millis")
      }
      const fromPrimary = yield* checkOnce(as(primary.url), { expectedReplicas: 1 })
      // One replica streams (the other never reached the primary): its state and lag are hidden.
      expect(fromPrimary.details.replication).toMatchObject({ role: "primary", replicas: 1, hiddenReplicas: 1 })
      expect(fromPrimary.figures.replicationLagSeconds).toMatchObject({ value: null, status: "UNKNOWN" })
      expect(fromPrimary.figures.replicationLagBytes).toMatchObject({ value: null, status: "UNKNOWN" })
      expect(fromPrimary.figures.replicasDisconnected.status).toBe("UNKNOWN")
      expect(fromPrimary.status).toBe("UNKNOWN")
      // Listed as there, with nothing the role may not see (no address, state or lag).
      expect(fromPrimary.details.replication?.standbys).toEqual([{ hidden: true, applicationName: expect.any(String) }])
      expect(fromPrimary.recommendations.join(" ")).toContain(`replica(s) are connected but their state and lag are hidden from role ${role}`)
      // The slot of a connected replica is visible to anyone: active, not counted.
      expect(fromPrimary.figures.inactiveReplicationSlots.value).toBe(0)

      const fromStandby = yield* checkOnce(as(streaming.url))
      expect(fromStandby.details.replication).toMatchObject({ role: "standby", walReceiver: "hidden" })
      expect(fromStandby.figures.replicasDisconnected).toMatchObject({ value: null, status: "UNKNOWN" })
      expect(fromStandby.status).toBe("UNKNOWN")
      expect(fromStandby.recommendations.join(" ")).toContain(`WAL receiver status is hidden from role ${role}`)
      expect(JSON.stringify([fromPrimary, fromStandby])).not.toContain("zebra-pass-31")
    }))

  it.effect("a replica gone from its slot: the primary reports the inactive slot and the WAL it keeps", () =>
    Effect.gen(function*() {
      const { primary, slot, streaming } = yield* Replication
      const before = yield* checkOnce(primary.url, { expectedReplicas: 1 })
      expect(before.figures.inactiveReplicationSlots.value).toBe(0)
      expect(before.figures.replicasDisconnected.value).toBe(0)
      yield* streaming.stop
      yield* commitFor(primary, 1)
      yield* primary.query("SELECT pg_switch_wal()")
      const after = yield* checkOnce(primary.url, { expectedReplicas: 1, thresholds: { degraded: { replicationSlotRetainedBytes: 1024 } } })
      expect(after.figures.inactiveReplicationSlots.value).toBe(1)
      expect(after.details.replicationSlots?.inactiveNames).toEqual([slot])
      expect(after.figures.replicationSlotRetainedBytes.value).toBeGreaterThan(1024)
      expect(after.figures.replicasDisconnected.value).toBe(1)
      expect(after.status).toBe("UNHEALTHY")
      expect(after.recommendations.join(" ")).toContain(`(${slot})`)
    }))
})
