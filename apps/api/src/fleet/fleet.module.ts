import { Module } from '@nestjs/common';
import { DispatchModule } from '../dispatch/dispatch.module';
import { JobsModule } from '../jobs/jobs.module';
import { FleetCoordinatorService } from './fleet-coordinator.service';
import { FleetController } from './fleet.controller';
import { FleetRepository } from './fleet.repository';
import { FleetService } from './fleet.service';

/** Fleet jobs: the leader's coordinator that expands and rolls them out, and their targets over REST. */
@Module({
  imports: [JobsModule, DispatchModule],
  controllers: [FleetController],
  providers: [FleetRepository, FleetService, FleetCoordinatorService],
})
export class FleetModule {}
