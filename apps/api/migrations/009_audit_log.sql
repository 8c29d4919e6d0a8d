-- jobrunner schema v9: the audit log of every mutating call (submit, cancel, drain, undrain, agent
-- removal, reporting re-enable, token changes; refusals of them too). Append-only: nothing updates or
-- deletes rows. `seq` orders it (newest first in GET /v1/audit) and is the page cursor. Submissions
-- are written by the intake relay in the statement that creates the job row, so an acknowledged job
-- is never without its audit row.
CREATE TABLE IF NOT EXISTS audit_log (
  seq bigserial PRIMARY KEY,
  at timestamptz NOT NULL,
  actor text NOT NULL,
  actor_name text,
  action text NOT NULL,
  target text,
  address text,
  outcome text NOT NULL,
  detail jsonb
);
CREATE INDEX IF NOT EXISTS audit_log_action_idx ON audit_log (action, seq DESC);
CREATE INDEX IF NOT EXISTS audit_log_actor_idx ON audit_log (actor, seq DESC);
CREATE INDEX IF NOT EXISTS audit_log_target_idx ON audit_log (target, seq DESC);
CREATE INDEX IF NOT EXISTS audit_log_at_idx ON audit_log (at);
