import { Global, Module } from '@nestjs/common';
import { AgentLiveness } from './agent-liveness';
import { AttemptRegistry } from './attempt-registry';
import { DomainEvents } from './events';

@Global()
@Module({
  providers: [
    { provide: DomainEvents, useValue: new DomainEvents() },
    // per application instance: an API restarted inside one process must not inherit another's overlay
    { provide: AttemptRegistry, useFactory: () => new AttemptRegistry() },
    { provide: AgentLiveness, useFactory: () => new AgentLiveness() },
  ],
  exports: [DomainEvents, AttemptRegistry, AgentLiveness],
})
export class CommonModule {}
