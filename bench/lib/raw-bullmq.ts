/**
 * The references: plain BullMQ on the same Redis, doing the part of the work BullMQ can do (add; a
 * Worker that spawns the same command), with no journal, no Postgres and no gRPC in the way.
 */
import { spawn } from 'node:child_process';
import { Queue, Worker } from 'bullmq';
import { closedLoop, nowMs, OpenLoop, forEachConcurrent } from './load';

/** Runs `cmd args`, resolves with its stdout; rejects on a non-zero exit. */
export function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}`))));
  });
}

/** `date +%s%N` printed by the job's own process: the epoch ms at which the process ran. */
export function parseDateNs(text: string): number {
  const m = /(\d{16,})/.exec(text);
  if (!m?.[1]) throw new Error(`no nanosecond timestamp in job output: ${JSON.stringify(text.slice(0, 200))}`);
  return Number(BigInt(m[1]) / 1_000n) / 1_000;
}

const connection = (redisUrl: string) => ({ url: redisUrl, maxRetriesPerRequest: null });

/** Raw `Queue.add` at a closed-loop concurrency for `seconds`. */
export async function rawAdd(
  redisUrl: string,
  prefix: string,
  concurrency: number,
  seconds: number,
): Promise<{ ops: number; elapsedS: number }> {
  const queue = new Queue('bench-raw-add', { connection: connection(redisUrl), prefix });
  try {
    await queue.waitUntilReady();
    let n = 0;
    return await closedLoop(concurrency, seconds, async () => {
      const id = `raw-${n++}`;
      await queue.add('job', { jobId: id, pool: 'default', labels: {} }, { jobId: id });
    });
  } finally {
    await queue.close();
  }
}

export interface RawDispatchOptions {
  count: number;
  rate: number;
  /** The worker's concurrency: the same number of slots the agents have. */
  concurrency: number;
}

/** add → the worker's spawned `date` ran, per job (ms), with jobs added open-loop at `rate`. */
export async function rawDispatch(redisUrl: string, prefix: string, o: RawDispatchOptions): Promise<number[]> {
  const queue = new Queue('bench-raw-dispatch', { connection: connection(redisUrl), prefix });
  const ranAt = new Map<string, number>();
  const worker = new Worker(
    'bench-raw-dispatch',
    async (job) => void ranAt.set(job.id ?? '', parseDateNs(await run('date', ['+%s%N']))),
    { connection: connection(redisUrl), prefix, concurrency: o.concurrency, removeOnComplete: { count: 0 } },
  );
  try {
    await Promise.all([queue.waitUntilReady(), worker.waitUntilReady()]);
    const addedAt = new Map<string, number>();
    const load = new OpenLoop({ rate: o.rate, count: o.count, maxInFlight: 256 }, async (i) => {
      await queue.add('job', { i }, { jobId: `d-${i}`, removeOnComplete: true });
      addedAt.set(`d-${i}`, nowMs());
      return true;
    });
    await load.done;
    await waitUntil(() => ranAt.size >= o.count, 120_000, 'the raw worker to run every job');
    return [...addedAt].map(([id, at]) => (ranAt.get(id) ?? NaN) - at);
  } finally {
    await worker.close();
    await queue.close();
  }
}

/** N jobs added (closed loop, `concurrency` in flight) → the worker spawned `cmd` for each and it exited 0. */
export async function rawThroughput(
  redisUrl: string,
  prefix: string,
  jobs: number,
  concurrency: number,
  cmd: string[],
): Promise<number> {
  const queue = new Queue('bench-raw-throughput', { connection: connection(redisUrl), prefix });
  let done = 0;
  const worker = new Worker(
    'bench-raw-throughput',
    async () => {
      await run(cmd[0]!, cmd.slice(1));
      done++;
    },
    { connection: connection(redisUrl), prefix, concurrency, removeOnComplete: { count: 0 } },
  );
  try {
    await Promise.all([queue.waitUntilReady(), worker.waitUntilReady()]);
    const started = performance.now();
    await forEachConcurrent(jobs, concurrency, async (i) => void (await queue.add('job', { i }, { jobId: `t-${i}` })));
    await waitUntil(() => done >= jobs, 300_000, 'the raw worker to finish every job');
    return (performance.now() - started) / 1_000;
  } finally {
    await worker.close();
    await queue.close();
  }
}

async function waitUntil(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
