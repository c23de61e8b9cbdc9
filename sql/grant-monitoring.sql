-- Gives a restricted application role what the health check needs to see every figure.
--
-- Run as a superuser (or a role with ADMIN on pg_monitor), in the application's database (the role grant
-- is cluster-wide, the sequence grant per database):
--   psql "$ADMIN_DATABASE_URL" -v role=app_user -f sql/grant-monitoring.sql
-- or: npx pg-resilience setup --role app_user
--
-- pg_monitor includes pg_read_all_stats (every session's state, transaction start and lock waits in
-- pg_stat_activity, instead of NULLs) and pg_read_all_settings. It grants no access to data.
GRANT pg_monitor TO :"role";

-- Server-wide statement times. The extension must also be in shared_preload_libraries (restart);
-- without it the check falls back to the application's own statement times.
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;

-- Sequences close to exhaustion: reading a sequence's position needs SELECT (or USAGE) on it, which
-- pg_monitor does not give (it reveals no row data). Per database and per schema: repeat the line for
-- each schema that holds the application's sequences.
GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO :"role";
