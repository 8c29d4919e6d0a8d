import { isIP } from 'node:net';

/** The default JR_API_GRPC: one API on loopback. */
export const DEFAULT_API_ENDPOINT = '127.0.0.1:50051';

/** Most endpoints one agent takes (a list longer than this is a mistake, not a deployment). */
export const MAX_ENDPOINTS = 16;

const HOSTNAME_RE =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?$/;
/** gRPC name-resolver targets taken as they are (one entry each): `dns:///host:port`, `unix:/path`, … */
const SCHEME_TARGET_RE = /^(?:dns|unix|ipv4|ipv6|unix-abstract):\S+$/;

export type EndpointListResult = { ok: true; endpoints: string[] } | { ok: false; message: string };

/**
 * JR_API_GRPC: a comma-separated list of endpoints, primary first, each `host:port`, `[v6]:port` or a
 * gRPC target with a scheme (`dns:///host:port`). Unset or empty: the default. Every entry is checked;
 * the message names the first bad one and says why.
 */
export function parseEndpointList(raw: string | undefined): EndpointListResult {
  if (raw === undefined || raw.trim() === '') return { ok: true, endpoints: [DEFAULT_API_ENDPOINT] };
  const entries = raw.split(',').map((e) => e.trim());
  if (entries.length > MAX_ENDPOINTS)
    return { ok: false, message: `lists ${entries.length} endpoints, at most ${MAX_ENDPOINTS}` };
  const seen = new Set<string>();
  for (const [i, entry] of entries.entries()) {
    const problem = entryProblem(entry);
    if (problem) return { ok: false, message: `entry ${i + 1} ${JSON.stringify(entry.slice(0, 200))}: ${problem}` };
    const key = entry.toLowerCase();
    if (seen.has(key)) return { ok: false, message: `entry ${i + 1} ${JSON.stringify(entry)}: listed twice` };
    seen.add(key);
  }
  return { ok: true, endpoints: entries };
}

/** Why one entry is not an endpoint, or undefined when it is one. */
function entryProblem(entry: string): string | undefined {
  if (entry === '') return 'is empty (a stray comma?)';
  if (SCHEME_TARGET_RE.test(entry)) return undefined;
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d+)$/.exec(entry);
  if (!m) {
    if (isIP(entry) === 6 || (entry.match(/:/g)?.length ?? 0) > 1)
      return 'an IPv6 address goes in brackets: [addr]:port';
    return 'must be host:port, [ipv6]:port or a gRPC target such as dns:///host:port';
  }
  const port = Number(m[3]);
  if (!(port >= 1 && port <= 65_535)) return `port ${m[3]} is not between 1 and 65535`;
  if (m[1] !== undefined) return isIP(m[1]) === 6 ? undefined : `[${m[1]}] is not an IPv6 address`;
  const host = m[2] ?? '';
  if (isIP(host) === 4) return undefined;
  if (/^[\d.]+$/.test(host)) return `${host} is not an IPv4 address`;
  if (HOSTNAME_RE.test(host)) return undefined;
  return `${JSON.stringify(host)} is not a host name or IPv4 address`;
}
