-- jobrunner schema v1. Applied once, in a transaction, under an advisory lock (src/database/migrator.ts).
CREATE TABLE jobs (
  id               text PRIMARY KEY,
  name             text NOT NULL,
  state            text NOT NULL CHECK (state IN ('queued','leased','running','succeeded','failed','cancelled','timed_out')),
  reason           text,
  pool             text NOT NULL,
  labels           jsonb NOT NULL DEFAULT '{}'::jsonb,
  spec             jsonb NOT NULL,
  idempotency_key  text UNIQUE,
  request_hash     text NOT NULL,
  retries          int NOT NULL DEFAULT 0,
  rounds           int NOT NULL DEFAULT 1,
  failed_attempts  int NOT NULL DEFAULT 0,
  lost_attempts    int NOT NULL DEFAULT 0,
  cancel_requested boolean NOT NULL DEFAULT false,
  -- true from the moment the job (re)enters `queued` until its BullMQ job for `rounds` is added
  enqueue_pending  boolean NOT NULL DEFAULT true,
  exit_code        int,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  ended_at         timestamptz
);
-- job ids sort by creation time, so "newest first" pages walk the primary key backwards
CREATE INDEX jobs_state_id_idx ON jobs (state, id DESC);
CREATE INDEX jobs_pool_id_idx ON jobs (pool, id DESC);
CREATE INDEX jobs_enqueue_pending_idx ON jobs (updated_at) WHERE enqueue_pending;

CREATE TABLE agents (
  id                         text PRIMARY KEY,
  name                       text NOT NULL,
  pool                       text NOT NULL,
  labels                     jsonb NOT NULL DEFAULT '{}'::jsonb,
  version                    text NOT NULL DEFAULT '',
  credential_hash            text NOT NULL,
  slots                      int NOT NULL,
  state                      text NOT NULL CHECK (state IN ('active','draining','lost')),
  drain_requested            boolean NOT NULL DEFAULT false,
  reporting_enable_requested boolean NOT NULL DEFAULT false,
  running                    int NOT NULL DEFAULT 0,
  breaker_state              text NOT NULL DEFAULT 'closed',
  outbox_depth               bigint NOT NULL DEFAULT 0,
  outbox_oldest_age_ms       bigint NOT NULL DEFAULT 0,
  last_heartbeat_at          timestamptz,
  enrolled_at                timestamptz NOT NULL
);
CREATE INDEX agents_heartbeat_idx ON agents (last_heartbeat_at) WHERE state <> 'lost';

CREATE TABLE attempts (
  job_id           text NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  n                int NOT NULL,
  agent_id         text NOT NULL,
  lease_token      text NOT NULL,
  state            text NOT NULL CHECK (state IN ('leased','running','succeeded','failed','cancelled','timed_out','lost','superseded')),
  exit_code        int,
  reason           text,
  leased_at        timestamptz NOT NULL,
  started_at       timestamptz,
  ended_at         timestamptz,
  lease_expires_at timestamptz NOT NULL,
  last_seq         bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (job_id, n)
);
CREATE INDEX attempts_live_expiry_idx ON attempts (lease_expires_at) WHERE state IN ('leased','running');
CREATE INDEX attempts_live_agent_idx ON attempts (agent_id) WHERE state IN ('leased','running');

-- Everything an agent reports for an attempt (log chunks, step starts/ends), deduplicated on seq.
CREATE TABLE attempt_events (
  job_id  text NOT NULL,
  attempt int NOT NULL,
  seq     bigint NOT NULL,
  kind    text NOT NULL CHECK (kind IN ('log','step_started','step_finished')),
  step    int NOT NULL DEFAULT 0,
  stream  text,
  data    bytea,
  detail  jsonb,
  at      timestamptz NOT NULL,
  PRIMARY KEY (job_id, attempt, seq),
  FOREIGN KEY (job_id, attempt) REFERENCES attempts(job_id, n) ON DELETE CASCADE
);
