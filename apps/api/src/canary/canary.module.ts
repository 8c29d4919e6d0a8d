import { Module } from '@nestjs/common';
import { JobsModule } from '../jobs/jobs.module';
import { CanaryRepository } from './canary.repository';
import { CanaryService } from './canary.service';
import { SelfClient } from './self-client';

/** Canary jobs: the leader's synthetic job per pool, through the public way (JR_CANARY_INTERVAL). */
@Module({
  imports: [JobsModule],
  providers: [CanaryRepository, SelfClient, CanaryService],
  exports: [CanaryService],
})
export class CanaryModule {}
