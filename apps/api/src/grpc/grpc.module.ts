import { Module } from '@nestjs/common';
import { AgentsModule } from '../agents/agents.module';
import { DispatchModule } from '../dispatch/dispatch.module';
import { ResultsModule } from '../results/results.module';
import { GrpcServerService } from './grpc-server.service';

@Module({
  imports: [AgentsModule, DispatchModule, ResultsModule],
  providers: [GrpcServerService],
  exports: [GrpcServerService],
})
export class GrpcModule {}
