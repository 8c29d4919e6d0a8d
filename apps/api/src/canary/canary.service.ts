import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { APP_CONFIG, CLOCK, type AppConfig, type Clock } from '../config/app-config';
import { LOGGER, type Logger } from '../common/logger';
import { JobsService } from '../jobs/jobs.service';
import { DutyLoop } from '../leadership/duty-loop';
import { LeadershipService } from '../leadership/leadership.service';
import { METRICS, type ApiMetrics } from '../telemetry/api-metrics';
import { CanaryRepository } from './canary.repository';
import { SelfClient } from './self-client';

/** A canary not ended this long after acceptance is `lost` (and cancelled): at least 5 min, or 3 intervals. */
const overdueMs = (intervalMs: number): number => Math.max(5 * 60_000, 3 * intervalMs);

/**
 * Canary jobs (JR_CANARY_INTERVAL): a singleton duty of the elected leader. Each pass submits one
 * synthetic job to every pool with an active agent (or JR_CANARY_POOLS) through the public way, REST with
 * a token of the canaries' own, so it passes authentication, intake's journal, the relay, the queue, a
 * lease, an agent (a built-in no-op step, no process) and the agent's reports; then it copies the times
 * each open canary reached (accepted, leased, started, reported) into canary_runs, counts the ended ones
 * in jr_canaries_total / jr_canary_duration_seconds, and prunes. A deposed leader's late pass submits at
 * most one extra canary per pool: harmless, and fenced writes would buy nothing here.
 */
@Injectable()
export class CanaryService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly loop: DutyLoop | undefined;
  /** Canaries accepted (or refused) whose canary_runs row is not written yet (Postgres was away). */
  private unrecorded: Array<{ jobId: string; pool: string; atMs: number; outcome: 'refused' | null }> = [];

  constructor(
    private readonly repo: CanaryRepository,
    private readonly self: SelfClient,
    private readonly jobs: JobsService,
    private readonly leadership: LeadershipService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(METRICS) private readonly metrics: ApiMetrics,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    const { intervalMs } = config.canary;
    this.loop = intervalMs > 0 ? new DutyLoop('canaries', intervalMs, () => this.pass(), log) : undefined;
  }

  onApplicationBootstrap(): void {
    this.loop?.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.loop?.stop();
  }

  /** One pass (tests call it); the pools it submitted to. */
  async pass(): Promise<string[]> {
    if (!this.leadership.isLeader()) return [];
    await this.record();
    await this.settle();
    const pools = this.config.canary.pools ?? (await this.repo.pools());
    for (const pool of pools) await this.submit(pool);
    await this.record();
    await this.repo.prune(this.clock.now());
    return pools;
  }

  private async submit(pool: string): Promise<void> {
    const at = this.clock.now();
    const r = await this.self.submitCanary(pool).catch((err: unknown) => ({ error: String(err) }));
    if ('id' in r) {
      this.unrecorded.push({ jobId: r.id, pool, atMs: at, outcome: null });
      return;
    }
    // refused or unreachable: a canary that failed at the door (the door is what it measures first)
    this.log.warn({ pool, why: r.error }, 'canary submission refused');
    this.unrecorded.push({ jobId: `refused-${randomUUID()}`, pool, atMs: at, outcome: 'refused' });
    this.metrics.canaries.inc({ pool, outcome: 'refused' });
  }

  /** Writes the canary_runs rows of this process's submissions; what fails waits for the next pass. */
  private async record(): Promise<void> {
    while (this.unrecorded.length > 0) {
      const c = this.unrecorded[0] as (typeof this.unrecorded)[number];
      await this.repo.accepted(c.jobId, c.pool, c.atMs, c.outcome);
      this.unrecorded.shift();
    }
  }

  private async settle(): Promise<void> {
    for (const c of await this.repo.settle(this.clock.now(), overdueMs(this.config.canary.intervalMs))) {
      this.metrics.canaries.inc({ pool: c.pool, outcome: c.outcome });
      if (c.outcome === 'succeeded' && c.durationMs !== null)
        this.metrics.canaryDuration.observe({ pool: c.pool }, c.durationMs / 1_000);
      if (c.live) await this.jobs.cancel(c.jobId).catch(() => undefined); // no pile-up in a pool gone quiet
    }
  }
}
