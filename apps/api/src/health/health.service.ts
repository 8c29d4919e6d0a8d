import { Inject, Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import type { Pool } from 'pg';
import type { ReadinessView } from '@jr/contracts';
import type { Journal } from '@jr/journal';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { Metrics } from '../common/metrics';
import { PG_POOL } from '../database/database.module';
import { INTAKE_JOURNAL } from '../journal/journal.module';
import { QUEUE_FACTORY } from '../queue/queue.module';
import type { QueueFactory } from '../queue/queue-factory';
import { AgentsRepository } from '../agents/agents.repository';

const CHECK_TIMEOUT_MS = 2_000;
type Check = ReadinessView['dependencies'][string];

@Injectable()
export class HealthService implements BeforeApplicationShutdown {
  private shuttingDown = false;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(QUEUE_FACTORY) private readonly queues: QueueFactory,
    @Inject(INTAKE_JOURNAL) private readonly journal: Journal,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly agents: AgentsRepository,
    private readonly metrics: Metrics,
  ) {}

  beforeApplicationShutdown(): void {
    this.shuttingDown = true;
  }

  async readiness(): Promise<ReadinessView> {
    const [journal, redis, postgres] = await Promise.all([this.checkJournal(), timed(() => this.queues.ping()), timed(() => this.pool.query('SELECT 1'))]);
    const dependencies: ReadinessView['dependencies'] = { journal, redis, postgres };
    if (this.shuttingDown) dependencies.api = { up: false, latencyMs: null, detail: 'shutting down' };
    return { ready: !this.shuttingDown && journal.up && redis.up && postgres.up, dependencies };
  }

  async metricsText(): Promise<string> {
    const agents = await this.agents.countByState().catch(() => []);
    return this.metrics.render(agents);
  }

  private async checkJournal(): Promise<Check> {
    const started = performance.now();
    try {
      const { unappliedBytes } = this.journal.stats;
      const latencyMs = Math.round(performance.now() - started);
      if (unappliedBytes >= this.config.journalMaxBytes) return { up: false, latencyMs, detail: 'journal full' };
      return { up: true, latencyMs };
    } catch (err) {
      return { up: false, latencyMs: null, detail: err instanceof Error ? err.message : 'journal unavailable' };
    }
  }
}

async function timed(probe: () => Promise<unknown>): Promise<Check> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS}ms`)), CHECK_TIMEOUT_MS)));
    await Promise.race([probe(), timeout]);
    return { up: true, latencyMs: Math.round((performance.now() - started) * 10) / 10 };
  } catch (err) {
    return { up: false, latencyMs: null, detail: err instanceof Error ? err.message.slice(0, 200) : 'down' };
  } finally {
    clearTimeout(timer);
  }
}
