import { BlockList, isIP, isIPv4 } from 'node:net';
import type { AllowedCidr } from '../config/isolation-config';

/** What artifact downloads may reach (JR_ARTIFACT_ALLOW_HTTP, JR_ARTIFACT_ALLOW_CIDRS). */
export interface ArtifactUrlPolicy {
  allowHttp: boolean;
  allowCidrs: readonly AllowedCidr[];
}

export const STRICT_URL_POLICY: ArtifactUrlPolicy = { allowHttp: false, allowCidrs: [] };

/** A URL or address the policy refuses; never retried. */
export class UrlRefusedError extends Error {
  override readonly name = 'UrlRefusedError';
}

/** Ranges a job's download must not reach by default: the machine itself, its networks, the cloud's metadata. */
const V4_RANGES: Array<[string, number, string]> = [
  ['0.0.0.0', 8, 'an unspecified ("this network") address'],
  ['10.0.0.0', 8, 'a private address'],
  ['100.64.0.0', 10, 'a CGNAT (shared address space) address'],
  ['127.0.0.0', 8, 'a loopback address'],
  ['169.254.0.0', 16, 'a link-local address (cloud metadata lives here)'],
  ['172.16.0.0', 12, 'a private address'],
  ['192.0.0.0', 24, 'an IETF protocol address'],
  ['192.168.0.0', 16, 'a private address'],
  ['198.18.0.0', 15, 'a benchmarking address'],
  ['224.0.0.0', 4, 'a multicast address'],
  ['240.0.0.0', 4, 'a reserved address'],
];
const V6_RANGES: Array<[string, number, string]> = [
  ['::', 128, 'an unspecified address'],
  ['::1', 128, 'a loopback address'],
  ['fe80::', 10, 'a link-local address'],
  ['fc00::', 7, 'a unique local (private) address'],
  ['ff00::', 8, 'a multicast address'],
  ['::', 96, 'an IPv4-compatible address'],
];

function blockList(ranges: Array<[string, number, string]>, family: 'ipv4' | 'ipv6'): Array<[BlockList, string]> {
  return ranges.map(([net, prefix, why]) => {
    const list = new BlockList();
    list.addSubnet(net, prefix, family);
    return [list, why];
  });
}
const V4_BLOCKS = blockList(V4_RANGES, 'ipv4');
const V6_BLOCKS = blockList(V6_RANGES, 'ipv6');

/** The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::/96) or 6to4 (2002::/16) one. */
function embeddedV4(v6: string): string | undefined {
  const groups = expandV6(v6);
  if (!groups) return undefined;
  const v4 = (hi: number, lo: number): string => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  const zeros = (from: number, to: number): boolean => groups.slice(from, to).every((g) => g === 0);
  if (zeros(0, 5) && groups[5] === 0xffff) return v4(groups[6] as number, groups[7] as number);
  if (groups[0] === 0x64 && groups[1] === 0xff9b && zeros(2, 6)) return v4(groups[6] as number, groups[7] as number);
  if (groups[0] === 0x2002) return v4(groups[1] as number, groups[2] as number);
  return undefined;
}

/** Eight 16-bit groups of an IPv6 address (dotted tail included), or undefined. */
function expandV6(v6: string): number[] | undefined {
  let text = v6.toLowerCase().split('%')[0] as string;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = (dotted[1] as string).split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? (text.split('::') as [string, string]) : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : new Array<string>(8 - h.length - t.length).fill('0');
  const all = [...h, ...fill, ...t].map((g) => parseInt(g, 16));
  return all.length === 8 && all.every((g) => g >= 0 && g <= 0xffff) ? all : undefined;
}

function allowedBy(address: string, cidrs: readonly AllowedCidr[]): boolean {
  if (cidrs.length === 0) return false;
  const list = new BlockList();
  for (const c of cidrs) list.addSubnet(c.address, c.prefix, c.family);
  return list.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
}

/** Why `address` is refused (undefined: it may be reached). */
export function refusedAddress(address: string, policy: ArtifactUrlPolicy): string | undefined {
  const family = isIP(address);
  if (family === 0) return `${address} is not an IP address`;
  if (allowedBy(address, policy.allowCidrs)) return undefined;
  if (family === 4) {
    const hit = V4_BLOCKS.find(([list]) => list.check(address, 'ipv4'));
    return hit ? `${address} is ${hit[1]}` : undefined;
  }
  const inner = embeddedV4(address);
  if (inner !== undefined) {
    const why = refusedAddress(inner, policy);
    return why === undefined ? undefined : `${address} embeds ${why}`;
  }
  const hit = V6_BLOCKS.find(([list]) => list.check(address, 'ipv6'));
  return hit ? `${address} is ${hit[1]}` : undefined;
}

const HINT = 'allow an internal mirror with JR_ARTIFACT_ALLOW_CIDRS';

/** Refuses what is wrong with a URL before any connection: scheme, credentials, a literal address. */
export function checkArtifactUrl(raw: string, policy: ArtifactUrlPolicy): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UrlRefusedError(`${JSON.stringify(raw.slice(0, 200))} is not a URL`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.allowHttp))
    throw new UrlRefusedError(
      url.protocol === 'http:'
        ? `refused ${url.href}: plain http (artifacts are https; JR_ARTIFACT_ALLOW_HTTP=1 allows http)`
        : `refused ${url.href}: the scheme ${url.protocol} is not https`,
    );
  if (url.username || url.password) throw new UrlRefusedError(`refused ${url.origin}: credentials in the URL`);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (isIP(host) !== 0) {
    const why = refusedAddress(host, policy);
    if (why !== undefined) throw new UrlRefusedError(`refused ${url.href}: ${why} (${HINT})`);
  }
  return url;
}

/** The error a name resolving to a refused address gets. */
export function refusedName(host: string, why: string): UrlRefusedError {
  return new UrlRefusedError(`refused ${host}: it resolves to ${why.replace(/ is /, ', ')} (${HINT})`);
}
