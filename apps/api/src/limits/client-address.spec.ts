import { addressKey, grpcPeerAddress } from './client-address';

describe('addressKey', () => {
  it('keeps IPv4, folds IPv4-mapped IPv6 and keys IPv6 by its /64', () => {
    expect(addressKey('10.1.2.3')).toBe('10.1.2.3');
    expect(addressKey('::ffff:127.0.0.2')).toBe('127.0.0.2');
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey(undefined)).toBe('unknown');
  });

  it('reads grpc-js peer strings', () => {
    expect(grpcPeerAddress('ipv4:127.0.0.1:40000')).toBe('127.0.0.1');
    expect(grpcPeerAddress('127.0.0.3:40000')).toBe('127.0.0.3');
    expect(grpcPeerAddress('ipv6:[2001:db8:1:2::9]:40000')).toBe('2001:db8:1:2::/64');
    expect(grpcPeerAddress('ipv6:[::ffff:127.0.0.1]:40000')).toBe('127.0.0.1');
  });
});
