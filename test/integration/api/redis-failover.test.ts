import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import {
  startPrivateRedis,
  startPrivateRedisReplica,
  startPrivateSentinel,
  waitFor,
  type PrivateService,
} from '@jr/testing';
import { http, startTestApi, type TestApi } from './harness';

// A real Redis Sentinel failover under load, through REDIS_URL=redis+sentinel://…: the replica is frozen
// while jobs are queued (so it misses their BullMQ writes), the master is killed, the sentinel promotes
// the replica, which still holds the data-loss sentinel key. Only the run_id check can tell that writes
// were lost: every queued job must end up in BullMQ on the new master.
jest.setTimeout(180_000);

const POOL = 'nobody-serves-this';
const job = (i: number): unknown => ({ name: `redis-fo-${i}`, pool: POOL, steps: [{ run: ['true'] }] });

async function queuedIn(redis: PrivateService, prefix: string): Promise<Set<string>> {
  const connection = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  const queue = new Queue(`pool-${POOL}`, { connection, prefix });
  try {
    const jobs = await queue.getJobs(['waiting', 'delayed', 'prioritized', 'active']);
    return new Set(jobs.map((j) => (j.data as { jobId: string }).jobId));
  } finally {
    await queue.close();
    connection.disconnect();
  }
}

function metric(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return Number(line?.split(' ')[1] ?? 0);
}

async function replication(redis: PrivateService): Promise<string> {
  const c = new Redis(redis.url, { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await c.connect();
    return await c.info('replication');
  } catch {
    return 'role:down';
  } finally {
    c.disconnect();
  }
}

const role = async (redis: PrivateService): Promise<string> => /^role:(\w+)/m.exec(await replication(redis))?.[1] ?? '';

describe('Redis Sentinel failover', () => {
  let base: string;
  const services: PrivateService[] = [];
  let master: PrivateService;
  let replica: PrivateService;
  let t: TestApi;

  beforeAll(async () => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'jr-redisfo-'));
    master = await startPrivateRedis(base);
    replica = await startPrivateRedisReplica(base, master);
    services.push(master, replica);
    await waitFor(async () => /master_link_status:up/.test(await replication(replica)), {
      what: 'the replica to sync',
    });
    const sentinel = await startPrivateSentinel(base, master, 'jrm');
    services.push(sentinel);
    t = await startTestApi({ REDIS_URL: `redis+sentinel://127.0.0.1:${sentinel.port}/jrm` });
  });

  afterAll(async () => {
    await t?.cleanup().catch(() => undefined);
    for (const s of services) {
      s.freeze(false);
      await s.stop().catch(() => undefined);
    }
    fs.rmSync(base, { recursive: true, force: true });
  });

  it('re-queues from Postgres what the promoted replica never got, and keeps accepting throughout', async () => {
    const accepted: string[] = [];
    const submit = async (i: number): Promise<void> => {
      const r = await http(t, 'POST', '/v1/jobs', { body: job(i) });
      if (r.status === 202) accepted.push(r.json.id as string);
      else expect(r.status).toBe(503);
    };
    for (let i = 0; i < 10; i++) await submit(i);
    await waitFor(async () => (await queuedIn(master, t.prefix)).size === 10, { what: '10 jobs in BullMQ' });

    // the replica stops hearing the master: these jobs' BullMQ writes reach the master only
    replica.freeze(true);
    for (let i = 10; i < 30; i++) await submit(i);
    await waitFor(async () => (await queuedIn(master, t.prefix)).size === 30, { what: '30 jobs on the master' });
    await master.kill();
    replica.freeze(false);
    await waitFor(async () => (await role(replica)) === 'master', {
      what: 'the sentinel to promote the replica',
      timeoutMs: 60_000,
    });
    for (let i = 30; i < 40; i++) await submit(i);

    await waitFor(
      async () => {
        const present = await queuedIn(replica, t.prefix);
        return accepted.every((id) => present.has(id));
      },
      { what: `all ${accepted.length} queued jobs in BullMQ on the new master`, timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(accepted.length).toBeGreaterThanOrEqual(39);
    const m = (await http(t, 'GET', '/metrics')).text;
    expect(metric(m, 'jr_reconciliations_total', '{trigger="redis_failover"}')).toBeGreaterThanOrEqual(1);
  });
});
