import { Module } from '@nestjs/common';
import { AgentCertificatesRepository } from './agent-certificates.repository';
import { AgentCertificatesService } from './agent-certificates.service';
import { AgentsController } from './agents.controller';
import { AgentsRepository } from './agents.repository';
import { AgentsService } from './agents.service';
import { EnrollTokensController } from './enroll-tokens.controller';
import { EnrollTokensRepository } from './enroll-tokens.repository';
import { EnrollTokensService } from './enroll-tokens.service';
import { EnrollmentRepository } from './enrollment.repository';
import { EnrollmentService } from './enrollment.service';

@Module({
  controllers: [AgentsController, EnrollTokensController],
  providers: [
    AgentCertificatesRepository,
    AgentCertificatesService,
    AgentsRepository,
    AgentsService,
    EnrollTokensRepository,
    EnrollTokensService,
    EnrollmentRepository,
    EnrollmentService,
  ],
  exports: [AgentsRepository, AgentsService],
})
export class AgentsModule {}
