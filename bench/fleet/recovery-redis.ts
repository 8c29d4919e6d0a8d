import { Queue } from 'bullmq';
import Redis from 'ioredis';
import type { PrivateService, Stack } from '@jr/testing';
import { submitMany } from './recovery-client';
import { delay, epochMs } from './stats';

/** The pool no agent serves: its BullMQ queue only fills, nothing takes jobs out. */
const IDLE_POOL = 'unserved';
const RAW_BATCH = 500;

export interface RedisLoss {
  jobs: number;
  submitPerSecond: number;
  /** Redis back (empty) -> the first job is back in the pool's queue (the sentinel check notices). */
  firstSeconds: number;
  /** Redis back (empty) -> every queued job is back in the pool's queue. */
  allSeconds: number;
  /** Jobs re-added per second between the first poll that saw some and the one that saw all. */
  reEnqueuePerSecond: number;
  /** The reference: raw BullMQ addBulk (batches of 500) of as many jobs into a queue of its own, same Redis. */
  rawAddBulkPerSecond: number;
}

function waitingCounter(
  redisUrl: string,
  prefix: string,
  name: string,
): { count(): Promise<number>; close(): Promise<void> } {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  connection.on('error', () => undefined);
  const queue = new Queue(name, { connection, prefix });
  queue.on('error', () => undefined);
  return {
    count: () => queue.getWaitingCount(),
    close: async () => {
      await queue.close().catch(() => undefined);
      connection.disconnect();
    },
  };
}

/** The reference rate: `count` jobs shaped like the API's, added with addBulk by 500, then the queue removed. */
async function rawAddBulkRate(redisUrl: string, prefix: string, count: number): Promise<number> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue('raw-reference', { connection, prefix: `${prefix}-raw` });
  try {
    const started = performance.now();
    for (let i = 0; i < count; i += RAW_BATCH) {
      const n = Math.min(RAW_BATCH, count - i);
      await queue.addBulk(
        Array.from({ length: n }, (_, k) => ({
          name: 'job',
          data: { jobId: `raw-${i + k}`, pool: 'raw', labels: {} },
          opts: { jobId: `raw-${i + k}-r1` },
        })),
      );
    }
    const rate = count / ((performance.now() - started) / 1_000);
    await queue.obliterate({ force: true });
    return rate;
  } finally {
    await queue.close().catch(() => undefined);
    connection.disconnect();
  }
}

/**
 * (c) `count` jobs queued (through the real API) in a pool no agent serves, then the private Redis
 * SIGKILLed and started again empty: how long until BullMQ holds every one of them again.
 */
export async function measureRedisLoss(
  stack: Stack,
  redis: PrivateService,
  count: number,
  log: (line: string) => void,
): Promise<RedisLoss> {
  const { ids, perSecond } = await submitMany(stack, IDLE_POOL, count, 256);
  log(`${ids.length} jobs submitted at ${Math.round(perSecond)}/s; waiting for BullMQ to hold them`);
  const before = waitingCounter(redis.url, stack.prefix, `pool-${IDLE_POOL}`);
  try {
    await waitForCount(before.count, count, 300_000);
  } finally {
    await before.close();
  }
  const rawAddBulkPerSecond = await rawAddBulkRate(redis.url, stack.prefix, count);
  await redis.kill();
  await redis.start(); // same port, nothing on disk: empty
  const backAt = epochMs();
  log('Redis restarted empty; counting the re-enqueued jobs');
  const after = waitingCounter(redis.url, stack.prefix, `pool-${IDLE_POOL}`);
  try {
    const first = await waitForCount(after.count, 1, 120_000);
    const all = await waitForCount(after.count, count, 600_000);
    return {
      jobs: count,
      submitPerSecond: perSecond,
      firstSeconds: (first.at - backAt) / 1_000,
      allSeconds: (all.at - backAt) / 1_000,
      // from the first poll that saw jobs back to the one that saw them all (the first batch is not in it);
      // when one poll saw them all at once (a small --quick queue fits in one page), over the whole wait
      reEnqueuePerSecond:
        all.count > first.count
          ? (all.count - first.count) / Math.max(0.001, (all.at - first.at) / 1_000)
          : count / Math.max(0.001, (all.at - backAt) / 1_000),
      rawAddBulkPerSecond,
    };
  } finally {
    await after.close();
  }
}

/** Polls every 50 ms until `count()` reaches `target`; the epoch ms at which it did, and the count then. */
async function waitForCount(
  count: () => Promise<number>,
  target: number,
  timeoutMs: number,
): Promise<{ at: number; count: number }> {
  const deadline = performance.now() + timeoutMs;
  let last = -1;
  while (performance.now() < deadline) {
    last = await count().catch(() => -1);
    if (last >= target) return { at: epochMs(), count: last };
    await delay(50);
  }
  throw new Error(`the queue held ${last} of ${target} jobs after ${timeoutMs / 1_000} s`);
}
