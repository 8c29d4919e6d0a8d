-- jobrunner schema v2: an acknowledged submission whose Idempotency-Key turned out (when the relay applied
-- it, e.g. after Postgres was down) to name an existing job with the same body keeps its own id as an
-- alias of that job, so the id the client was given still answers GET, cancel and logs.
CREATE TABLE job_aliases (
  id         text PRIMARY KEY,
  job_id     text NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL
);
CREATE INDEX job_aliases_job_idx ON job_aliases (job_id);
