import { Global, Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { HeardAgents } from './heard-agents';
import { LeadershipService } from './leadership.service';
import { ReplicaRecordRepository } from './replica-record.repository';
import { ReplicaRecordService } from './replica-record.service';

/**
 * Replicas: the leader election for the singleton duties (LeadershipService) and each replica's record
 * in Redis of what it holds that Postgres may not know (ReplicaRecordService). Global: the reaper, the
 * reconciler, the metrics and the agents' heartbeat path use them.
 */
@Global()
@Module({
  providers: [
    LeadershipService,
    // per application instance, like the attempt registry
    { provide: HeardAgents, useFactory: () => new HeardAgents() },
    {
      provide: ReplicaRecordRepository,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => new ReplicaRecordRepository(config.redis, config.queuePrefix),
    },
    ReplicaRecordService,
  ],
  exports: [LeadershipService, HeardAgents, ReplicaRecordService],
})
export class LeadershipModule {}
