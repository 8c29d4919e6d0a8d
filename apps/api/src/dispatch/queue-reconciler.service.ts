import { randomBytes } from 'node:crypto';
import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { jittered, sleep } from '@jr/resilience';
import { APP_CONFIG, CLOCK, type AppConfig, type Clock } from '../config/app-config';
import { LOGGER, type Logger } from '../common/logger';
import type { RECONCILE_TRIGGERS } from '@jr/telemetry';
import { METRICS, type ApiMetrics } from '../telemetry/api-metrics';
import { LeadershipService } from '../leadership/leadership.service';
import { EnqueueService } from './enqueue.service';
import { PoolQueueRepository } from './pool-queue.repository';

/** How often Redis is asked whether it still has our sentinel key. */
export const SENTINEL_CHECK_MS = 2_000;

/** What caused a full re-enqueue of the queued jobs (jr_reconciliations_total{trigger}). */
export type ReconcileTrigger = (typeof RECONCILE_TRIGGERS)[number];

/**
 * Redis keeps nothing on disk here: after a restart, a FLUSHALL or a failover to an empty replica every
 * waiting job is gone and nothing in BullMQ replays it. Postgres is the system of record, so this loop
 * notices the loss (a sentinel key written at start-up disappears; checked every ~2 s) and re-adds
 * every `queued` job as `${id}-r${round}`: jobs still present deduplicate on that id, leased and
 * running jobs are untouched (their leases live in Postgres). It also runs once at start-up, when the
 * server answering is another one (a Sentinel failover keeps the sentinel key, being replicated, but can
 * lose the last writes before it) and every JR_RECONCILE_INTERVAL whatever it sees.
 * A singleton duty: only the elected leader checks, and a replica reconciles once when it becomes leader
 * (counted as `startup`: the start of its duty), since a leader that died mid-reconciliation leaves no trace.
 */
@Injectable()
export class QueueReconcilerService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly stop = new AbortController();
  private loop: Promise<void> | undefined;
  /** Set when a reconciliation is owed (start-up, data loss seen) until one completes. */
  private due: ReconcileTrigger | null = 'startup';
  private readonly epoch = `${Date.now()}-${randomBytes(4).toString('hex')}`;
  private runId: string | undefined;
  private lastReconciledAt = 0;
  private offElected: (() => void) | undefined;

  constructor(
    private readonly queues: PoolQueueRepository,
    private readonly enqueue: EnqueueService,
    private readonly leadership: LeadershipService,
    @Inject(METRICS) private readonly metrics: ApiMetrics,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.offElected = this.leadership.onElected(() => (this.due ??= 'startup'));
    this.loop = this.run();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.offElected?.();
    this.stop.abort();
    await this.loop;
  }

  /** One check: plant the sentinel, reconcile if it was missing or a reconciliation is still owed. */
  async check(): Promise<number | null> {
    let state: 'present' | 'planted';
    let runId: string;
    try {
      state = await this.queues.plantSentinel(this.epoch);
      runId = await this.queues.serverRunId();
    } catch {
      return null; // Redis unreachable: nothing to compare; the next check after it returns tells
    }
    const moved = this.runId !== undefined && runId !== this.runId;
    this.runId = runId;
    if (state === 'planted' && this.due === null) {
      this.due = 'redis_lost';
      this.log.warn('Redis lost its data (sentinel key missing): re-enqueueing every queued job from Postgres');
    } else if (moved && this.due === null) {
      this.due = 'redis_failover';
      this.log.warn('another Redis server answers (failover or restart): re-enqueueing every queued job from Postgres');
    } else if (this.due === null && this.clock.now() - this.lastReconciledAt >= this.config.reconcileIntervalMs) {
      this.due = 'periodic';
    }
    if (this.due === null) return null;
    return this.reconcile(this.due);
  }

  private async reconcile(trigger: ReconcileTrigger): Promise<number | null> {
    try {
      const jobs = await this.enqueue.sweep(new Date(this.clock.now()), true);
      this.due = null;
      this.lastReconciledAt = this.clock.now();
      this.metrics.reconciliations.inc({ trigger });
      // after a loss every queued job was missing from Redis (at start-up most are still there)
      if (trigger === 'redis_lost' || trigger === 'redis_failover')
        this.metrics.reconciledJobs.inc({ kind: 'requeued' }, jobs);
      this.log[trigger === 'periodic' ? 'debug' : 'info']({ trigger, jobs }, 'queued jobs reconciled into BullMQ');
      return jobs;
    } catch (err) {
      this.log.warn({ trigger, err: String(err) }, 'reconciling queued jobs failed; retrying');
      return null;
    }
  }

  private async run(): Promise<void> {
    while (!this.stop.signal.aborted) {
      if (this.leadership.isLeader()) await this.check();
      await sleep(jittered(SENTINEL_CHECK_MS, 0.2), this.stop.signal).catch(() => undefined);
    }
  }
}
