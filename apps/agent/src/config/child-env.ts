/**
 * The part of the agent's environment job steps start from: an allow-list, never the rest. The agent's
 * environment holds its enroll token, proxy credentials, cloud keys … of whoever started it; a step
 * gets PATH, the locale and the time zone (plus HOME, USER, LOGNAME and TMPDIR, set per attempt for
 * the job user, see step-env.ts), and whatever the operator adds with JR_JOB_ENV_ALLOW.
 */
export const DEFAULT_ENV_ALLOW = ['PATH', 'LANG', 'LANGUAGE', 'LC_*', 'TZ'] as const;

/** A name (`HTTP_PROXY`) or a prefix (`LC_*`); JR_* never passes (the agent's own settings and secrets). */
const ALLOW_ENTRY_RE = /^(?:[A-Za-z_][A-Za-z0-9_]*\*?|\*)$/;

export type EnvAllowResult = { ok: true; allow: string[] } | { ok: false; message: string };

/** JR_JOB_ENV_ALLOW: comma-separated names or `PREFIX*`, added to the defaults. */
export function parseEnvAllow(raw: string | undefined): EnvAllowResult {
  const extra = (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const entry of extra) {
    if (!ALLOW_ENTRY_RE.test(entry))
      return {
        ok: false,
        message: `entries must be variable names or PREFIX* (got ${JSON.stringify(entry.slice(0, 64))})`,
      };
    if (entry === '*')
      return { ok: false, message: 'a bare * would pass the whole environment: list names or prefixes' };
    if (/^JR_/i.test(entry) || (entry.endsWith('*') && 'JR_'.startsWith(entry.slice(0, -1).toUpperCase())))
      return {
        ok: false,
        message: `cannot pass the agent's own JR_* variables to jobs (got ${JSON.stringify(entry)})`,
      };
  }
  return { ok: true, allow: [...DEFAULT_ENV_ALLOW, ...extra] };
}

function allowed(name: string, allow: readonly string[]): boolean {
  if (/^JR_/i.test(name)) return false;
  return allow.some((a) => (a.endsWith('*') ? name.startsWith(a.slice(0, -1)) : name === a));
}

export function childEnvFrom(
  env: NodeJS.ProcessEnv,
  allow: readonly string[] = DEFAULT_ENV_ALLOW,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && allowed(k, allow)) out[k] = v;
  return out;
}
