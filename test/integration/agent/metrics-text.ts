import { spawnSync } from 'node:child_process';
import { ensurePrometheusTools, fetchTrusting } from '@jr/testing';

/**
 * GET a /metrics (the agent's, or jr-api's with a metrics:read `token`, trusting `ca` for https); throws unless
 * it answers 200 with the Prometheus text format.
 */
export async function scrape(url: string, auth: { token?: string; ca?: string } = {}): Promise<string> {
  const res = await fetchTrusting(url, {
    ...(auth.ca !== undefined ? { ca: auth.ca } : {}),
    ...(auth.token !== undefined ? { headers: { authorization: `Bearer ${auth.token}` } } : {}),
  });
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
  const type = res.headers.get('content-type') ?? '';
  if (!type.startsWith('text/plain; version=0.0.4')) throw new Error(`${url} answered content-type ${type}`);
  return res.text();
}

/**
 * The value of the sample `name` whose labels include `labels` (Prometheus text format); undefined
 * when there is none.
 */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

/** `promtool check metrics` on an exposition: its exit code and what it said. */
export function promtoolCheck(text: string): { code: number; out: string } {
  const { promtool } = ensurePrometheusTools();
  const r = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { code: r.status ?? 1, out: `${r.stdout}${r.stderr}` };
}
