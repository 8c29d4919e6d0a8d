-- jobrunner schema v13: several jr-api replicas share one database; the singleton duties (the lease reaper's
-- expiry and mark-lost, the enqueue sweep, the queue reconciler, the fleet gauges) run on one elected leader.
-- The leader holds a session-level advisory lock on a dedicated connection; on acquiring it, it increments the
-- duty's epoch here. The reaper's writes carry that epoch (`... AND epoch = $n`): a deposed leader's late write
-- finds another epoch and changes nothing. renewed_at is the leader's last renewal (for operators' views).
CREATE TABLE leadership (
  duty        text PRIMARY KEY,
  epoch       bigint NOT NULL,
  holder      text NOT NULL,
  since       timestamptz NOT NULL,
  renewed_at  timestamptz NOT NULL
);

-- The replica (JR_REPLICA_ID) whose heartbeat was stored last for each agent: a restarted replica extends
-- (start-up amnesty) only the leases of agents that were talking to it, not every replica's. Not indexed, so
-- a heartbeat stays a HOT update (004).
ALTER TABLE agents ADD COLUMN last_replica text;
