-- jobrunner schema v16: service levels. Incidents the API records itself (a dependency down, intake
-- refusing, an agent's reporting breaker open, an objective's canaries failing), per-minute counts of
-- refused valid submissions (the bad events of "submissions accepted"; accepted ones are the jobs
-- themselves), and one row per canary job with the times of its way through the system, kept after the
-- canary job itself is pruned.
CREATE TABLE incidents (
  id         uuid PRIMARY KEY,
  cause      text NOT NULL CHECK (cause IN ('dependency_down','intake_refusing','sli_violated','replica_lost','breaker_open')),
  -- postgres, redis, a replica id, an agent id, an objective's name
  scope      text NOT NULL,
  -- the replica that saw it; the leader's for fleet-wide causes
  replica    text NOT NULL,
  started_at timestamptz NOT NULL,
  ended_at   timestamptz,
  detail     text NOT NULL DEFAULT '',
  CHECK (ended_at IS NULL OR ended_at >= started_at)
);
CREATE INDEX incidents_window_idx ON incidents (started_at);
CREATE INDEX incidents_open_idx ON incidents (replica) WHERE ended_at IS NULL;

CREATE TABLE intake_refusals (
  minute  timestamptz NOT NULL,
  replica text NOT NULL,
  reason  text NOT NULL,
  n       int NOT NULL CHECK (n >= 0),
  PRIMARY KEY (minute, replica, reason)
);

ALTER TABLE jobs ADD COLUMN canary boolean GENERATED ALWAYS AS (coalesce(spec->'canary' = 'true'::jsonb, false)) STORED;
CREATE INDEX jobs_canary_idx ON jobs (created_at) WHERE canary;

CREATE TABLE canary_runs (
  job_id      text PRIMARY KEY,
  pool        text NOT NULL,
  accepted_at timestamptz NOT NULL,
  leased_at   timestamptz,
  started_at  timestamptz,
  reported_at timestamptz,
  -- null while it runs; succeeded, failed, timed_out, cancelled, lost (not reported in time), refused
  outcome     text
);
CREATE INDEX canary_runs_window_idx ON canary_runs (accepted_at);
-- the leader's pass settles the open ones only
CREATE INDEX canary_runs_open_idx ON canary_runs (accepted_at) WHERE outcome IS NULL;
