import * as grpc from '@grpc/grpc-js';
import { deleteRedisPrefix, testRedisUrl, uniquePrefix, waitFor } from '@jr/testing';
import { AgentClient, ENROLL, grpcCode, http, httpFrom, startTestApi, type HttpResult, type TestApi } from './harness';

// Two API replicas share one Postgres database and one Redis prefix, as real replicas do: a limit
// counted on one holds on the other. Windows are an hour long so none rolls over mid-test.
const started: TestApi[] = [];
const prefixes: string[] = [];

async function replicas(env: Record<string, string>): Promise<[TestApi, TestApi]> {
  const prefix = uniquePrefix('rl');
  prefixes.push(prefix);
  const a = await startTestApi({ JR_QUEUE_PREFIX: prefix, ...env });
  started.push(a);
  const b = await startTestApi({ JR_QUEUE_PREFIX: prefix, DATABASE_URL: a.db.url, ...env });
  started.push(b);
  return [a, b];
}

const OFF = {
  JR_RATE_LIMIT_TOKEN: 'off',
  JR_RATE_LIMIT_ADDRESS: 'off',
  JR_RATE_LIMIT_AGENT: 'off',
  JR_RATE_LIMIT_ENROLL: 'off',
  JR_AUTH_FAILURE_LIMIT: 'off',
};

afterAll(async () => {
  for (const t of started.reverse()) await t.cleanup().catch(() => undefined);
  for (const p of prefixes) await deleteRedisPrefix(testRedisUrl(), p).catch(() => undefined);
});

function metric(text: string, name: string, labels = ''): number {
  const re = new RegExp(`^${name}${labels.replace(/[{}]/g, '\\$&')} (\\d+)$`, 'm');
  return Number(re.exec(text)?.[1] ?? 0);
}

function expectRateLimited(r: HttpResult, limit: string): void {
  expect(r.status).toBe(429);
  expect(r.headers.get('content-type')).toBe('application/problem+json');
  expect(r.json).toMatchObject({ type: expect.stringMatching(/rate-limited$/), status: 429, title: 'Rate limited' });
  expect(r.json.detail).toContain(limit);
  expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
}

describe('REST rate limit per token, across two replicas', () => {
  it('answers 429 with Retry-After and RateLimit fields once the token spent its quota on either replica', async () => {
    const [a, b] = await replicas({ ...OFF, JR_RATE_LIMIT_TOKEN: '5/1h' });
    const seen: Array<string | null> = [];
    for (const t of [a, a, a, b, b]) {
      const r = await http(t, 'GET', '/v1/agents');
      expect(r.status).toBe(200);
      expect(r.headers.get('ratelimit-policy')).toBe('"token";q=5;w=3600');
      seen.push(r.headers.get('ratelimit'));
    }
    // the remaining count goes down across both replicas: one budget
    expect(seen.map((h) => /r=(\d+)/.exec(h ?? '')?.[1])).toEqual(['4', '3', '2', '1', '0']);
    for (const t of [a, b]) {
      const r = await http(t, 'GET', '/v1/agents');
      expectRateLimited(r, 'token');
      expect(Number(r.headers.get('retry-after'))).toBeLessThanOrEqual(3600);
      expect(r.headers.get('ratelimit')).toMatch(/^"token";r=0;t=\d+$/);
    }
    // a POST refused this way is refused before its body is read, and lands nowhere
    const post = await http(a, 'POST', '/v1/jobs', { body: { steps: [{ run: 'true' }] } });
    expect(post.status).toBe(429);
    // another token is not affected (it is refused for being wrong, not for this budget)
    expect((await http(b, 'GET', '/v1/agents', { token: 'some-other-token' })).status).toBe(401);
  });
});

describe('REST rate limit per address, across two replicas', () => {
  it('refuses one address past its quota while another address is still served', async () => {
    const [a, b] = await replicas({ ...OFF, JR_RATE_LIMIT_ADDRESS: '4/1h' });
    for (const t of [a, b, a, b]) expect((await httpFrom(t, '127.0.0.2', 'GET', '/v1/agents')).status).toBe(200);
    const refused = await httpFrom(b, '127.0.0.2', 'GET', '/v1/agents');
    expectRateLimited(refused, 'address');
    expect(refused.headers.get('ratelimit-policy')).toBe('"address";q=4;w=3600');
    // unauthenticated requests count too: the address is limited before anything else runs
    expect((await httpFrom(a, '127.0.0.2', 'GET', '/v1/agents', { token: null })).status).toBe(429);
    const other = await httpFrom(a, '127.0.0.3', 'GET', '/v1/agents');
    expect(other.status).toBe(200);
    expect(other.headers.get('ratelimit')).toBe('"address";r=3;t=3600');
    // probes are never limited
    expect((await httpFrom(a, '127.0.0.2', 'GET', '/healthz')).status).toBe(200);
    const m = (await httpFrom(a, '127.0.0.4', 'GET', '/metrics')).text;
    expect(metric(m, 'jr_rate_limited_total', '{limit="address"}')).toBeGreaterThanOrEqual(1);
  });
});

describe('lockout after failed authentication', () => {
  it('locks out an address after N failures, with growing back-off; a correct token from another address still works', async () => {
    const [a, b] = await replicas({
      ...OFF,
      JR_AUTH_FAILURE_LIMIT: '3/1h',
      JR_AUTH_LOCKOUT: '2s',
      JR_AUTH_LOCKOUT_MAX: '1h',
    });
    const lockouts = async (): Promise<number> =>
      metric((await httpFrom(a, '127.0.0.9', 'GET', '/metrics')).text, 'jr_auth_lockouts_total') +
      metric((await httpFrom(b, '127.0.0.9', 'GET', '/metrics')).text, 'jr_auth_lockouts_total');
    for (const t of [a, b, a, b])
      expect((await httpFrom(t, '127.0.0.5', 'GET', '/v1/agents', { token: 'guess' })).status).toBe(401);
    await waitFor(async () => (await lockouts()) === 1, { what: 'the first lockout' });
    // now even the right token from that address is refused, on both replicas
    for (const t of [a, b]) {
      const r = await httpFrom(t, '127.0.0.5', 'GET', '/v1/agents');
      expectRateLimited(r, 'locked out');
      expect(Number(r.headers.get('retry-after'))).toBeLessThanOrEqual(2);
    }
    expect((await httpFrom(a, '127.0.0.6', 'GET', '/v1/agents')).status).toBe(200);
    // once it ends, the next lockout of the same address lasts twice as long
    await waitFor(async () => (await httpFrom(b, '127.0.0.5', 'GET', '/v1/agents')).status === 200, {
      what: 'the first lockout to end',
      timeoutMs: 15_000,
    });
    for (let i = 0; i < 4; i++)
      expect((await httpFrom(a, '127.0.0.5', 'GET', '/v1/agents', { token: `guess-${i}` })).status).toBe(401);
    await waitFor(async () => (await lockouts()) === 2, { what: 'the second lockout' });
    // a saw the failures, so it asks Redis; b had just found the address clear and believes that for up
    // to 1 s (docs/contract.md, Lockout)
    const again = await httpFrom(a, '127.0.0.5', 'GET', '/v1/agents');
    expect(again.status).toBe(429);
    await waitFor(async () => (await httpFrom(b, '127.0.0.5', 'GET', '/v1/agents')).status === 429, {
      what: 'the second lockout on b',
      timeoutMs: 3_000,
    });
    expect(Number(again.headers.get('retry-after'))).toBeGreaterThan(2);
    expect(Number(again.headers.get('retry-after'))).toBeLessThanOrEqual(4);
    expect((await httpFrom(b, '127.0.0.6', 'GET', '/v1/agents')).status).toBe(200);
  });
});

describe('gRPC limits', () => {
  const clients: AgentClient[] = [];
  afterAll(() => clients.forEach((c) => c.close()));

  function pushbackMs(err: unknown): number {
    const md = (err as grpc.ServiceError).metadata;
    return Number(md.get('grpc-retry-pushback-ms')[0]);
  }

  it('per agent: RESOURCE_EXHAUSTED with grpc-retry-pushback-ms past the quota, on either replica; other agents go on', async () => {
    const [a, b] = await replicas({ ...OFF, JR_RATE_LIMIT_AGENT: '3/1h' });
    const one = new AgentClient(a.grpcAddress);
    const two = new AgentClient(b.grpcAddress);
    clients.push(one, two);
    await one.enroll({ name: 'rl-1' });
    await two.enroll({ name: 'rl-2' });
    const beat = (c: AgentClient, cred = c.credential): Promise<unknown> => c.call('Heartbeat', {}, { token: cred });
    await beat(one);
    await beat(one);
    // the same agent (its certificate and credential) on the other replica
    const onB = new AgentClient(b.grpcAddress, {
      identity: { keyPem: (await one.agentKey()).keyPem, certPem: one.certificatePem },
    });
    clients.push(onB);
    await beat(onB, one.credential);
    for (const c of [one, onB]) {
      const err = await beat(c, one.credential).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(grpcCode(err)).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(pushbackMs(err)).toBeGreaterThan(0);
      expect(pushbackMs(err)).toBeLessThanOrEqual(3_600_000);
    }
    await expect(beat(two)).resolves.toBeDefined();
  });

  it('per address for Enroll, and a lockout after failed enrolls that the right token does not lift', async () => {
    const [a] = await replicas({ ...OFF, JR_RATE_LIMIT_ENROLL: '3/1h' });
    const c = new AgentClient(a.grpcAddress);
    clients.push(c);
    for (let i = 0; i < 3; i++) await c.enroll({ name: `enroll-${i}` });
    const err = await c.enroll({ name: 'enroll-3' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(grpcCode(err)).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(pushbackMs(err)).toBeGreaterThan(0);

    const [l] = await replicas({ ...OFF, JR_AUTH_FAILURE_LIMIT: '2/1h', JR_AUTH_LOCKOUT: '1h' });
    const d = new AgentClient(l.grpcAddress);
    clients.push(d);
    const enroll = (token: string): Promise<unknown> =>
      d.call('Enroll', { name: 'x', pool: 'default', slots: 1, labels: {} }, { token }).then(
        () => undefined,
        (e: unknown) => e,
      );
    for (let i = 0; i < 3; i++) expect(grpcCode(await enroll(`wrong-${i}`))).toBe(grpc.status.UNAUTHENTICATED);
    const locked = await waitFor(
      async () => {
        const e = await enroll(ENROLL);
        return grpcCode(e) === grpc.status.RESOURCE_EXHAUSTED ? e : undefined;
      },
      { what: 'the enroll lockout' },
    );
    expect(pushbackMs(locked)).toBeGreaterThan(3_000_000);
  });
});
