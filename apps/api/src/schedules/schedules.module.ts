import { Module } from '@nestjs/common';
import { DispatchModule } from '../dispatch/dispatch.module';
import { JobsModule } from '../jobs/jobs.module';
import { SchedulerService } from './scheduler.service';
import { SchedulesController } from './schedules.controller';
import { SchedulesRepository } from './schedules.repository';
import { SchedulesService } from './schedules.service';

/** Schedules: the REST resource, and the leader's duty that fires them. */
@Module({
  imports: [JobsModule, DispatchModule],
  controllers: [SchedulesController],
  providers: [SchedulesRepository, SchedulesService, SchedulerService],
  exports: [SchedulerService],
})
export class SchedulesModule {}
