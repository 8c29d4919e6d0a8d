import { Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule } from '../app.module';
import { CommonModule } from '../common/common.module';
import type { Logger } from '../common/logger';
import { systemClock, type AppConfig } from '../config/app-config';
import { DatabaseModule } from '../database/database.module';
import { EnqueueService } from '../dispatch/enqueue.service';
import { PoolQueueRepository } from '../dispatch/pool-queue.repository';
import { IntakeApplier } from '../intake/intake-applier';
import { IntakeRepository } from '../intake/intake.repository';
import { JobsRepository } from '../jobs/jobs.repository';
import { QueueModule } from '../queue/queue.module';
import { ResultsApplier } from '../results/results-applier';
import { ResultsRepository } from '../results/results.repository';
import { METRICS, type ApiMetrics } from '../telemetry/api-metrics';
import { JournalReplayService } from './journal-replay.service';

/**
 * What `jr-api journal replay` needs and nothing more: config, Postgres (migrations at init, as the
 * API), the pools' queues, and the relays' apply steps with their repositories. No listener, no loop,
 * no leadership: the replay is a one-shot process next to the running replicas.
 */
@Module({})
export class ReplayModule {
  static forRoot(config: AppConfig, log: Logger, metrics: ApiMetrics): DynamicModule {
    return {
      module: ReplayModule,
      imports: [ConfigModule.forRoot(config, systemClock, log), CommonModule, DatabaseModule, QueueModule],
      providers: [
        { provide: METRICS, useValue: metrics },
        IntakeRepository,
        ResultsRepository,
        JobsRepository,
        PoolQueueRepository,
        EnqueueService,
        IntakeApplier,
        ResultsApplier,
        JournalReplayService,
      ],
    };
  }
}
