import { Global, Module } from '@nestjs/common';
import { AgentLiveness } from './agent-liveness';
import { AttemptRegistry } from './attempt-registry';
import { DomainEvents } from './events';

@Global()
@Module({
  providers: [
    // per application instance: an API restarted inside one process (or a second replica in a test)
    // must not inherit another's overlay or hear its events but through the replica bus
    { provide: DomainEvents, useFactory: () => new DomainEvents() },
    { provide: AttemptRegistry, useFactory: () => new AttemptRegistry() },
    { provide: AgentLiveness, useFactory: () => new AgentLiveness() },
  ],
  exports: [DomainEvents, AttemptRegistry, AgentLiveness],
})
export class CommonModule {}
