import { secretMatches, type AgentCredential } from '../auth/tokens';

/**
 * What an enroll token lets an agent become. The bootstrap JR_ENROLL_TOKEN lets it declare any pool
 * and labels (within the pool cap); an operator token fixes the pool and the labels it may carry.
 */
export type EnrollGrant =
  { kind: 'bootstrap' } | { kind: 'operator'; tokenId: string; pool: string; labels: Record<string, string> };

/** The refusal for a declaration the grant does not allow, or undefined when it is allowed. */
export function declarationRefusal(
  grant: EnrollGrant,
  pool: string,
  labels: Record<string, string>,
): string | undefined {
  if (grant.kind === 'bootstrap') return undefined;
  if (pool !== grant.pool)
    return `enroll token ${grant.tokenId} is for pool ${JSON.stringify(grant.pool)}, not ${JSON.stringify(pool)}`;
  const widened = Object.entries(labels).filter(([k, v]) => !Object.hasOwn(grant.labels, k) || grant.labels[k] !== v);
  if (widened.length === 0) return undefined;
  const shown = widened.map(([k, v]) => `${k}=${v}`).join(', ');
  return `enroll token ${grant.tokenId} allows only the labels ${formatLabels(grant.labels)} (or fewer); refused: ${shown}`;
}

/** The agent an enrolment claims: the one of `previous_agent_id`, else the one holding its name. */
export interface ClaimedAgent {
  id: string;
  name: string;
  credential_hash: string;
  revoked_at: Date | null;
}

/**
 * Re-enrolling an existing agent (by id or by name) needs proof of possession of its current
 * credential: the enroll token alone takes over nobody. A revoked agent stays refused until removed.
 */
export function takeoverRefusal(agent: ClaimedAgent, proof: AgentCredential | undefined): string | undefined {
  if (agent.revoked_at)
    return `agent ${agent.id} was revoked by an operator: it cannot enroll again until an operator removes it (jr agents rm ${agent.id})`;
  if (proof && proof.agentId === agent.id && secretMatches(proof.secret, agent.credential_hash)) return undefined;
  return (
    `agent ${agent.id} (${JSON.stringify(agent.name)}) is enrolled: re-enrolling it needs its current credential ` +
    `(previous_credential); to replace it, an operator removes it first (jr agents rm ${agent.id})`
  );
}

/**
 * Over TLS, an agent whose certificates are for a key (pinned at its first one) re-enrolls only with a
 * CSR for that key: its signature proves the caller holds the agent's private key, which never leaves
 * its machine. `key`: the key of the CSR sent (undefined: none sent).
 */
export function keyRefusal(
  agent: { id: string; cert_key_sha256: string | null },
  key: string | undefined,
): string | undefined {
  if (agent.cert_key_sha256 === null || key === agent.cert_key_sha256) return undefined;
  return (
    `agent ${agent.id} has certificates for another key: re-enrolling it needs a CSR signed by its own key ` +
    `(csr_pem); to move it to a new key, an operator removes it first (jr agents rm ${agent.id})`
  );
}

function formatLabels(labels: Record<string, string>): string {
  const entries = Object.entries(labels);
  return entries.length === 0 ? '(none)' : entries.map(([k, v]) => `${k}=${v}`).join(', ');
}
