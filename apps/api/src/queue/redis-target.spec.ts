import { parseRedisUrl } from './redis-target';

describe('parseRedisUrl', () => {
  it('keeps a plain redis:// or rediss:// URL as it is', () => {
    expect(parseRedisUrl('redis://:pw@127.0.0.1:6380/2')).toEqual({ kind: 'url', url: 'redis://:pw@127.0.0.1:6380/2' });
    expect(parseRedisUrl('rediss://cache.example:6380')).toEqual({ kind: 'url', url: 'rediss://cache.example:6380' });
  });

  it('reads sentinels, master name, db and passwords from redis+sentinel://', () => {
    expect(
      parseRedisUrl('redis+sentinel://:s%40cret@10.0.0.1,10.0.0.2:26380,[::1]:26381/jobs/3?sentinelPassword=x'),
    ).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: '10.0.0.2', port: 26380 },
        { host: '::1', port: 26381 },
      ],
      name: 'jobs',
      db: 3,
      password: 's@cret',
      sentinelPassword: 'x',
    });
  });

  it('refuses other schemes, a missing master name and bad ports', () => {
    expect(() => parseRedisUrl('http://h')).toThrow('redis+sentinel://');
    expect(() => parseRedisUrl('redis+sentinel://h:26379')).toThrow('master-name');
    expect(() => parseRedisUrl('redis+sentinel://h:99999/m')).toThrow('"h:99999" is not a valid host');
  });
});
