import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { LOGGER, type Logger } from '../common/logger';
import { IntakeHealth } from '../intake/intake-health';
import { DutyLoop } from '../leadership/duty-loop';
import { SloRepository } from './slo.repository';

/** How often this replica's refused submissions are added to Postgres (what a crash can lose). */
export const REFUSALS_FLUSH_MS = 5_000;

/**
 * Moves the per-minute counts of refused valid submissions (intake's own tally) into intake_refusals,
 * the bad events of the submissions_accepted indicator. A failed write keeps the counts for the next
 * pass: a refusal is often caused by the same outage that keeps Postgres away.
 */
@Injectable()
export class IntakeRefusalsService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly loop: DutyLoop;

  constructor(
    private readonly repo: SloRepository,
    private readonly health: IntakeHealth,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) log: Logger,
  ) {
    this.loop = new DutyLoop('intake refusals', REFUSALS_FLUSH_MS, () => this.flush(), log);
  }

  onApplicationBootstrap(): void {
    this.loop.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.loop.stop();
    await this.flush().catch(() => undefined);
  }

  async flush(): Promise<void> {
    const rows = this.health.takeRefusals();
    try {
      await this.repo.addRefusals(rows, this.config.replicaId);
    } catch (err) {
      this.health.giveBack(rows);
      throw err;
    }
  }
}
