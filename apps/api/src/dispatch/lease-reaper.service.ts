import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, CLOCK, type AppConfig, type Clock } from '../config/app-config';
import { LOGGER, type Logger } from '../common/logger';
import { AgentsRepository } from '../agents/agents.repository';
import { JobLedgerRepository } from '../jobs/job-ledger.repository';
import { EnqueueService } from './enqueue.service';
import { agentSilenceCutoff, reaperDelayMs } from './lease-expiry';

const BATCH = 100;

/**
 * Ends attempts whose lease ran out (`lost`), sends their jobs through the retry decision, marks
 * silent agents lost, and re-adds queued jobs whose BullMQ job never made it. One loop, jittered.
 */
@Injectable()
export class LeaseReaperService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly ledger: JobLedgerRepository,
    private readonly agents: AgentsRepository,
    private readonly enqueue: EnqueueService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.schedule();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One pass; returns how many attempts it ended. */
  async tick(): Promise<number> {
    const now = this.clock.now();
    let ended = 0;
    for (const { jobId, attempt } of await this.ledger.expiredLeases(new Date(now), BATCH)) {
      const t = await this.ledger.expire(jobId, attempt, new Date(now), this.config.maxLostAttempts);
      if (!t) continue;
      ended++;
      this.log.warn({ jobId, attempt, jobState: t.state }, 'lease expired: attempt lost');
      await this.enqueue.afterTransition(t);
    }
    const lost = await this.agents.markLost(agentSilenceCutoff(now, this.config.heartbeatIntervalMs));
    if (lost.length > 0) this.log.warn({ agents: lost }, 'agents lost (silent for 3 heartbeat intervals)');
    await this.enqueue.sweep(new Date(now));
    return ended;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick()
        .then(() => undefined)
        .catch((err: unknown) => this.log.warn({ err: String(err) }, 'lease reaper pass failed'))
        .finally(() => this.schedule());
    }, reaperDelayMs(this.config.heartbeatIntervalMs));
  }
}
