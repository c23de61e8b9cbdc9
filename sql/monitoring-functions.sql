-- For hosts where pg_monitor cannot be granted to the application role (e.g. Supabase): a
-- SECURITY DEFINER function that shows every session's state to that role, and nothing else (no
-- query text, no row data). The health check uses it automatically when it is present.
--
-- Run as a role that can read all of pg_stat_activity (a superuser, or a member of
-- pg_read_all_stats such as Supabase's `postgres`), in the application's database:
--   psql "$ADMIN_DATABASE_URL" -v role=app_user -f sql/monitoring-functions.sql
-- or: npx pg-resilience setup --role app_user --security-definer
CREATE SCHEMA IF NOT EXISTS resilience_monitor;

CREATE OR REPLACE FUNCTION resilience_monitor.stat_activity()
RETURNS TABLE (
  pid integer,
  datname name,
  state text,
  backend_type text,
  xact_start timestamptz,
  state_change timestamptz,
  query_start timestamptz,
  wait_event_type text,
  application_name text,
  query_id bigint
)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT s.pid, s.datname, s.state, s.backend_type, s.xact_start, s.state_change, s.query_start,
         s.wait_event_type, s.application_name, (to_jsonb(s) ->> 'query_id')::bigint
  FROM pg_catalog.pg_stat_activity s
$$;

REVOKE ALL ON FUNCTION resilience_monitor.stat_activity() FROM PUBLIC;
GRANT USAGE ON SCHEMA resilience_monitor TO :"role";
GRANT EXECUTE ON FUNCTION resilience_monitor.stat_activity() TO :"role";

-- Sequences close to exhaustion: reading a sequence's position needs SELECT (or USAGE) on it, which
-- pg_monitor does not give (it reveals no row data). Per database and per schema: repeat the line for
-- each schema that holds the application's sequences.
GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO :"role";
