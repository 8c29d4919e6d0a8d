import { Module } from '@nestjs/common';
import { AgentsModule } from '../agents/agents.module';
import { HealthController } from './health.controller';
import { HealthService } from './health.service';

@Module({
  imports: [AgentsModule],
  controllers: [HealthController],
  providers: [HealthService],
  exports: [HealthService],
})
export class HealthModule {}
