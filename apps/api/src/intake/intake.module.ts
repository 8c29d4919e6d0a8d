import { Module } from '@nestjs/common';
import { DispatchModule } from '../dispatch/dispatch.module';
import { JobsModule } from '../jobs/jobs.module';
import { IdempotencyReservations } from './idempotency-reservations';
import { IntakeController } from './intake.controller';
import { IntakeRelayService } from './intake-relay.service';
import { IntakeApplier } from './intake-applier';
import { IntakeRepository } from './intake.repository';
import { IntakeService } from './intake.service';

@Module({
  imports: [JobsModule, DispatchModule],
  controllers: [IntakeController],
  providers: [IntakeService, IntakeRelayService, IntakeApplier, IntakeRepository, IdempotencyReservations],
})
export class IntakeModule {}
