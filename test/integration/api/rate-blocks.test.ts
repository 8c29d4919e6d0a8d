import Redis from 'ioredis';
import { deleteRedisPrefix, testRedisUrl, uniquePrefix, waitFor } from '@jr/testing';
import { RateLimitRepository } from '../../../apps/api/src/limits/rate-limit.repository';

// Request limits are counted in blocks taken from Redis. Three "replicas" (three repositories on one
// Redis prefix, as three jr-api processes share it) spend one key's budget at once.
describe('rate limits counted in blocks, across replicas', () => {
  const prefix = uniquePrefix('rlb');
  let storeErrors = 0;
  const repos = Array.from(
    { length: 3 },
    () => new RateLimitRepository({ kind: 'url', url: testRedisUrl() }, prefix, () => (storeErrors += 1)),
  );
  beforeAll(async () => {
    // each repository's connection is up (until then the counters fall back to memory)
    await waitFor(
      async () => {
        const before = storeErrors;
        await Promise.all(repos.map((r) => r.counter('warmup', { points: 1e6, windowMs: 60_000 }).consume('w')));
        return storeErrors === before;
      },
      { what: 'the limits connections to Redis' },
    );
    storeErrors = 0;
  });
  afterAll(async () => {
    repos.forEach((r) => r.close());
    await deleteRedisPrefix(testRedisUrl(), prefix);
  });

  it('never admits more than the limit between them, refuses at most a block per replica early, and asks Redis once per block', async () => {
    const rate = { points: 1_000, windowMs: 3_600_000 }; // blocks of 10
    const counters = repos.map((r) => r.counter('agent', rate, true));
    // 1,500 calls, 50 at a time on each replica in turn, many of them for the key at once
    const verdicts: boolean[] = [];
    for (let round = 0; round < 10; round++)
      for (const c of counters)
        verdicts.push(...(await Promise.all(Array.from({ length: 50 }, async () => (await c.consume('one')).allowed))));
    const allowed = verdicts.filter(Boolean).length;
    expect(allowed).toBeLessThanOrEqual(1_000);
    expect(allowed).toBeGreaterThanOrEqual(1_000 - 3 * 9);
    // the shared counter moved in blocks: far fewer script calls than requests
    const redis = new Redis(testRedisUrl());
    try {
      const stored = Number(await redis.get(`${prefix}:rl:agent:one`));
      expect(stored % 10).toBe(0);
      expect(stored).toBeGreaterThanOrEqual(1_000);
      // 15 calls on one replica took two blocks: the shared counter says 20
      for (let i = 0; i < 15; i++) expect((await counters[0]!.consume('three')).allowed).toBe(true);
      expect(Number(await redis.get(`${prefix}:rl:agent:three`))).toBe(20);
    } finally {
      redis.disconnect();
    }
    expect(storeErrors).toBe(0);
    // once refused, still refused on every replica
    for (const c of counters) expect((await c.consume('one')).allowed).toBe(false);
    // another key has its own budget
    expect((await counters[0]!.consume('two')).allowed).toBe(true);
  });

  it('counts small limits exactly, one call at a time', async () => {
    const counters = repos.map((r) => r.counter('enroll', { points: 5, windowMs: 3_600_000 }, true));
    const allowed = [];
    for (let i = 0; i < 9; i++) allowed.push((await counters[i % 3]!.consume('addr')).allowed);
    expect(allowed).toEqual([true, true, true, true, true, false, false, false, false]);
  });
});
