import { isIPv6 } from 'node:net';

/**
 * The key an address is limited by: IPv4 as is (IPv4-mapped IPv6 folded back), IPv6 by its /64, since
 * one host commonly holds a whole /64 and could otherwise rotate through fresh addresses. Forwarded
 * headers are not trusted: behind a proxy, the proxy's address is the client.
 */
export function addressKey(remote: string | undefined): string {
  if (!remote) return 'unknown';
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(remote);
  if (mapped) return mapped[1] as string;
  if (!isIPv6(remote)) return remote;
  const [head = '', tail] = remote.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups =
    tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/** grpc-js peers read `ipv4:1.2.3.4:5678`, `ipv6:[::1]:5678` or `1.2.3.4:5678`. */
export function grpcPeerAddress(peer: string): string {
  const p = peer.replace(/^ipv[46]:/, '');
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(p);
  if (v6) return addressKey(v6[1]);
  return addressKey(p.replace(/:\d+$/, ''));
}
