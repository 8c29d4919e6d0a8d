-- jobrunner schema v8: scoped, expiring API tokens (`jr tokens create`). A token is shown once as
-- `jrt_<id>_<secret>`; only SHA-256(secret) is kept (the secret is 256 random bits: a fast hash is
-- enough, nothing to brute-force). Revoked tokens stay (revoked_at) so the audit log's actors keep
-- their names. last_used_* are written at most once a minute per token and address.
CREATE TABLE IF NOT EXISTS api_tokens (
  id text PRIMARY KEY,
  name text NOT NULL,
  secret_sha256 text NOT NULL,
  scopes text[] NOT NULL,
  pool text,
  created_at timestamptz NOT NULL,
  created_by text NOT NULL,
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  last_used_at timestamptz,
  last_used_address text
);
