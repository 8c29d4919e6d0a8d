-- jobrunner schema v7: job views (GET /v1/jobs/:id and every page of GET /v1/jobs) derive each step's
-- state from the latest step_started/step_finished event per step of one attempt. Without this index
-- that read walks every event of the attempt, log chunks included (hundreds of thousands for a chatty
-- job); with it, it reads at most two index entries per step, newest try first (DISTINCT ON). Partial:
-- log chunks, nearly all rows of attempt_events, are not in it.
CREATE INDEX IF NOT EXISTS attempt_events_steps_idx ON attempt_events (job_id, attempt, step, kind, seq DESC)
  WHERE kind IN ('step_started', 'step_finished');
