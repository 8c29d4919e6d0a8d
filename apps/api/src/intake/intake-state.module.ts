import { Global, Module } from '@nestjs/common';
import { IntakeHealth } from './intake-health';
import { PendingSubmissions } from './pending-submissions';
import { UnappliedDirectory } from './unapplied-directory';

/**
 * Intake's in-memory state: the index of journaled-but-unapplied submissions (reads, cancel and logs
 * consult it as well as intake and its relay), its copy in Redis that the other replicas read
 * (`UnappliedDirectory`), and whether intake accepts (readiness reports it).
 */
@Global()
@Module({
  providers: [
    { provide: PendingSubmissions, useFactory: () => new PendingSubmissions() },
    { provide: IntakeHealth, useFactory: () => new IntakeHealth() },
    UnappliedDirectory,
  ],
  exports: [PendingSubmissions, IntakeHealth, UnappliedDirectory],
})
export class IntakeStateModule {}
