/**
 * What to do about a figure out of range: one concrete recommendation per figure, naming the pid,
 * the database, the setting, the table or the statement's query id to act on (never a query text
 * or a row's values).
 *
 * @internal
 */
import type { HealthSnapshot, ReplicaDetails } from "./model.js"
import { formatFigure, type HealthFigure } from "./figures.js"

const where = (database: string | null | undefined) => (database ? ` in database ${database}` : "")

/** A replica as a person finds it: its application name, address, state and sync state. */
const describeReplica = (r: Extract<ReplicaDetails, { hidden: false }>) =>
  `${r.applicationName ? `'${r.applicationName}'` : "(no application_name)"} at ${r.clientAddress} (${r.state}, ${r.syncState ?? "?"}` +
  `${r.replayLagSeconds !== null ? `, replay_lag ${formatFigure("replicationLagSeconds", r.replayLagSeconds)}` : ""}` +
  `${r.lagBytes !== null ? `, ${formatFigure("replicationLagBytes", r.lagBytes)} not replayed` : ""})`

/** The recommendation for `figure` at `value`. */
export const recommendationFor = (figure: HealthFigure, value: number, s: HealthSnapshot): string => {
  const d = s.details
  const settings = d.settings ?? {}
  const show = (n: number) => formatFigure(figure, n)
  switch (figure) {
    case "connectionPoolUsage":
    case "poolWaiting": {
      const longest = d.longestTransaction
      return `The application pool has ${s.pool.inUse} of ${s.pool.max} connections in use and ${s.pool.waiting} caller(s) waiting: ` +
        `raise maxConnections (now ${s.pool.max}) if the server has room, or shorten what holds connections` +
        (longest ? ` (longest transaction: pid ${longest.pid}, ${formatFigure("longestTransactionSeconds", longest.seconds)}${longest.queryId ? `, query id ${longest.queryId}` : ""})` : "") +
        "."
    }
    case "serverConnectionUsage":
      return `The server has ${d.serverConnections?.used ?? "?"} of ${d.serverConnections?.available ?? "?"} connection slots in use (all databases): ` +
        "put a pooler (PgBouncer) in front, lower the pool sizes of idle clients, or raise max_connections."
    case "avgQueryTime":
      return `Statements take ${show(value)} on average (${d.avgQueryTimeSource === "pg_stat_statements" ? "pg_stat_statements" : "as observed by this application"}, ${d.avgQueryTimeWindow ?? "window unknown"})` +
        (d.topStatement
          ? `: the slowest statement is query id ${d.topStatement.queryId} (mean ${Math.round(d.topStatement.meanMillis)} ms over ${d.topStatement.calls} calls); run EXPLAIN (ANALYZE, BUFFERS) on it.`
          : ": find the slow statements with pg_stat_statements and EXPLAIN (ANALYZE, BUFFERS).")
    case "cacheHitRatio":
      return `Only ${show(value)} of block reads were served from shared_buffers (${d.cacheHitRatioWindow ?? ""}; shared_buffers = ${settings.shared_buffers ?? "?"})` +
        (d.topReadTable ? `; most disk reads come from ${d.topReadTable.name}` : "") +
        ": raise shared_buffers (commonly 25% of RAM) or add the index that avoids the scan."
    case "idleInTransactionSeconds": {
      const it = d.idleInTransaction
      const pid = it?.oldestPid ?? "pid"
      const holds = it?.aborted === true
        ? it.locks === 0
          ? "its transaction failed and waits for a ROLLBACK: it holds no locks and no snapshot, but it keeps a connection slot, and the client will fail on its next statement"
          : `a statement failed inside its transaction (a savepoint), which still holds ${it.locks} lock(s) until it ends`
        : `it holds ${it?.locks ?? "its"} lock(s)` +
          (it?.holdsHorizon === true
            ? " and keeps VACUUM from removing dead rows (its transaction ID or snapshot) until it ends"
            : it?.holdsHorizon === false
            ? " until it ends (no snapshot that holds back VACUUM)"
            : " until it ends")
      return `${it?.count ?? "Some"} session(s) are idle in transaction; pid ${it?.oldestPid ?? "?"}${it?.application ? ` (${it.application})` : ""}${where(it?.database)} for ${show(value)}: ` +
        `${holds}. Fix the code path that leaves it open, end it with pg_terminate_backend(${pid}) if needed, ` +
        `and set idle_in_transaction_session_timeout (now ${settings.idle_in_transaction_session_timeout ?? "?"}).`
    }
    case "longestTransactionSeconds": {
      const t = d.longestTransaction
      return `pid ${t?.pid ?? "?"}${where(t?.database)} has been in one transaction for ${show(value)} (state ${t?.state ?? "unknown"}${t?.queryId ? `, query id ${t.queryId}` : ""}): ` +
        "long transactions hold locks and stop VACUUM from removing dead rows; split the work or set a transaction deadline."
    }
    case "blockedSeconds": {
      const b = [...(d.blocked ?? [])].sort((x, y) => y.seconds - x.seconds)[0]
      return `pid ${b?.pid ?? "?"}${where(b?.database)} has waited ${show(value)} for a lock held by pid ${b?.blockedBy.join(", pid ") || "?"}` +
        `: look at what the blocker runs (pg_stat_activity) and keep lock-holding transactions short; set lock_timeout for interactive work.`
    }
    case "deadlocks":
      return `${Math.round(value)} deadlock(s) since the last check: make transactions lock rows in a consistent order (e.g. by primary key) ` +
        `and keep them short; retries (withTransaction) hide them from users but each costs deadlock_timeout (${settings.deadlock_timeout ?? "?"}).`
    case "wraparoundPercent":
      return `Database ${d.wraparoundDatabase ?? "?"} is at ${show(value)} of autovacuum_freeze_max_age: ` +
        `check that autovacuum runs (autovacuum = ${settings.autovacuum ?? "?"}) and is not blocked by long transactions, and VACUUM (FREEZE) its oldest tables.`
    case "replicationLagSeconds":
    case "replicationLagBytes": {
      if (d.replication?.role === "standby") {
        return `This standby replays WAL ${show(value)} behind what it received` +
          (d.replication.replayPaused ? ": replay is paused (SELECT pg_wal_replay_resume() resumes it)." : ": check its I/O and long queries that conflict with replay.")
      }
      const visible = (d.replication?.standbys ?? []).filter((r): r is Extract<ReplicaDetails, { hidden: false }> => !r.hidden)
      const key = figure === "replicationLagSeconds" ? (r: (typeof visible)[number]) => r.replayLagSeconds ?? 0 : (r: (typeof visible)[number]) => r.lagBytes ?? 0
      const furthest = [...visible].sort((a, b) => key(b) - key(a))[0]
      return (furthest ? `Replica ${describeReplica(furthest)} is ${show(value)} behind` : `A replica is ${show(value)} behind`) +
        ": check its I/O and network, long queries on it that conflict with replay, or whether its replay is paused (pg_is_wal_replay_paused() on it)."
    }
    case "replicasDisconnected": {
      if (d.replication?.role === "standby") {
        return `This standby is not streaming from its primary (WAL receiver: ${d.replication.walReceiver ?? "?"}): its data gets older and it is no failover target. ` +
          "Check primary_conninfo, the network to the primary, and the standby's log."
      }
      const notStreaming = (d.replication?.standbys ?? []).filter((r) => !r.hidden && r.state !== "streaming")
      return `${Math.round(value)} of the ${d.replication?.expected ?? "?"} expected replica(s) are not streaming (${d.replication?.streaming ?? 0} streaming` +
        (notStreaming.length > 0 ? `; connected but not streaming: ${notStreaming.map((r) => r.hidden ? "?" : describeReplica(r)).join(", ")}` : "") +
        "): check the replicas and their logs; a replication slot keeps their WAL meanwhile."
    }
    case "replayPaused":
      return `WAL replay is paused on this standby (${d.replication?.replayPauseState ?? "pg_is_wal_replay_paused() is true"}): it receives WAL but applies none, ` +
        "so its data gets older with every write on the primary and a promotion must first replay what piled up. " +
        "If nobody paused it on purpose (a backup, an investigation), resume it: SELECT pg_wal_replay_resume();"
    case "preparedTransactionSeconds": {
      const p = d.preparedTransactions?.oldest
      return `Prepared transaction ${p ? `'${p.gid}' (owner ${p.owner}${where(p.database)})` : "?"} has waited ${show(value)} for its COMMIT PREPARED ` +
        "or ROLLBACK PREPARED: it holds its locks and stops VACUUM until then. Let its transaction manager finish it, " +
        `or end it by hand${p ? ` (ROLLBACK PREPARED '${p.gid}')` : ""}.`
    }
    case "inactiveReplicationSlots":
      return `${Math.round(value)} replication slot(s) have no consumer (${(d.replicationSlots?.inactiveNames ?? []).join(", ") || "?"}): ` +
        "each keeps WAL (and, for logical slots, old catalog rows) until its consumer returns. Bring the consumer back, or drop a slot " +
        "no longer needed with pg_drop_replication_slot('name'); max_slot_wal_keep_size caps what a slot may keep" +
        ` (now ${settings.max_slot_wal_keep_size ?? "?"}).`
    case "replicationSlotRetainedBytes": {
      const w = d.replicationSlots?.worst
      return `Replication slot ${w?.name ?? "?"} (${w?.active ? "active" : "inactive"}) keeps ${show(value)} of WAL on disk` +
        (w?.walStatus ? ` (wal_status ${w.walStatus})` : "") +
        ": its consumer is far behind or gone. Fix the consumer or drop the slot before pg_wal fills the disk; " +
        `set max_slot_wal_keep_size (now ${settings.max_slot_wal_keep_size ?? "?"}) to cap it.`
    }
    case "archiveFailures": {
      const a = d.archiver
      return `WAL archiving fails (${Math.round(value)} failure(s) in the window${a?.failingNow ? ", and the last attempt failed" : ""}` +
        `${a?.lastFailedWal ? `; last failed file ${a.lastFailedWal}` : ""}): WAL piles up in pg_wal until archive_command succeeds. ` +
        "Check the archive destination (space, credentials, network) and the server log for the command's error."
    }
    case "sequenceUsedPercent": {
      const w = d.sequences?.worst
      return `Sequence ${w?.name ?? "?"} has used ${show(value)} of its range` +
        (w?.columnBound ? ` (bounded by its column's type at ${w.limit})` : w ? ` (maximum ${w.limit})` : "") +
        ": when it runs out every INSERT fails. Migrate the column (and the sequence) to bigint before that."
    }
    case "deadTuplePercent": {
      const t = d.tables?.deadTuples
      return `Table ${t?.name ?? "?"} is ${show(value)} dead rows (${t?.dead ?? "?"}): autovacuum is not keeping up. ` +
        "Look for long transactions or slots holding back VACUUM, run VACUUM on it, and lower its autovacuum_vacuum_scale_factor."
    }
    case "vacuumOverdueSeconds": {
      const t = d.tables?.vacuum
      return `Table ${t?.name ?? "?"} is past its autovacuum threshold, ` +
        (t?.never ? `never vacuumed since the ${t.since ?? "statistics reset"} ${show(value)} ago (at least that long)` : `last vacuumed ${show(value)} ago`) +
        ": autovacuum is not reaching it (workers busy, autovacuum off for the server or the table, or its runs cancelled by locks). " +
        "Run VACUUM on it and check autovacuum_max_workers and the table's autovacuum_enabled."
    }
    case "analyzeOverdueSeconds": {
      const t = d.tables?.analyze
      return `Table ${t?.name ?? "?"} has changed past its autoanalyze threshold and ` +
        (t?.never ? `has never been analyzed since the ${t.since ?? "statistics reset"} ${show(value)} ago (at least that long)` : `was last analyzed ${show(value)} ago`) +
        ": the planner works from stale statistics. Run ANALYZE on it and check that autovacuum runs (and the table's autovacuum_enabled)."
    }
    case "tableXidAgePercent": {
      const t = d.tables?.xid
      return `Table ${t?.name ?? "?"} is at ${show(value)} of autovacuum_freeze_max_age: VACUUM (FREEZE) it, ` +
        "and check that nothing (a long transaction, a prepared transaction, a slot) holds back its freezing."
    }
    case "databaseGrowthBytesPerHour": {
      const size = d.databaseSize
      return `Database ${d.database ?? "?"} grows ${show(value)} (now ${size ? formatFigure("replicationLagBytes", size.bytes) : "?"}): ` +
        "check the disk's room for it, and whether the growth is data or bloat (dead rows, a table rewritten)."
    }
    case "poolerClientsWaiting":
    case "poolerMaxWaitSeconds": {
      const pool = d.pooler?.pools?.[0]
      const waiting = d.pooler?.pools?.reduce((sum, p) => sum + p.clientsWaiting, 0) ?? 0
      return `${waiting} client(s) wait in the pooler for a server connection` +
        (pool
          ? ` (pool ${pool.database}/${pool.user}: ${pool.serversActive} server connection(s) active, ${pool.serversIdle + pool.serversUsed} idle` +
            `${pool.poolSize !== null ? `, pool_size ${pool.poolSize}` : ""}; longest wait ${formatFigure("poolerMaxWaitSeconds", pool.maxWaitSeconds)})`
          : "") +
        ": its server connections are all busy. Shorten the transactions that hold them (long transactions, idle in transaction), " +
        `or raise default_pool_size if the server has room (server connection slots used: ${d.serverConnections?.used ?? "?"} of ${d.serverConnections?.available ?? "?"}).`
    }
    case "probeLatency":
      return `A trivial query took ${show(value)} to answer: the server is overloaded (CPU, I/O) or the network is slow; check load and pg_stat_activity.`
  }
}
