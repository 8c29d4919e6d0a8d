import { Module } from '@nestjs/common';
import { AgentsModule } from '../agents/agents.module';
import { JobsModule } from '../jobs/jobs.module';
import { DispatchService } from './dispatch.service';
import { EnqueueService } from './enqueue.service';
import { LeaseReaperService } from './lease-reaper.service';
import { PoolQueueRepository } from './pool-queue.repository';
import { QueueReconcilerService } from './queue-reconciler.service';

@Module({
  imports: [JobsModule, AgentsModule],
  providers: [PoolQueueRepository, EnqueueService, DispatchService, LeaseReaperService, QueueReconcilerService],
  exports: [PoolQueueRepository, EnqueueService, DispatchService],
})
export class DispatchModule {}
