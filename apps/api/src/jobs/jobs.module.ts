import { Module } from '@nestjs/common';
import { AgentsModule } from '../agents/agents.module';
import { JobLedgerRepository } from './job-ledger.repository';
import { JobLogsRepository } from './job-logs.repository';
import { JobLogsService } from './job-logs.service';
import { JobsController } from './jobs.controller';
import { JobsRepository } from './jobs.repository';
import { JobsService } from './jobs.service';
import { PlacementService } from './placement.service';

@Module({
  imports: [AgentsModule],
  controllers: [JobsController],
  providers: [JobsRepository, JobLedgerRepository, JobsService, JobLogsRepository, JobLogsService, PlacementService],
  exports: [JobsRepository, JobLedgerRepository, JobsService],
})
export class JobsModule {}
