import { Module } from '@nestjs/common';
import { DispatchModule } from '../dispatch/dispatch.module';
import { JobsModule } from '../jobs/jobs.module';
import { ResultsService } from './results.service';

@Module({
  imports: [JobsModule, DispatchModule],
  providers: [ResultsService],
  exports: [ResultsService],
})
export class ResultsModule {}
