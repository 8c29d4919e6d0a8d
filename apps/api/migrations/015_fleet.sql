-- jobrunner schema v15: fleet jobs. A fleet job (a job whose spec has `fleet`: targets and rollout) is never
-- queued for an agent itself: the leader's fleet coordinator expands it into one target per agent
-- (job_targets, in the rollout's order) and, as the rollout allows, starts each target's run: a job of its
-- own (parent_id, pinned to the agent by target_agent), with the attempts, leases, fencing, logs and retries
-- of any job. The coordinator's progress lives here, so it survives any process and Redis.
ALTER TABLE jobs
  ADD COLUMN fleet boolean GENERATED ALWAYS AS (spec ? 'fleet') STORED,
  ADD COLUMN parent_id text,
  ADD COLUMN target_agent text;
CREATE INDEX jobs_parent_idx ON jobs (parent_id) WHERE parent_id IS NOT NULL;
-- the coordinator's pass: fleet jobs not yet ended
CREATE INDEX jobs_fleet_live_idx ON jobs (id) WHERE fleet AND state IN ('queued', 'leased', 'running');

CREATE TABLE fleet_rollouts (
  job_id      text PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
  -- failures crossed maxFailures: nothing more starts
  aborted     boolean NOT NULL DEFAULT false,
  expanded_at timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL
);

CREATE TABLE job_targets (
  job_id     text NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  agent_id   text NOT NULL,
  -- the agent's name when the job was expanded (names may change; the id is the target)
  name       text NOT NULL,
  -- the rollout's order
  seq        int NOT NULL,
  state      text NOT NULL CHECK (state IN ('pending','running','succeeded','failed','timed_out','cancelled','undelivered','skipped')),
  batch      int,
  -- when it became due (its batch began, or a rolling slot freed): the delivery deadline counts from here
  due_at     timestamptz,
  -- its run, once started
  run_id     text,
  exit_code  int,
  started_at timestamptz,
  ended_at   timestamptz,
  PRIMARY KEY (job_id, agent_id)
);
CREATE UNIQUE INDEX job_targets_seq_idx ON job_targets (job_id, seq);
CREATE UNIQUE INDEX job_targets_run_idx ON job_targets (run_id) WHERE run_id IS NOT NULL;
