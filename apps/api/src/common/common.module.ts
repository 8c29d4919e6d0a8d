import { Global, Module } from '@nestjs/common';
import { AttemptRegistry } from './attempt-registry';
import { DomainEvents } from './events';
import { Metrics } from './metrics';

@Global()
@Module({
  providers: [
    { provide: DomainEvents, useValue: new DomainEvents() },
    { provide: Metrics, useValue: new Metrics() },
    // per application instance: an API restarted inside one process must not inherit another's overlay
    { provide: AttemptRegistry, useFactory: () => new AttemptRegistry() },
  ],
  exports: [DomainEvents, Metrics, AttemptRegistry],
})
export class CommonModule {}
