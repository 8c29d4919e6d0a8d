/* eslint-disable @typescript-eslint/no-unsafe-return -- HTTP answers' JSON bodies are untyped in these tests */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Redis from 'ioredis';
import { Queue } from 'bullmq';
import { startPrivateRedis, waitFor, type PrivateService } from '@jr/testing';
import { AgentClient, http, startTestApi, type TestApi } from './harness';

// Redis keeps nothing on disk here. A private instance (this test's own, so it may be flushed and
// killed): the API notices the loss within seconds and re-enqueues every queued job from Postgres.
let base: string;
let redis: PrivateService;
let t: TestApi;
const clients: AgentClient[] = [];

beforeAll(async () => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'jr-reconcile-'));
  redis = await startPrivateRedis(base);
  t = await startTestApi({ REDIS_URL: redis.url });
});

afterAll(async () => {
  for (const c of clients) c.close();
  await t?.cleanup();
  await redis?.stop();
  fs.rmSync(base, { recursive: true, force: true });
});

async function agent(pool: string, labels: Record<string, string>, name: string): Promise<AgentClient> {
  const c = new AgentClient(t.grpcAddress);
  clients.push(c);
  await c.enroll({ pool, labels, name, slots: 64 }); // leaseAll holds every job it gets at once
  return c;
}

async function submit(pool: string, headers: Record<string, string> = {}): Promise<string> {
  const r = await http(t, 'POST', '/v1/jobs', {
    body: { pool, labels: { os: 'linux' }, steps: [{ run: 'true' }] },
    headers,
  });
  expect([200, 202]).toContain(r.status);
  return r.json.id;
}

async function reconciliations(): Promise<number> {
  const text = (await http(t, 'GET', '/metrics')).text;
  return Number(/^jr_reconciliations_total\{trigger="redis_lost"\} (\d+)$/m.exec(text)?.[1] ?? NaN);
}

async function inBullmq(pool: string, ids: string[]): Promise<boolean> {
  const queue = new Queue(`pool-${pool}`, { connection: { url: redis.url }, prefix: t.prefix });
  try {
    for (const id of ids) if (!(await queue.getJob(`${id}-r1`))) return false;
    return true;
  } finally {
    await queue.close();
  }
}

/** Leases until an empty answer; returns the job ids handed out. */
async function leaseAll(c: AgentClient): Promise<string[]> {
  const got: string[] = [];
  for (;;) {
    const res = await c.call<{ assignments: Array<{ jobId: string }> }>(
      'Lease',
      { freeSlots: 1, waitMs: 1_500 },
      { deadlineMs: 10_000 },
    );
    const a = res.assignments[0];
    if (!a) return got;
    got.push(a.jobId);
  }
}

async function flushall(): Promise<void> {
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  try {
    await client.flushall();
  } finally {
    client.disconnect();
  }
}

it('after FLUSHALL notices within seconds and re-enqueues every queued job once, while parked copies do not double-lease', async () => {
  // a non-matching agent starts the pool's worker, which then holds the jobs parked
  const mac = await agent('rc', { os: 'mac' }, 'mac-host');
  const parkedLease = leaseAll(mac);
  const ids = [await submit('rc'), await submit('rc'), await submit('rc')];
  await waitFor(() => inBullmq('rc', ids), { what: 'the jobs in BullMQ' });
  const before = await reconciliations();
  await flushall();
  expect(await inBullmq('rc', ids)).toBe(false);
  await waitFor(async () => (await reconciliations()) === before + 1, {
    timeoutMs: 8_000,
    what: 'the reconciliation after FLUSHALL',
  });
  await waitFor(() => inBullmq('rc', ids), { what: 'the jobs back in BullMQ' });
  expect(await parkedLease).toEqual([]);
  const linux = await agent('rc', { os: 'linux' }, 'linux-host');
  expect((await leaseAll(linux)).sort()).toEqual([...ids].sort());
});

it('Redis killed and restarted empty: intake keeps answering 202, and every acknowledged job can be leased after', async () => {
  const linux = await agent('rk', { os: 'linux' }, 'rk-host');
  const before = await reconciliations();
  const ids = [await submit('rk'), await submit('rk')];
  await waitFor(() => inBullmq('rk', ids), { what: 'the jobs in BullMQ' });
  await redis.kill();
  ids.push(await submit('rk'), await submit('rk')); // Redis down: still durable, still 202
  const ready = await http(t, 'GET', '/readyz', { token: null });
  expect(ready).toMatchObject({ status: 200, json: { degraded: ['redis'] } });
  await redis.start();
  await waitFor(async () => (await reconciliations()) > before, {
    timeoutMs: 10_000,
    what: 'the reconciliation after the restart',
  });
  expect((await leaseAll(linux)).sort()).toEqual([...ids].sort());
});

it('idempotency keys survive Redis loss and an API restart (they live in the journal and Postgres)', async () => {
  const key = { 'idempotency-key': 'survives-redis-loss' };
  const id = await submit('idem', key);
  await flushall();
  expect(await submit('idem', key)).toBe(id);
  await t.restart();
  expect(await submit('idem', key)).toBe(id);
  const other = await http(t, 'POST', '/v1/jobs', { body: { pool: 'idem', steps: [{ run: 'false' }] }, headers: key });
  expect(other.status).toBe(409);
});
