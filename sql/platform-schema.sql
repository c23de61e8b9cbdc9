-- The seed platform's tables (Training Data Generation): generation batches, the conversations they
-- produce, and the turns of each conversation, with the constraints that keep the data honest.
--
-- Idempotent: every object is created only if it is missing, so running the file twice is harmless.
-- Unqualified names: the tables go into the first schema of the session's search_path (the demo
-- points it at a scratch schema it drops at the end). gen_random_uuid() is built in since PG 13.

CREATE TABLE IF NOT EXISTS generation_batches (
  id                uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  name              text        NOT NULL CHECK (btrim(name) <> ''),
  status            text        NOT NULL DEFAULT 'queued'
                                CHECK (status IN ('queued', 'running', 'paused', 'completed', 'failed', 'cancelled')),
  -- Incremented by every status update: the number of updates that committed.
  version           integer     NOT NULL DEFAULT 0 CHECK (version >= 0),
  tokens_used       bigint      NOT NULL DEFAULT 0 CHECK (tokens_used >= 0),
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS conversations (
  id                uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  batch_id          uuid        REFERENCES generation_batches (id) ON DELETE RESTRICT,
  user_id           text        NOT NULL,
  title             text        NOT NULL CHECK (btrim(title) <> ''),
  status            text        NOT NULL DEFAULT 'active'
                                CHECK (status IN ('active', 'completed', 'archived', 'failed')),
  -- Mirrors the batch's status; written in the same transaction as the batch (seed, Example 2).
  batch_status      text        CHECK (batch_status IN ('queued', 'running', 'paused', 'completed', 'failed', 'cancelled')),
  tokens_used       bigint      NOT NULL DEFAULT 0 CHECK (tokens_used >= 0),
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS conversations_batch_id_idx ON conversations (batch_id);

CREATE TABLE IF NOT EXISTS conversation_turns (
  id                bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  conversation_id   uuid        NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  turn_index        integer     NOT NULL CHECK (turn_index >= 0),
  role              text        NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
  content           text        NOT NULL CHECK (content <> ''),
  token_count       integer     CHECK (token_count >= 0),
  created_at        timestamptz NOT NULL DEFAULT now(),
  UNIQUE (conversation_id, turn_index)
);

-- Audit trail of what changed a batch: one row per committed status update or token-usage report.
-- request_id is the caller's idempotency key; attempt is the transaction attempt that committed it
-- (1 unless the transaction was retried after a deadlock or a serialization failure).
CREATE TABLE IF NOT EXISTS batch_events (
  id                bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  batch_id          uuid        NOT NULL REFERENCES generation_batches (id) ON DELETE CASCADE,
  conversation_id   uuid        REFERENCES conversations (id) ON DELETE CASCADE,
  request_id        text        NOT NULL UNIQUE,
  kind              text        NOT NULL CHECK (kind IN ('status', 'tokens')),
  status            text        CHECK (status IN ('queued', 'running', 'paused', 'completed', 'failed', 'cancelled')),
  tokens            integer     CHECK (tokens > 0),
  attempt           integer     NOT NULL DEFAULT 1 CHECK (attempt >= 1),
  created_at        timestamptz NOT NULL DEFAULT now(),
  CHECK ((kind = 'status') = (status IS NOT NULL) AND (kind = 'tokens') = (tokens IS NOT NULL AND conversation_id IS NOT NULL))
);

CREATE INDEX IF NOT EXISTS batch_events_batch_id_idx ON batch_events (batch_id);
