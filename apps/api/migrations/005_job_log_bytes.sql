-- The stored output of a job, over all its attempts, counted as it is applied: JR_MAX_LOG_BYTES caps it
-- (results/log-cap.ts). log_truncated: the cap was reached and the marker line stored.
ALTER TABLE jobs
  ADD COLUMN log_bytes bigint NOT NULL DEFAULT 0,
  ADD COLUMN log_truncated boolean NOT NULL DEFAULT false;

-- Jobs that can still receive output start from what they already have.
UPDATE jobs j SET log_bytes = coalesce((SELECT sum(octet_length(e.data)) FROM attempt_events e WHERE e.job_id = j.id AND e.kind = 'log'), 0)
WHERE j.state IN ('queued', 'leased', 'running');
