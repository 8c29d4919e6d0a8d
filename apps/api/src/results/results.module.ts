import { Module } from '@nestjs/common';
import { DispatchModule } from '../dispatch/dispatch.module';
import { JobsModule } from '../jobs/jobs.module';
import { ResultsApplier } from './results-applier';
import { ResultsRelayService } from './results-relay.service';
import { ResultsRepository } from './results.repository';
import { ResultsService } from './results.service';

@Module({
  imports: [JobsModule, DispatchModule],
  providers: [ResultsService, ResultsRelayService, ResultsApplier, ResultsRepository],
  exports: [ResultsService, ResultsRelayService],
})
export class ResultsModule {}
