import { Inject, Injectable } from '@nestjs/common';
import { DelayedError, WaitingError } from 'bullmq';
import { QUEUE_FACTORY } from '../queue/queue.module';
import type { DispatchJob, DispatchJobData, DispatchProcessor, QueueFactory } from '../queue/queue-factory';

/** One round of a job to queue, with its enqueue span's context and the time it was queued. */
export interface QueueItem {
  jobId: string;
  pool: string;
  labels: Record<string, string>;
  round: number;
  trace?: Record<string, string>;
  queuedAtMs?: number;
}

function jobData(i: QueueItem): DispatchJobData {
  return {
    jobId: i.jobId,
    pool: i.pool,
    labels: i.labels,
    ...(i.trace && Object.keys(i.trace).length > 0 ? { trace: i.trace } : {}),
    ...(i.queuedAtMs ? { queuedAtMs: i.queuedAtMs } : {}),
  };
}

export const bullJobId = (jobId: string, round: number): string => `${jobId}-r${round}`;

/** The pools' BullMQ queues: one job per enqueue round, `${id}-r${round}`, deduplicated by that id. */
@Injectable()
export class PoolQueueRepository {
  constructor(@Inject(QUEUE_FACTORY) private readonly factory: QueueFactory) {}

  async add(item: QueueItem): Promise<void> {
    await this.factory.queue(item.pool).add('job', jobData(item), { jobId: bullJobId(item.jobId, item.round) });
  }

  async addMany(items: QueueItem[]): Promise<void> {
    const byPool = new Map<string, typeof items>();
    for (const item of items) {
      const list = byPool.get(item.pool);
      if (list) list.push(item);
      else byPool.set(item.pool, [item]);
    }
    await Promise.all(
      [...byPool].map(([pool, list]) =>
        this.factory
          .queue(pool)
          .addBulk(list.map((i) => ({ name: 'job', data: jobData(i), opts: { jobId: bullJobId(i.jobId, i.round) } }))),
      ),
    );
  }

  /** Best effort: a job a processor holds is locked and stays; its grant then finds the job cancelled. */
  async remove(jobId: string, pool: string, round: number): Promise<void> {
    await this.factory.queue(pool).remove(bullJobId(jobId, round));
  }

  /** 'planted' when the sentinel key was missing: Redis lost its data (or this is its first use). */
  plantSentinel(value: string): Promise<'present' | 'planted'> {
    return this.factory.plantSentinel(value);
  }

  serverRunId(): Promise<string> {
    return this.factory.serverRunId();
  }

  /** How many jobs the pool's worker may hold now; 0 pauses its fetching (QueueFactory.setFetchLimit). */
  setFetchLimit(pool: string, limit: number): void {
    this.factory.setFetchLimit(pool, limit);
  }

  hasWorker(pool: string): boolean {
    return this.factory.hasWorker(pool);
  }

  workerPools(): string[] {
    return this.factory.workerPools();
  }

  async stopWorker(pool: string, timeoutMs: number): Promise<void> {
    await this.factory.stopWorker(pool, timeoutMs);
  }

  startWorker(
    pool: string,
    processor: DispatchProcessor,
    concurrency: number,
    onError: (err: Error) => void,
    onFailed: (jobId: string) => void,
  ): void {
    this.factory.startWorker(pool, processor, concurrency, onError, (data) => onFailed(data.jobId));
  }

  /** Hands a job the processor cannot place right now back to the queue, at once (no delay). */
  async giveBack(job: DispatchJob, token: string | undefined): Promise<never> {
    await job.moveToWait(token);
    throw new WaitingError();
  }

  /** After an error (Postgres down): try the job again after `delayMs`. */
  async retryLater(job: DispatchJob, token: string | undefined, delayMs: number): Promise<never> {
    await job.moveToDelayed(Date.now() + delayMs, token);
    throw new DelayedError();
  }

  async closeWorkers(timeoutMs: number): Promise<void> {
    await this.factory.closeWorkers(timeoutMs);
  }
}
