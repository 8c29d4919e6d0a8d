-- jobrunner schema v11: operator enroll tokens and agent revocation.
-- An enroll token (`jr tokens create-enroll`) fixes the pool and labels of the agents that enroll with it
-- (their own declaration may only narrow the labels), admits at most `uses` agents and ends at `expires_at`
-- or when revoked. Only sha256 of the token is stored; it is shown once.
CREATE TABLE enroll_tokens (
  id          text PRIMARY KEY,
  name        text NOT NULL DEFAULT '',
  token_hash  text NOT NULL UNIQUE,
  pool        text NOT NULL,
  labels      jsonb NOT NULL DEFAULT '{}'::jsonb,
  uses        int NOT NULL CHECK (uses >= 1),
  used        int NOT NULL DEFAULT 0 CHECK (used >= 0 AND used <= uses),
  created_at  timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL,
  revoked_at  timestamptz
);

-- revoked_at: `jr agents revoke` ended every credential of the agent; it stays refused (and its name taken)
-- until an operator removes it. enroll_token_id: the operator token it enrolled with (null: JR_ENROLL_TOKEN).
ALTER TABLE agents
  ADD COLUMN revoked_at timestamptz,
  ADD COLUMN enroll_token_id text;
-- Enroll looks an agent up by name (a name is one agent's: taking it over needs that agent's credential).
CREATE INDEX agents_name_idx ON agents (name);
