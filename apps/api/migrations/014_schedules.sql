-- jobrunner schema v14: schedules. A schedule is a job document and a rule for when it fires (cron or
-- RRULE in a time zone, apps/api/src/schedules/schedule-spec.ts). The leader's scheduler decides each fire
-- time once: it becomes a job, or a missed fire with its reason. schedule_fires' primary key and the jobs'
-- unique (schedule_id, fire_time) make "one job per (schedule, fire time)" a constraint, not a hope: a
-- second replica, a deposed leader or a replay after a crash finds the row taken and makes nothing.
CREATE TABLE schedules (
  id              text PRIMARY KEY,
  name            text NOT NULL,
  -- the parsed document (ScheduleSpec; the job holds its secrets' names only)
  spec            jsonb NOT NULL,
  -- the document as given, hashed: creating the same name with the same document again is a no-op
  request_hash    text NOT NULL,
  -- the job's secrets, sealed to the schedule's id; each fire seals them again to its job's id
  secrets         jsonb,
  paused          boolean NOT NULL DEFAULT false,
  -- every fire time at or before this instant has been decided (a job or a missed fire)
  settled_until   timestamptz NOT NULL,
  -- the last fire time that made a job (manual triggers included)
  last_fire_at    timestamptz,
  -- the next fire time after settled_until (NULL: paused, or the rule has no more)
  next_fire_at    timestamptz,
  -- a fire time waiting for the schedule's running job to end (overlap buffer_one)
  buffered_fire_at timestamptz,
  -- missed fire times counted but not listed in schedule_fires
  missed_omitted  bigint NOT NULL DEFAULT 0,
  created_by      text NOT NULL,
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL,
  deleted_at      timestamptz
);
CREATE UNIQUE INDEX schedules_live_name_idx ON schedules (name) WHERE deleted_at IS NULL;
CREATE INDEX schedules_due_idx ON schedules (next_fire_at) WHERE deleted_at IS NULL AND NOT paused;

-- Each decided fire time: made a job (job_id), was missed (reason downtime or overlap), or waits (buffered).
CREATE TABLE schedule_fires (
  schedule_id text NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
  fire_time   timestamptz NOT NULL,
  outcome     text NOT NULL CHECK (outcome IN ('job', 'missed')),
  reason      text,
  job_id      text,
  manual      boolean NOT NULL DEFAULT false,
  decided_at  timestamptz NOT NULL,
  PRIMARY KEY (schedule_id, fire_time)
);
CREATE INDEX schedule_fires_missed_idx ON schedule_fires (schedule_id, fire_time DESC) WHERE outcome = 'missed';

ALTER TABLE jobs ADD COLUMN schedule_id text, ADD COLUMN fire_time timestamptz;
CREATE UNIQUE INDEX jobs_schedule_fire_idx ON jobs (schedule_id, fire_time) WHERE schedule_id IS NOT NULL;
CREATE INDEX jobs_schedule_id_idx ON jobs (schedule_id, id DESC) WHERE schedule_id IS NOT NULL;
-- what an overlap policy asks at every fire: the schedule's jobs not yet terminal
CREATE INDEX jobs_schedule_active_idx ON jobs (schedule_id) WHERE schedule_id IS NOT NULL AND state IN ('queued', 'leased', 'running');
