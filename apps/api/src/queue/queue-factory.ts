import { Queue, Worker, type Job, type Processor } from 'bullmq';
import type Redis from 'ioredis';
import { redisConnection, type RedisTarget } from './redis-target';

/** What a pool's BullMQ job carries: enough to match it to a waiting agent without a database read. */
export interface DispatchJobData {
  jobId: string;
  pool: string;
  labels: Record<string, string>;
  /** W3C context of the enqueue span (absent in jobs queued before tracing): the lease span continues it. */
  trace?: Record<string, string>;
  /** When this round was queued (jr_dispatch_latency_seconds). */
  queuedAtMs?: number;
}

export type DispatchJob = Job<DispatchJobData>;
export type DispatchProcessor = Processor<DispatchJobData, void>;

export const queueName = (pool: string): string => `pool-${pool}`;

/** Producer side fails fast while Redis is down; workers block and retry forever (BullMQ wants maxRetriesPerRequest: null there). */
export function producerConnection(target: RedisTarget): Redis {
  return redisConnection(target, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 5_000,
    lazyConnect: false,
  });
}

export function workerConnection(target: RedisTarget): Redis {
  return redisConnection(target, { maxRetriesPerRequest: null, enableOfflineQueue: true, connectTimeout: 5_000 });
}

/**
 * Owns every Redis connection of the API: one producer connection shared by the pool queues, one
 * worker connection per pool (BullMQ duplicates it for blocking reads), and a small one for health pings.
 */
export class QueueFactory {
  private readonly producer: Redis;
  private readonly queues = new Map<string, Queue<DispatchJobData>>();
  private readonly workers = new Map<string, WorkerEntry>();
  private readonly watchdog: NodeJS.Timeout;

  constructor(
    private readonly redis: RedisTarget,
    private readonly prefix: string,
  ) {
    this.producer = producerConnection(redis);
    this.producer.on('error', () => undefined);
    this.watchdog = setInterval(() => this.keepFetching(), 1_000).unref();
  }

  queue(pool: string): Queue<DispatchJobData> {
    let q = this.queues.get(pool);
    if (!q) {
      q = new Queue<DispatchJobData>(queueName(pool), {
        connection: this.producer,
        prefix: this.prefix,
        skipWaitingForReady: true,
        defaultJobOptions: {
          removeOnComplete: { age: 3_600, count: 10_000 },
          removeOnFail: { age: 24 * 3_600 },
          attempts: 1,
        },
      });
      q.on('error', () => undefined);
      this.queues.set(pool, q);
    }
    return q;
  }

  hasWorker(pool: string): boolean {
    return this.workers.has(pool);
  }

  startWorker(
    pool: string,
    processor: DispatchProcessor,
    concurrency: number,
    onError: (err: Error) => void,
    onFailed: (data: DispatchJobData) => void,
  ): void {
    if (this.workers.has(pool)) return;
    const connection = workerConnection(this.redis);
    connection.on('error', () => undefined);
    const worker = new Worker<DispatchJobData, void>(queueName(pool), processor, {
      connection,
      prefix: this.prefix,
      concurrency,
      // it fetches only while this replica has Lease calls to hand jobs to: see setFetchLimit
      autorun: false,
      // A BullMQ job here is only a dispatch token: the grant in Postgres is idempotent (`state = 'queued'`),
      // so processing one twice is harmless, while a job held by an API process that was SIGKILLed stays
      // active until its lock expires and a stalled check runs. Short locks and frequent checks bring such
      // jobs back within ~15 s (defaults: 30 s + 30 s), and a stall sends a job back to wait, never to failed.
      lockDuration: 10_000,
      stalledInterval: 5_000,
      maxStalledCount: 1_000_000,
      // after a Redis error the worker's fetch loop pauses this long (default 15 s): recover promptly
      runRetryDelay: 1_000,
      removeOnComplete: { age: 3_600, count: 10_000 },
      // removed at once so the sweep can add the same `${id}-r${round}` again
      removeOnFail: { count: 0 },
    });
    worker.on('error', onError);
    worker.on('failed', (job) => (job ? onFailed(job.data) : undefined));
    this.workers.set(pool, { worker, connection, max: concurrency, limit: 0 });
  }

  /**
   * How many jobs the pool's worker may hold now (0: it fetches none). A replica takes jobs from the
   * shared queue only for Lease calls it holds, so a job never waits on one replica while agents wait
   * on another: at 0 the worker pauses (jobs it still holds finish), above it resumes (or starts).
   */
  setFetchLimit(pool: string, limit: number): void {
    const entry = this.workers.get(pool);
    if (!entry) return;
    const before = entry.limit;
    entry.limit = Math.min(Math.max(0, Math.floor(limit)), entry.max);
    const { worker } = entry;
    if (entry.limit === 0) {
      if (!worker.isPaused()) void worker.pause(true);
      return;
    }
    worker.concurrency = entry.limit;
    // a fetch loop that was full waits for one of its jobs to finish before it looks at the limit again;
    // pause-then-resume (both synchronous here) is BullMQ's public way to wake it now
    if (entry.limit > before && worker.isRunning() && !worker.isPaused()) void worker.pause(true);
    if (worker.isPaused()) void worker.resume();
    // a loop that ended just as it was resumed (or never started) is started here
    if (!worker.isRunning() && !worker.isPaused()) worker.run().catch(() => undefined);
  }

  /** Starts again a worker whose fetch loop ended while it had work to fetch (see setFetchLimit). */
  private keepFetching(): void {
    for (const [pool, entry] of this.workers) if (entry.limit > 0) this.setFetchLimit(pool, entry.limit);
  }

  /**
   * The data-loss sentinel: one key, written once and never expiring. `SET NX` answers whether it was
   * missing, i.e. whether this Redis lost its data (restart without persistence, FLUSHALL, a failover
   * to an empty replica) since the key was last written. Throws while Redis is unreachable.
   */
  async plantSentinel(value: string): Promise<'present' | 'planted'> {
    const res = await this.producer.set(`${this.prefix}:sentinel`, value, 'NX');
    return res === 'OK' ? 'planted' : 'present';
  }

  /** The Redis server's run_id: another one (a failover, a restart) means it may lack our last writes. */
  async serverRunId(): Promise<string> {
    const info = await this.producer.info('server');
    return /^run_id:(\w+)/m.exec(info)?.[1] ?? '';
  }

  /** Round-trip time of a PING on the producer connection. */
  async ping(): Promise<number> {
    const started = performance.now();
    await this.producer.ping();
    return performance.now() - started;
  }

  workerPools(): string[] {
    return [...this.workers.keys()];
  }

  /** Closes one pool's worker and its connection (its queue, on the shared producer connection, stays). */
  async stopWorker(pool: string, timeoutMs: number): Promise<void> {
    const entry = this.workers.get(pool);
    if (!entry) return;
    this.workers.delete(pool);
    await closeWorker(entry, timeoutMs);
  }

  /** Workers first (bounded wait for active processors), then queues and connections. */
  async closeWorkers(timeoutMs: number): Promise<void> {
    const closing = [...this.workers.values()].map((entry) => closeWorker(entry, timeoutMs));
    this.workers.clear();
    await Promise.all(closing);
  }

  async close(): Promise<void> {
    clearInterval(this.watchdog);
    await this.closeWorkers(5_000);
    await Promise.all([...this.queues.values()].map((q) => q.close().catch(() => undefined)));
    this.queues.clear();
    this.producer.disconnect();
  }
}

interface WorkerEntry {
  worker: Worker<DispatchJobData, void>;
  connection: Redis;
  /** The most jobs it ever holds, and how many it may hold now. */
  max: number;
  limit: number;
}

async function closeWorker({ worker, connection }: WorkerEntry, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
  await Promise.race([worker.close().catch(() => undefined), timeout]);
  clearTimeout(timer);
  await worker.close(true).catch(() => undefined);
  connection.disconnect();
}
