import { Inject, Injectable } from '@nestjs/common';
import { JobsRepository } from '../jobs/jobs.repository';
import type { JobTransition } from '../jobs/job-rows';
import { DomainEvents } from '../common/events';
import { LOGGER, type Logger } from '../common/logger';
import { Metrics } from '../common/metrics';
import { PoolQueueRepository } from './pool-queue.repository';

export interface EnqueueRequest {
  jobId: string;
  pool: string;
  labels: Record<string, string>;
  round: number;
}

/**
 * Keeps BullMQ in step with Postgres, the system of record: a job that enters `queued` gets its BullMQ
 * job for that round; failures leave `enqueue_pending` set and the sweep adds it later.
 */
@Injectable()
export class EnqueueService {
  constructor(
    private readonly queues: PoolQueueRepository,
    private readonly jobs: JobsRepository,
    private readonly events: DomainEvents,
    private readonly metrics: Metrics,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  async enqueue(r: EnqueueRequest): Promise<void> {
    await this.queues.add(r.jobId, r.pool, r.labels, r.round);
    await this.jobs.markEnqueued(r.jobId, r.round);
  }

  /** Like enqueue, but only logs a failure: the sweep retries. */
  async enqueueSoon(r: EnqueueRequest): Promise<void> {
    await this.enqueue(r).catch((err: unknown) => this.log.warn({ jobId: r.jobId, err: String(err) }, 'enqueue failed; the sweep will retry'));
  }

  /**
   * A batch the intake relay created: one addBulk, one UPDATE. A failure (Redis down) only logs: the
   * rows keep `enqueue_pending` and the sweep adds them later.
   */
  async enqueueMany(items: EnqueueRequest[]): Promise<void> {
    if (items.length === 0) return;
    try {
      await this.queues.addMany(items);
      await this.jobs.markEnqueuedMany(items.map((i) => ({ id: i.jobId, round: i.round })));
    } catch (err) {
      this.log.warn({ jobs: items.length, err: String(err) }, 'enqueue failed; the sweep will retry');
    }
  }

  /** What follows a committed state change: wake-ups, counters, and the next round's BullMQ job. */
  async afterTransition(t: JobTransition): Promise<void> {
    this.events.jobChanged({ jobId: t.jobId, kind: 'state', state: t.state });
    this.metrics.jobStateChanged(t.state);
    if (t.requeueRound !== undefined) await this.enqueueSoon({ jobId: t.jobId, pool: t.pool, labels: t.labels, round: t.requeueRound });
  }

  /** Re-adds queued jobs whose enqueue did not happen (or, with `all`, every queued job: after a Redis loss). */
  async sweep(now: Date, all = false): Promise<number> {
    let total = 0;
    let after = '';
    for (;;) {
      const batch = await this.jobs.pendingEnqueues(new Date(now.getTime() - 5_000), 500, all, after);
      if (batch.length === 0) return total;
      await this.queues.addMany(batch.map((j) => ({ jobId: j.id, pool: j.pool, labels: j.labels, round: j.rounds })));
      await this.jobs.markEnqueuedMany(batch.map((j) => ({ id: j.id, round: j.rounds })));
      total += batch.length;
      after = batch[batch.length - 1]?.id ?? after;
      if (!all || batch.length < 500) return total;
    }
  }
}
