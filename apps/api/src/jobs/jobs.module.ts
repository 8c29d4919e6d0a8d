import { Module } from '@nestjs/common';
import { JobLedgerRepository } from './job-ledger.repository';
import { JobLogsRepository } from './job-logs.repository';
import { JobLogsService } from './job-logs.service';
import { JobsController } from './jobs.controller';
import { JobsRepository } from './jobs.repository';
import { JobsService } from './jobs.service';

@Module({
  controllers: [JobsController],
  providers: [JobsRepository, JobLedgerRepository, JobsService, JobLogsRepository, JobLogsService],
  exports: [JobsRepository, JobLedgerRepository],
})
export class JobsModule {}
