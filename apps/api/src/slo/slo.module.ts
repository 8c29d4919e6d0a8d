import { Module } from '@nestjs/common';
import { CanaryRepository } from '../canary/canary.repository';
import { HealthModule } from '../health/health.module';
import { CanaryVerdicts } from '../incidents/canary-verdicts';
import { IncidentMonitorService } from '../incidents/incident-monitor.service';
import { IncidentsRepository } from '../incidents/incidents.repository';
import { IntakeRefusalsService } from './intake-refusals.service';
import { SloController } from './slo.controller';
import { SloRepository } from './slo.repository';
import { SloService } from './slo.service';

/** Service levels: incidents the system records itself, the objectives' report and their Prometheus rules. */
@Module({
  imports: [HealthModule],
  controllers: [SloController],
  providers: [
    CanaryRepository,
    SloRepository,
    SloService,
    IncidentsRepository,
    IncidentMonitorService,
    CanaryVerdicts,
    IntakeRefusalsService,
  ],
  exports: [IncidentMonitorService],
})
export class SloModule {}
