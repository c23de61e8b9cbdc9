/**
 * The SQL of the health probe, and turning its answers into a `HealthSnapshot`.
 *
 * One round trip reads everything the server can tell about sessions, locks, counters and settings
 * (columns that differ between PostgreSQL 13 and 18 are read through `to_jsonb` or
 * `current_setting(..., true)`, so one text serves every version); `pg_stat_statements` is a second
 * one when it is installed, and a cheap `SELECT 1` measures the round trip itself.
 *
 * @internal
 */
import type Pg from "pg"

/**
 * Marks our own statements, so that they can be left out of pg_stat_statements averages. It goes
 * after the first keyword: pg_stat_statements drops a leading comment, but keeps inner ones.
 */
export const probeMarker = "/* pg-resilience health probe */"

const marked = (text: string) => text.replace(/^(\s*\w+)/, `$1 ${probeMarker}`)

/**
 * The round-trip probe. Its shape is ours alone: pg_stat_statements files statements by shape,
 * keeping the first text it saw, so a bare `SELECT 1` would share the application's entry and
 * never carry our marker.
 */
export const latencyQuery = marked("SELECT 1 FROM pg_catalog.pg_class WHERE false")

/**
 * Where session rows come from: `pg_stat_activity`, or the SECURITY DEFINER function of
 * sql/monitoring-functions.sql when it is installed (it shows every session to a role without
 * pg_monitor, without the query texts).
 */
export const activityFunction = "resilience_monitor.stat_activity()"

/** Whether the SECURITY DEFINER activity function is installed and callable by this role. */
export const activityFunctionQuery = marked(`SELECT to_regprocedure('${activityFunction}') IS NOT NULL
   AND has_function_privilege(to_regprocedure('${activityFunction}'), 'EXECUTE') AS usable,
   current_setting('server_version_num')::int AS version_num`)

/**
 * The snapshot. `query_id` exists from PostgreSQL 14 on (and in the activity function); reading it
 * directly costs far less than going through `to_jsonb` of every row.
 */
export const snapshotQuery = (useActivityFunction: boolean, versionNum: number) =>
  marked(`WITH a AS (
  SELECT s.pid, s.datname, s.state, s.backend_type, s.xact_start, s.state_change, s.query_start,
         s.wait_event_type, s.application_name,
         ${useActivityFunction || versionNum >= 140000 ? "s.query_id::text" : "NULL::text"} AS query_id
  FROM ${useActivityFunction ? activityFunction : "pg_stat_activity"} s
  WHERE s.pid <> pg_backend_pid()
),
sessions AS (
  -- client backends, and rows whose type this role may not see
  SELECT * FROM a WHERE backend_type = 'client backend' OR backend_type IS NULL
),
db AS (SELECT * FROM sessions WHERE datname = current_database())
SELECT json_build_object(
  'versionNum', current_setting('server_version_num')::int,
  'version', current_setting('server_version'),
  'database', current_database(),
  'role', current_user,
  'inRecovery', pg_is_in_recovery(),
  'maxConnections', current_setting('max_connections')::int,
  'superuserReserved', current_setting('superuser_reserved_connections')::int,
  'reserved', coalesce(nullif(current_setting('reserved_connections', true), '')::int, 0),
  'clientBackends', (SELECT count(*) FROM sessions) + 1,
  'hiddenServer', (SELECT count(*) FROM sessions WHERE backend_type IS NULL),
  'active', (SELECT count(*) FROM db WHERE state = 'active'),
  'idle', (SELECT count(*) FROM db WHERE state = 'idle'),
  'hidden', (SELECT count(*) FROM db WHERE state IS NULL),
  'idleInTransaction', (SELECT count(*) FROM db WHERE state LIKE 'idle in transaction%'),
  'oldestIdleInTransaction', (
    SELECT json_build_object('pid', pid, 'seconds', extract(epoch FROM now() - state_change),
                             'application', application_name)
    FROM db WHERE state LIKE 'idle in transaction%' ORDER BY state_change LIMIT 1),
  'longestTransaction', (
    SELECT json_build_object('pid', pid, 'seconds', extract(epoch FROM now() - xact_start),
                             'queryId', query_id, 'state', state, 'application', application_name)
    FROM db WHERE xact_start IS NOT NULL ORDER BY xact_start LIMIT 1),
  'blocked', (
    SELECT coalesce(json_agg(json_build_object(
             'pid', pid, 'blockedBy', pg_blocking_pids(pid),
             'seconds', extract(epoch FROM now() - coalesce(query_start, state_change)),
             'queryId', query_id) ORDER BY query_start), '[]'::json)
    FROM db WHERE wait_event_type = 'Lock'),
  'stats', (
    SELECT json_build_object('hit', blks_hit, 'read', blks_read, 'deadlocks', deadlocks,
                             'reset', stats_reset)
    FROM pg_stat_database WHERE datname = current_database()),
  'wraparound', (
    SELECT json_build_object('database', datname,
             'percent', round(100.0 * age(datfrozenxid) / current_setting('autovacuum_freeze_max_age')::numeric, 2))
    FROM pg_database ORDER BY age(datfrozenxid) DESC LIMIT 1),
  'replicas', (SELECT count(*) FROM pg_stat_replication),
  'replicaLagSeconds', (SELECT extract(epoch FROM max(replay_lag)) FROM pg_stat_replication),
  'standbyLagSeconds', CASE WHEN pg_is_in_recovery()
    THEN CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
         ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END END,
  'settings', json_build_object(
    'shared_buffers', current_setting('shared_buffers'),
    'idle_in_transaction_session_timeout', current_setting('idle_in_transaction_session_timeout'),
    'deadlock_timeout', current_setting('deadlock_timeout'),
    'autovacuum', current_setting('autovacuum')),
  'pgStatStatementsSchema', (
    SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_stat_statements')
) AS snapshot`)

/** A SQL identifier, quoted. */
export const quoteIdent = (name: string) => `"${name.replace(/"/g, "\"\"")}"`

/** Totals of pg_stat_statements for this database (top-level statements on PG14+), ours excluded. */
export const statementTotalsQuery = (schema: string, versionNum: number) =>
  marked(`SELECT coalesce(sum(calls), 0)::float8 AS calls, coalesce(sum(total_exec_time), 0)::float8 AS total_ms
FROM ${quoteIdent(schema)}.pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  ${versionNum >= 140000 ? "AND toplevel" : ""}
  AND query NOT LIKE '%pg-resilience health probe%'`)

/** The statement with the highest mean time: what to look at when queries are slow. */
export const topStatementQuery = (schema: string) =>
  marked(`SELECT queryid::text AS query_id, calls::float8 AS calls, mean_exec_time::float8 AS mean_ms
FROM ${quoteIdent(schema)}.pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND query NOT LIKE '%pg-resilience health probe%' AND calls > 0
ORDER BY mean_exec_time DESC LIMIT 1`)

/** The table read most from disk: what to look at when the cache hit ratio falls. */
export const topReadTableQuery = marked(`SELECT schemaname || '.' || relname AS name, heap_blks_read::float8 AS blocks_read
FROM pg_statio_user_tables ORDER BY heap_blks_read DESC NULLS LAST LIMIT 1`)

/** What one snapshot query answers (JSON numbers arrive as numbers, bigints as numbers too). */
export interface RawSnapshot {
  readonly versionNum: number
  readonly version: string
  readonly database: string
  readonly role: string
  readonly inRecovery: boolean
  readonly maxConnections: number
  readonly superuserReserved: number
  readonly reserved: number
  readonly clientBackends: number
  readonly hiddenServer: number
  readonly active: number
  readonly idle: number
  readonly hidden: number
  readonly idleInTransaction: number
  readonly oldestIdleInTransaction: { pid: number; seconds: number; application: string | null } | null
  readonly longestTransaction:
    | { pid: number; seconds: number; queryId: string | null; state: string | null; application: string | null }
    | null
  readonly blocked: ReadonlyArray<{ pid: number; blockedBy: ReadonlyArray<number>; seconds: number; queryId: string | null }>
  readonly stats: { hit: number; read: number; deadlocks: number; reset: string | null } | null
  readonly wraparound: { database: string; percent: number } | null
  readonly replicas: number
  readonly replicaLagSeconds: number | null
  readonly standbyLagSeconds: number | null
  readonly settings: Readonly<Record<string, string>>
  readonly pgStatStatementsSchema: string | null
}

/** Runs one query on the probe client (promise-based: the caller bounds it with a timeout). */
export const query = async <Row>(client: Pg.Client, text: string): Promise<ReadonlyArray<Row>> =>
  (await client.query(text)).rows as ReadonlyArray<Row>
