/**
 * The environment the agent passes on to job steps: its own, minus its secrets. A job must never
 * read the enroll token (or any JR_* credential the agent was started with) from its environment.
 */
const AGENT_SECRET_RE = /^JR_\w*(TOKEN|SECRET|CREDENTIAL|PASSWORD|PASSWD|KEY)\w*$/i;

export function isAgentSecret(name: string): boolean {
  return AGENT_SECRET_RE.test(name);
}

export function childEnvFrom(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !isAgentSecret(k)) out[k] = v;
  return out;
}
