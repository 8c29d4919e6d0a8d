import { Global, Module } from '@nestjs/common';
import { IntakeHealth } from './intake-health';
import { PendingSubmissions } from './pending-submissions';

/**
 * Intake's in-memory state: the index of journaled-but-unapplied submissions (reads, cancel and logs
 * consult it as well as intake and its relay) and whether intake accepts (readiness reports it).
 */
@Global()
@Module({
  providers: [
    { provide: PendingSubmissions, useFactory: () => new PendingSubmissions() },
    { provide: IntakeHealth, useFactory: () => new IntakeHealth() },
  ],
  exports: [PendingSubmissions, IntakeHealth],
})
export class IntakeStateModule {}
