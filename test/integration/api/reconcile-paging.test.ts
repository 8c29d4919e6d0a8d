import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Redis from 'ioredis';
import { Queue } from 'bullmq';
import { Client } from 'pg';
import { startPrivateRedis, waitFor, type PrivateService } from '@jr/testing';
import { http, startTestApi, type TestApi } from './harness';

// More queued jobs than one page of the re-enqueue sweep, in two pools no agent serves (they stay waiting).
const POOLS = { pa: 2_600, pb: 1_700 };
let base: string;
let redis: PrivateService;
let t: TestApi;

beforeAll(async () => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'jr-reconcile-paging-'));
  redis = await startPrivateRedis(base);
  t = await startTestApi({ REDIS_URL: redis.url });
});

afterAll(async () => {
  await t?.cleanup();
  await redis?.stop();
  fs.rmSync(base, { recursive: true, force: true });
});

async function submitMany(pool: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  let left = n;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (left > 0) {
        left--;
        const r = await http(t, 'POST', '/v1/jobs', { body: { pool, steps: [{ run: 'true' }] } });
        expect(r.status).toBe(202);
        ids.push((r.json as { id: string }).id);
      }
    }),
  );
  return ids;
}

/** The BullMQ job ids waiting in the pool's queue. */
async function waiting(pool: string): Promise<string[]> {
  const queue = new Queue(`pool-${pool}`, { connection: { url: redis.url }, prefix: t.prefix });
  try {
    return (await queue.getWaiting(0, -1)).map((j) => j.id ?? '');
  } finally {
    await queue.close();
  }
}

async function allWaiting(expected: Record<string, string[]>): Promise<boolean> {
  for (const [pool, ids] of Object.entries(expected)) if ((await waiting(pool)).length !== ids.length) return false;
  return true;
}

it('after Redis lost its data, re-enqueues every queued job of every pool exactly once, across pages', async () => {
  const expected: Record<string, string[]> = {};
  for (const [pool, n] of Object.entries(POOLS)) expected[pool] = await submitMany(pool, n);
  await waitFor(() => allWaiting(expected), { timeoutMs: 60_000, what: 'every job in BullMQ' });
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  await client.flushall().finally(() => client.disconnect());
  await waitFor(async () => (await waiting('pa')).length > 0, { timeoutMs: 30_000, what: 'the re-enqueue to start' });
  await waitFor(() => allWaiting(expected), { timeoutMs: 60_000, what: 'every job back in BullMQ' });
  for (const [pool, ids] of Object.entries(expected)) {
    expect((await waiting(pool)).sort()).toEqual(ids.map((id) => `${id}-r1`).sort());
  }
  const pg = new Client({ connectionString: t.db.url });
  await pg.connect();
  try {
    const res = await pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE enqueue_pending`);
    expect(res.rows[0]?.n).toBe(0);
  } finally {
    await pg.end();
  }
}, 240_000);
