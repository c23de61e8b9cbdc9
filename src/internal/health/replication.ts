/**
 * Replication figures: on a standby its own WAL receiver (streaming or not), replay lag and whether
 * replay is paused; on a primary its replicas' state and lag against those it is expected to have,
 * and each replica in the details. Pure.
 *
 * @internal
 */
import type { HealthFigure } from "./figures.js"
import type { HealthDetails, ReplicaDetails, UnknownFigure } from "./model.js"
import type { RawSnapshot } from "./rows.js"

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits

/** Replication: a standby's own WAL receiver and lag; a primary's replicas and their lag. */
export const replicationFigures = (
  raw: RawSnapshot,
  expectedReplicas: number,
  figures: Record<HealthFigure, number | null>,
  unknown: Array<UnknownFigure>,
  partial: Array<HealthFigure>
): NonNullable<HealthDetails["replication"]> => {
  if (raw.inRecovery && raw.standby) {
    const standby = raw.standby
    const receiver = standby.receiver
    const status = receiver === null ? "none" : receiver.status ?? "hidden"
    const archiveOnly = receiver === null && standby.conninfoSet === false
    const streaming = status === "streaming"
    // Replay paused (or a pause requested) is said whatever the receiver does: with an idle primary
    // nothing else shows it, and WAL piles up unreplayed from the first write on.
    figures.replayPaused = standby.paused ? 1 : 0
    const lagNow = () => {
      figures.replicationLagSeconds = standby.caughtUp === true ? 0 : standby.replayAgeSeconds === null ? null : round(standby.replayAgeSeconds)
      figures.replicationLagBytes = standby.lagBytes ?? 0
    }
    if (streaming) {
      figures.replicasDisconnected = 0
      lagNow()
    } else if (status === "hidden") {
      figures.replicasDisconnected = null
      lagNow()
      unknown.push({
        figure: "replicasDisconnected",
        reason: `This standby's WAL receiver status is hidden from role ${raw.role}: GRANT pg_monitor TO ${raw.role}; (pg_read_all_stats).`,
        remedy: true
      })
    } else if (archiveOnly) {
      figures.replicasDisconnected = 0
      unknown.push({
        figure: "replicationLagSeconds",
        reason: "This standby replays WAL from an archive (no primary_conninfo): how far behind the primary it is cannot be seen from here.",
        remedy: false
      })
    } else {
      // Not streaming: what it received is stale, so "received = replayed" says nothing about the lag.
      figures.replicasDisconnected = 1
      unknown.push({
        figure: "replicationLagSeconds",
        reason: `This standby's WAL receiver is not streaming (${status === "none" ? "no WAL receiver running" : status}): ` +
          "how far behind the primary it is cannot be measured until it streams again.",
        remedy: false
      })
    }
    return {
      role: "standby",
      replicas: 0,
      walReceiver: status,
      replayPaused: standby.paused,
      ...(standby.pauseState !== null ? { replayPauseState: standby.pauseState } : {}),
      ...(archiveOnly ? { archiveOnly } : {})
    }
  }
  if (raw.inRecovery) {
    // In recovery but the standby part did not answer: nothing can be said of its replay.
    figures.replayPaused = null
    unknown.push({ figure: "replayPaused", reason: "This server is in recovery but its replay state did not answer.", remedy: false })
  } else figures.replayPaused = 0
  const replicas = raw.replicas ?? { count: 0, streaming: 0, hidden: 0, lagSeconds: null, lagBytes: null, list: [] }
  figures.replicasDisconnected = Math.max(0, expectedReplicas - replicas.streaming)
  if (replicas.count > 0 && replicas.hidden === replicas.count) {
    figures.replicationLagSeconds = null
    figures.replicationLagBytes = null
    if (replicas.streaming === 0 && expectedReplicas > 0) figures.replicasDisconnected = null
    unknown.push({
      figure: "replication",
      reason: `${replicas.hidden} replica(s) are connected but their state and lag are hidden from role ${raw.role}: ` +
        `GRANT pg_monitor TO ${raw.role}; (pg_read_all_stats).`,
      remedy: true
    })
  } else {
    // No replay_lag means caught up (PostgreSQL clears it once a replica has replayed everything).
    figures.replicationLagSeconds = round(replicas.lagSeconds ?? 0)
    figures.replicationLagBytes = replicas.lagBytes ?? 0
    if (replicas.hidden > 0) partial.push("replicationLagSeconds", "replicationLagBytes")
  }
  return {
    role: "primary",
    replicas: replicas.count,
    streaming: replicas.streaming,
    expected: expectedReplicas,
    ...(replicas.hidden > 0 ? { hiddenReplicas: replicas.hidden } : {}),
    standbys: replicas.list.map((r): ReplicaDetails =>
      r.hidden || r.state === null
        ? { hidden: true, applicationName: r.applicationName }
        : {
          hidden: false,
          applicationName: r.applicationName,
          clientAddress: r.clientAddress ?? "local",
          state: r.state,
          syncState: r.syncState,
          replayLagSeconds: r.replayLagSeconds === null ? null : round(r.replayLagSeconds, 3),
          lagBytes: r.lagBytes
        }
    )
  }
}

