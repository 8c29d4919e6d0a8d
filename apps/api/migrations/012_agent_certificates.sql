-- jobrunner schema v12: agents are machines with identities (mutual TLS on gRPC).
-- Every client certificate the agent CA issued: the API refuses a certificate whose serial is not here,
-- is revoked (`jr agents revoke`, `jr agents rm`) or has passed not_after. Rows are kept after expiry
-- (they count renewals and answer "which certificate was that").
CREATE TABLE agent_certificates (
  serial      text PRIMARY KEY,
  agent_id    text NOT NULL,
  issued_at   timestamptz NOT NULL,
  not_after   timestamptz NOT NULL,
  revoked_at  timestamptz
);
CREATE INDEX agent_certificates_agent_idx ON agent_certificates (agent_id, issued_at);

-- cert_key_sha256: sha256 of the SubjectPublicKeyInfo of the agent's key pair, pinned at its first
-- certificate. Renewal and re-enrolment must ask for a certificate for this key (a CSR signed by it):
-- the enroll token and a copied credential alone cannot move the agent to another machine's key.
ALTER TABLE agents ADD COLUMN cert_key_sha256 text;
