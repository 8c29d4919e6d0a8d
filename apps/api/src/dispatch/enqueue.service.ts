import { Inject, Injectable } from '@nestjs/common';
import { isTerminal } from '@jr/contracts';
import {
  ATTR,
  endSpan,
  extractFromCarrier,
  injectToCarrier,
  SpanKind,
  SPANS,
  startDetachedSpan,
  type Span,
} from '@jr/telemetry';
import { JobsRepository } from '../jobs/jobs.repository';
import type { JobTransition } from '../jobs/job-rows';
import { DomainEvents } from '../common/events';
import { LOGGER, type Logger } from '../common/logger';
import { CLOCK, type Clock } from '../config/app-config';
import { METRICS, type ApiMetrics } from '../telemetry/api-metrics';
import { PoolQueueRepository, type QueueItem } from './pool-queue.repository';

/** Jobs per page of a sweep: one SELECT, one addBulk per pool, at most one UPDATE. */
const SWEEP_PAGE = 2_000;

export interface EnqueueRequest {
  jobId: string;
  pool: string;
  labels: Record<string, string>;
  round: number;
  /** The job's trace context (relay span, or jobs.trace); untrusted, absent for jobs from before tracing. */
  trace?: unknown;
  /** The same context already in hand (the relay's own span): spares parsing `trace` back. */
  parent?: TraceContext;
}

export type TraceContext = ReturnType<typeof startDetachedSpan>['context'];

/**
 * Keeps BullMQ in step with Postgres, the system of record: a job that enters `queued` gets its BullMQ
 * job for that round; failures leave `enqueue_pending` set and the sweep adds it later. Each add is an
 * enqueue span (producer) under the job's trace, whose context travels in the BullMQ job data.
 */
@Injectable()
export class EnqueueService {
  constructor(
    private readonly queues: PoolQueueRepository,
    private readonly jobs: JobsRepository,
    private readonly events: DomainEvents,
    @Inject(METRICS) private readonly metrics: ApiMetrics,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  async enqueue(r: EnqueueRequest): Promise<void> {
    await this.traced([r], async (items) => {
      await this.queues.add(items[0] as QueueItem);
      await this.jobs.markEnqueued(r.jobId, r.round);
    });
  }

  /** Like enqueue, but only logs a failure: the sweep retries. */
  async enqueueSoon(r: EnqueueRequest): Promise<void> {
    await this.enqueue(r).catch((err: unknown) =>
      this.log.warn({ jobId: r.jobId, err: String(err) }, 'enqueue failed; the sweep will retry'),
    );
  }

  /**
   * A batch the intake relay created: one addBulk, one UPDATE. A failure (Redis down) only logs: the
   * rows keep `enqueue_pending` and the sweep adds them later.
   */
  async enqueueMany(items: EnqueueRequest[]): Promise<void> {
    if (items.length === 0) return;
    try {
      await this.addAll(items);
    } catch (err) {
      this.log.warn({ jobs: items.length, err: String(err) }, 'enqueue failed; the sweep will retry');
    }
  }

  /** What follows a committed state change: wake-ups, counters, and the next round's BullMQ job. */
  async afterTransition(t: JobTransition): Promise<void> {
    this.events.jobChanged({ jobId: t.jobId, kind: 'state', state: t.state });
    this.count(t);
    if (t.requeueRound !== undefined)
      await this.enqueueSoon({ jobId: t.jobId, pool: t.pool, labels: t.labels, round: t.requeueRound, trace: t.trace });
  }

  /**
   * Re-adds queued jobs whose enqueue did not happen (or, with `all`, every queued job: after a Redis loss).
   * Pages of SWEEP_PAGE by id; the next page is read while the current one is added, and only the rows
   * still marked pending are updated (after a Redis loss most were added long ago).
   */
  async sweep(now: Date, all = false): Promise<number> {
    const olderThan = new Date(now.getTime() - 5_000);
    const page = (after: string) => this.jobs.pendingEnqueues(olderThan, SWEEP_PAGE, all, after);
    let total = 0;
    let batch = await page('');
    while (batch.length > 0) {
      const last = batch[batch.length - 1]?.id ?? '';
      const next = all && batch.length === SWEEP_PAGE ? page(last) : Promise.resolve([]);
      const added = this.addAll(
        batch.map((j) => ({ jobId: j.id, pool: j.pool, labels: j.labels, round: j.rounds, trace: j.trace })),
        batch.filter((j) => j.enqueue_pending).map((j) => ({ id: j.id, round: j.rounds })),
      );
      const [result] = await Promise.allSettled([added, next]); // neither left unhandled when the other fails
      if (result.status === 'rejected') throw result.reason;
      total += batch.length;
      batch = await next;
    }
    return total;
  }

  private async addAll(
    items: EnqueueRequest[],
    pending: Array<{ id: string; round: number }> = items.map((i) => ({ id: i.jobId, round: i.round })),
  ): Promise<void> {
    await this.traced(items, async (queued) => {
      await this.queues.addMany(queued);
      if (pending.length > 0) await this.jobs.markEnqueuedMany(pending);
    });
  }

  /** One enqueue span per job (children of each job's own trace) around one shared write. */
  private async traced(items: EnqueueRequest[], write: (queued: QueueItem[]) => Promise<void>): Promise<void> {
    const queuedAtMs = this.clock.now();
    const spans: Span[] = [];
    const queued = items.map((i) => {
      const { span, context } = startDetachedSpan(
        SPANS.enqueue,
        { [ATTR.jobId]: i.jobId, [ATTR.pool]: i.pool },
        { parent: i.parent ?? extractFromCarrier(i.trace), kind: SpanKind.PRODUCER },
      );
      spans.push(span);
      return {
        jobId: i.jobId,
        pool: i.pool,
        labels: i.labels,
        round: i.round,
        trace: injectToCarrier(context),
        queuedAtMs,
      };
    });
    try {
      await write(queued);
    } catch (err) {
      for (const s of spans) endSpan(s, err);
      throw err;
    }
    for (const s of spans) endSpan(s);
  }

  private count(t: JobTransition): void {
    if (t.attemptEnded) this.metrics.attemptsFinished.inc({ pool: t.pool, state: t.attemptEnded });
    if (!isTerminal(t.state)) return;
    this.metrics.jobsFinished.inc({ pool: t.pool, state: t.state });
    if (t.createdAt)
      this.metrics.jobDuration.observe(
        { pool: t.pool, state: t.state },
        (this.clock.now() - t.createdAt.getTime()) / 1000,
      );
  }
}
