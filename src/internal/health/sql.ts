/**
 * The SQL of the health probe. Every text is ours alone and carries the probe marker, so that
 * pg_stat_statements averages can leave our statements out. Columns that differ between
 * PostgreSQL versions are chosen when the text is built (the version is looked up once).
 *
 * @internal
 */

/**
 * Marks our own statements, so that they can be left out of pg_stat_statements averages. It goes
 * after the first keyword: pg_stat_statements drops a leading comment, but keeps inner ones.
 */
export const probeMarker = "/* pg-resilience health probe */"

const marked = (text: string) => text.replace(/^(\s*\w+)/, `$1 ${probeMarker}`)

/** A SQL identifier, quoted. */
export const quoteIdent = (name: string) => `"${name.replace(/"/g, "\"\"")}"`

/** A SQL string literal. */
const quoteLiteral = (text: string) => `'${text.replace(/'/g, "''")}'`

/**
 * The round-trip probe. Its shape is ours alone: pg_stat_statements files statements by shape,
 * keeping the first text it saw, so a bare `SELECT 1` would share the application's entry and
 * never carry our marker.
 */
export const latencyQuery = marked("SELECT 1 FROM pg_catalog.pg_class WHERE false")

/**
 * Where session rows come from: the SECURITY DEFINER function of sql/monitoring-functions.sql when
 * it is installed (it shows every session to a role without pg_monitor, without the query texts),
 * else `pg_stat_get_activity` (what `pg_stat_activity` reads, without its joins).
 */
export const activityFunction = "resilience_monitor.stat_activity()"

/** Looked up once per service: the server's version and whether the activity function is usable. */
export const discoveryQuery = marked(`SELECT current_setting('server_version_num')::int AS version_num,
  to_regprocedure('${activityFunction}') IS NOT NULL
    AND has_function_privilege(to_regprocedure('${activityFunction}'), 'EXECUTE') AS activity_function`)

/**
 * Publishes this backend's pending statistics now (PostgreSQL 15+), so that the first check's own
 * start (connecting, planning its statements: hundreds of catalog block reads on a new connection)
 * lands before its window, not inside it.
 */
export const flushStatisticsQuery = marked("SELECT pg_stat_force_next_flush()")

/** What the texts depend on. */
export interface ProbeVariant {
  readonly versionNum: number
  readonly activityFunction: boolean
}

/** How many blocked sessions the snapshot describes (the oldest first); the count covers all. */
export const blockedListed = 20

/** How many replicas a primary's snapshot describes (the furthest behind first); the counts cover all. */
export const replicasListed = 20

/**
 * The cheap snapshot: sessions (server-wide), counters, replication, slots, prepared transactions,
 * the archiver and settings, in one row of JSON. Read by every check.
 */
export const snapshotQuery = ({ activityFunction: useFunction, versionNum }: ProbeVariant) => {
  // A subquery, not a join: inside the aggregates below it runs only for the rows their FILTER keeps
  // (the sessions a figure names), where a join would cost per session.
  const datname = useFunction ? "s.datname" : "(SELECT d.datname FROM pg_catalog.pg_database d WHERE d.oid = s.datid)"
  return marked(`WITH x AS MATERIALIZED (
  -- The sessions in one pass, aggregated as they are read: what costs per session is reading them
  -- (microseconds each), so nothing stores or rescans them, and the rows the figures name (the
  -- oldest idle transaction, the longest transaction, the blocked) are built only for the sessions
  -- in those states. Counted: client backends, and rows whose type this role may not see but that
  -- are a user's session in a database (background processes have no database; autovacuum workers
  -- no user).
  SELECT count(*) + 1 AS client_backends,
         count(*) FILTER (WHERE s.state IS NULL) AS hidden,
         count(*) FILTER (WHERE s.state = 'active') AS active,
         count(*) FILTER (WHERE s.state = 'idle') AS idle,
         count(*) FILTER (WHERE s.state LIKE 'idle in transaction%') AS idle_in_transaction,
         count(*) FILTER (WHERE s.wait_event_type = 'Lock') AS waiting,
         (array_agg(json_build_object('pid', s.pid,
             'seconds', extract(epoch FROM now() - s.state_change),
             'application', s.application_name, 'database', ${datname},
             'aborted', s.state = 'idle in transaction (aborted)',
             'horizon', ${useFunction ? "NULL::boolean" : "s.backend_xid IS NOT NULL OR s.backend_xmin IS NOT NULL"})
           ORDER BY s.state_change) FILTER (WHERE s.state LIKE 'idle in transaction%'))[1] AS oldest_idle,
         (array_agg(json_build_object('pid', s.pid,
             'seconds', extract(epoch FROM now() - s.xact_start),
             'queryId', ${useFunction || versionNum >= 140000 ? "s.query_id::text" : "NULL::text"},
             'state', s.state, 'application', s.application_name, 'database', ${datname})
           ORDER BY s.xact_start) FILTER (WHERE s.xact_start IS NOT NULL))[1] AS longest,
         (array_agg(json_build_object('pid', s.pid,
             'database', ${datname},
             'seconds', extract(epoch FROM now() - coalesce(s.query_start, s.state_change)))
           ORDER BY s.query_start) FILTER (WHERE s.wait_event_type = 'Lock'))[1:${blockedListed}] AS blocked
  FROM ${useFunction ? `${activityFunction} s` : "pg_catalog.pg_stat_get_activity(NULL) s"}
  WHERE s.pid <> pg_backend_pid()
    AND (s.backend_type = 'client backend' OR (s.backend_type IS NULL${
    useFunction ? "" : " AND s.datid IS NOT NULL AND s.usesysid IS NOT NULL"
  }))
),
sl AS MATERIALIZED (
  SELECT slot_name, slot_type, active, wal_status,
         pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END,
                         restart_lsn) AS retained
  FROM pg_catalog.pg_replication_slots WHERE NOT temporary
)
SELECT json_build_object(
  'versionNum', current_setting('server_version_num')::int,
  'version', current_setting('server_version'),
  'database', current_database(),
  'role', current_user,
  'backendPid', pg_backend_pid(),
  'inRecovery', pg_is_in_recovery(),
  'maxConnections', current_setting('max_connections')::int,
  'superuserReserved', current_setting('superuser_reserved_connections')::int,
  'reserved', coalesce(nullif(current_setting('reserved_connections', true), '')::int, 0),
  'sessions', (SELECT json_build_object('clientBackends', client_backends, 'hidden', hidden, 'active', active,
      'idle', idle, 'idleInTransaction', idle_in_transaction, 'waiting', waiting) FROM x),
  'oldestIdleInTransaction', (
    SELECT (x.oldest_idle::jsonb || jsonb_build_object('locks', (SELECT count(*) FROM pg_catalog.pg_locks l
              WHERE l.pid = (x.oldest_idle->>'pid')::int AND l.granted AND l.locktype <> 'virtualxid')))::json
    FROM x WHERE x.oldest_idle IS NOT NULL),
  'longestTransaction', (SELECT longest FROM x),
  'blocked', (
    SELECT coalesce(json_agg((b.e::jsonb || jsonb_build_object('blockedBy', pg_blocking_pids((b.e->>'pid')::int)))::json
             ORDER BY b.n), '[]'::json)
    FROM x, unnest(x.blocked) WITH ORDINALITY AS b(e, n)),
  'stats', (
    SELECT json_build_object('hit', blks_hit, 'read', blks_read, 'deadlocks', deadlocks, 'reset', stats_reset)
    FROM pg_catalog.pg_stat_database WHERE datname = current_database()),
  'wraparound', (
    SELECT json_build_object('database', datname,
             'percent', round(100.0 * age(datfrozenxid) / current_setting('autovacuum_freeze_max_age')::numeric, 4))
    FROM pg_catalog.pg_database ORDER BY age(datfrozenxid) DESC LIMIT 1),
  'standby', CASE WHEN pg_is_in_recovery() THEN json_build_object(
      'receiver', (SELECT json_build_object('pid', r.pid, 'status', r.status)
                   FROM pg_catalog.pg_stat_get_wal_receiver() r WHERE r.pid IS NOT NULL),
      'conninfoSet', (SELECT setting <> '' FROM pg_catalog.pg_settings WHERE name = 'primary_conninfo'),
      'paused', pg_is_wal_replay_paused(),
      'pauseState', ${versionNum >= 140000 ? "pg_get_wal_replay_pause_state()" : "NULL::text"},
      'caughtUp', pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn(),
      'lagBytes', pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()),
      'replayAgeSeconds', extract(epoch FROM now() - pg_last_xact_replay_timestamp())) END,
  'replicas', CASE WHEN NOT pg_is_in_recovery() THEN (
      SELECT json_build_object('count', count(*), 'streaming', count(*) FILTER (WHERE state = 'streaming'),
               'hidden', count(*) FILTER (WHERE state IS NULL),
               'lagSeconds', extract(epoch FROM max(replay_lag)),
               'lagBytes', max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)),
               -- each replica, the furthest behind first; a role without pg_read_all_stats sees only
               -- that one is there (and the application_name every role may read), never its state
               'list', (SELECT coalesce(json_agg(json_build_object(
                          'applicationName', r.application_name, 'hidden', r.state IS NULL,
                          'clientAddress', CASE WHEN r.state IS NOT NULL THEN coalesce(host(r.client_addr), 'local') END,
                          'state', r.state, 'syncState', r.sync_state,
                          'replayLagSeconds', extract(epoch FROM r.replay_lag), 'lagBytes', r.lag_bytes)
                        ORDER BY r.lag_bytes DESC NULLS LAST, r.replay_lag DESC NULLS LAST), '[]'::json)
                 FROM (SELECT w.state, w.sync_state, w.replay_lag, act.application_name, act.client_addr,
                              pg_wal_lsn_diff(pg_current_wal_lsn(), w.replay_lsn) AS lag_bytes
                       FROM pg_catalog.pg_stat_get_wal_senders() w
                       LEFT JOIN LATERAL pg_catalog.pg_stat_get_activity(w.pid) act ON true
                       ORDER BY lag_bytes DESC NULLS LAST LIMIT ${replicasListed}) r))
      FROM pg_catalog.pg_stat_get_wal_senders()) END,
  'slots', (
    SELECT json_build_object('count', count(*), 'inactive', count(*) FILTER (WHERE NOT active),
             'inactiveNames', coalesce(json_agg(slot_name ORDER BY retained DESC NULLS LAST) FILTER (WHERE NOT active), '[]'::json),
             'worst', (SELECT json_build_object('name', w.slot_name, 'type', w.slot_type, 'active', w.active,
                                'retainedBytes', w.retained, 'walStatus', w.wal_status)
                       FROM sl w ORDER BY w.retained DESC NULLS LAST LIMIT 1))
    FROM sl),
  'prepared', (
    SELECT json_build_object('count', count(*),
             'oldest', (SELECT json_build_object('gid', left(p.gid, 200), 'database', p.database, 'owner', p.owner,
                                 'seconds', extract(epoch FROM now() - p.prepared))
                        FROM pg_catalog.pg_prepared_xacts p ORDER BY p.prepared LIMIT 1))
    FROM pg_catalog.pg_prepared_xacts),
  'archiver', (
    SELECT json_build_object('failed', failed_count, 'archived', archived_count, 'reset', stats_reset,
             'lastFailedWal', last_failed_wal,
             'lastFailedSecondsAgo', extract(epoch FROM now() - last_failed_time),
             'lastArchivedSecondsAgo', extract(epoch FROM now() - last_archived_time),
             'failingNow', last_failed_time IS NOT NULL AND (last_archived_time IS NULL OR last_failed_time > last_archived_time))
    FROM pg_catalog.pg_stat_archiver),
  'settings', json_build_object(
    'shared_buffers', current_setting('shared_buffers'),
    'idle_in_transaction_session_timeout', current_setting('idle_in_transaction_session_timeout'),
    'deadlock_timeout', current_setting('deadlock_timeout'),
    'autovacuum', current_setting('autovacuum'),
    'autovacuum_freeze_max_age', current_setting('autovacuum_freeze_max_age'),
    'archive_mode', current_setting('archive_mode'),
    'max_slot_wal_keep_size', current_setting('max_slot_wal_keep_size', true)),
  'pgStatStatementsSchema', (
    SELECT n.nspname FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_stat_statements')
) AS snapshot`)
}

/**
 * Totals of pg_stat_statements for this database (top-level statements on PG14+), ours excluded.
 * Statements of roles whose texts this role may not read (`<insufficient privilege>`) are counted
 * apart: our probes run by another role look just like them, so they cannot join the average.
 */
export const statementTotalsQuery = (schema: string, versionNum: number) =>
  marked(`SELECT coalesce(sum(calls) FILTER (WHERE visible), 0)::float8 AS calls,
       coalesce(sum(total_exec_time) FILTER (WHERE visible), 0)::float8 AS total_ms,
       coalesce(sum(calls) FILTER (WHERE NOT visible), 0)::float8 AS hidden_calls
FROM (SELECT calls, total_exec_time, queryid IS NOT NULL AND query <> '<insufficient privilege>' AS visible
      FROM ${quoteIdent(schema)}.pg_stat_statements
      WHERE dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
        ${versionNum >= 140000 ? "AND toplevel" : ""}
        AND query NOT LIKE ${quoteLiteral(`%${probeMarker}%`)}) s`)

/** The visible statement with the highest mean time: what to look at when queries are slow. */
export const topStatementQuery = (schema: string) =>
  marked(`SELECT queryid::text AS query_id, calls::float8 AS calls, mean_exec_time::float8 AS mean_ms
FROM ${quoteIdent(schema)}.pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
  AND queryid IS NOT NULL AND query <> '<insufficient privilege>'
  AND query NOT LIKE ${quoteLiteral(`%${probeMarker}%`)} AND calls > 0
ORDER BY mean_exec_time DESC LIMIT 1`)

/** The table read most from disk: what to look at when the cache hit ratio falls. */
export const topReadTableQuery = marked(`SELECT schemaname || '.' || relname AS name, heap_blks_read::float8 AS blocks_read
FROM pg_catalog.pg_statio_user_tables ORDER BY heap_blks_read DESC NULLS LAST LIMIT 1`)

/** Tables smaller than this (live + dead rows) do not count for the dead-tuple share. */
export const deadTupleMinimumRows = 10_000

/** An autovacuum setting of a table: its reloption when set, else the server's. */
const tableSetting = (name: string, cast: "float8") =>
  `coalesce((SELECT split_part(o, '=', 2) FROM unnest(c.reloptions) o WHERE o LIKE '${name}=%' LIMIT 1)::${cast}, current_setting('${name}')::${cast})`

/**
 * The expensive pass (per-table and per-sequence scans, the database's size): on a slower cadence of
 * its own.
 */
export const expensiveQuery = marked(`WITH seq AS MATERIALIZED (
  SELECT n.nspname || '.' || c.relname AS name, s.seqincrement AS inc, s.seqmin::numeric AS min, s.seqmax::numeric AS max,
         has_sequence_privilege(c.oid, 'SELECT,USAGE') AS visible,
         CASE WHEN has_sequence_privilege(c.oid, 'SELECT,USAGE') THEN pg_sequence_last_value(c.oid::regclass) END::numeric AS last,
         -- the smallint/integer columns it feeds: OWNED BY or identity, or a DEFAULT nextval(...)
         (SELECT min(CASE t.typ WHEN 'int2'::regtype THEN 32767 WHEN 'int4'::regtype THEN 2147483647 END) FROM (
            SELECT a.atttypid AS typ
            FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
            WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass
              AND d.deptype IN ('a', 'i')
            UNION ALL
            SELECT a.atttypid
            FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_attrdef ad ON ad.oid = d.objid
            JOIN pg_catalog.pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
            WHERE d.classid = 'pg_attrdef'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid) t)::numeric AS column_max
  FROM pg_catalog.pg_sequence s JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE NOT s.seqcycle AND c.relpersistence <> 't' AND NOT (pg_is_in_recovery() AND c.relpersistence = 'u')
),
seqp AS (
  SELECT name, visible, least(max, coalesce(column_max, max)) AS limit_value,
         coalesce(column_max < max, false) AS column_bound,
         CASE WHEN last IS NULL THEN NULL
              WHEN inc > 0 THEN round(100 * (last - min) / nullif(least(max, coalesce(column_max, max)) - min, 0), 2)
              ELSE round(100 * (max - last) / nullif(max - min, 0), 2) END AS percent
  FROM seq
),
since AS (
  -- a table never vacuumed (analyzed) has not been since this moment at least: the later of the
  -- statistics' reset and the server's start. It counts only when autovacuum is off for it: with
  -- autovacuum on, a table just created and loaded past its threshold is autovacuum's next job (its
  -- dead-tuple share still counts), and timing it from the server's start would be a false alarm.
  SELECT greatest(d.stats_reset, pg_postmaster_start_time()) AS at,
         CASE WHEN d.stats_reset > pg_postmaster_start_time() THEN 'statistics reset' ELSE 'server start' END AS what
  FROM (SELECT (SELECT stats_reset FROM pg_catalog.pg_stat_database WHERE datname = current_database()) AS stats_reset) d
),
tab AS MATERIALIZED (
  SELECT s.schemaname || '.' || s.relname AS name, s.n_live_tup AS live, s.n_dead_tup AS dead,
         s.n_mod_since_analyze AS mods,
         greatest(s.last_vacuum, s.last_autovacuum) AS vacuumed, greatest(s.last_analyze, s.last_autoanalyze) AS analyzed,
         ${tableSetting("autovacuum_vacuum_threshold", "float8")}
           + ${tableSetting("autovacuum_vacuum_scale_factor", "float8")} * greatest(c.reltuples, 0) AS vacuum_at,
         ${tableSetting("autovacuum_analyze_threshold", "float8")}
           + ${tableSetting("autovacuum_analyze_scale_factor", "float8")} * greatest(c.reltuples, 0) AS analyze_at,
         -- whether autovacuum will come for it on its own (globally on, and not switched off for it)
         current_setting('autovacuum')::bool
           AND coalesce((SELECT split_part(o, '=', 2) FROM unnest(c.reloptions) o WHERE o LIKE 'autovacuum_enabled=%' LIMIT 1)::bool, true)
           AS autovacuum_on
  FROM pg_catalog.pg_stat_user_tables s JOIN pg_catalog.pg_class c ON c.oid = s.relid
)
SELECT json_build_object(
  'sequences', (SELECT json_build_object('count', count(*), 'hidden', count(*) FILTER (WHERE NOT visible),
      'worst', (SELECT json_build_object('name', w.name, 'percent', w.percent, 'limit', w.limit_value, 'columnBound', w.column_bound)
                FROM seqp w WHERE w.percent IS NOT NULL ORDER BY w.percent DESC LIMIT 1))
    FROM seqp),
  'tables', (SELECT count(*) FROM tab),
  'deadTuples', (
    SELECT json_build_object('name', name, 'percent', round(100.0 * dead / (live + dead), 2), 'dead', dead)
    FROM tab WHERE live + dead >= ${deadTupleMinimumRows} ORDER BY dead::float8 / (live + dead) DESC LIMIT 1),
  'vacuum', (
    SELECT json_build_object('name', name, 'seconds', extract(epoch FROM now() - coalesce(vacuumed, since.at)),
             'never', vacuumed IS NULL, 'since', CASE WHEN vacuumed IS NULL THEN since.what END)
    FROM tab, since WHERE dead > vacuum_at AND (vacuumed IS NOT NULL OR NOT autovacuum_on)
    ORDER BY coalesce(vacuumed, since.at), vacuumed NULLS FIRST LIMIT 1),
  'neverVacuumed', (SELECT count(*) FROM tab WHERE dead > vacuum_at AND vacuumed IS NULL),
  'analyze', (
    SELECT json_build_object('name', name, 'seconds', extract(epoch FROM now() - coalesce(analyzed, since.at)),
             'never', analyzed IS NULL, 'since', CASE WHEN analyzed IS NULL THEN since.what END)
    FROM tab, since WHERE mods > analyze_at AND (analyzed IS NOT NULL OR NOT autovacuum_on)
    ORDER BY coalesce(analyzed, since.at), analyzed NULLS FIRST LIMIT 1),
  'neverAnalyzed', (SELECT count(*) FROM tab WHERE mods > analyze_at AND analyzed IS NULL),
  'xid', (
    SELECT json_build_object('name', n.nspname || '.' || c.relname,
             'percent', round(100.0 * age(c.relfrozenxid) / current_setting('autovacuum_freeze_max_age')::numeric, 4))
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'm', 't') ORDER BY age(c.relfrozenxid) DESC LIMIT 1),
  'sizeBytes', pg_database_size(current_database())
) AS expensive`)

/** A stable statement name for a text (a prepared statement per text, per connection). */
export const statementName = (text: string): string => {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return `pg_resilience_health_${hash.toString(16)}_${text.length}`
}
