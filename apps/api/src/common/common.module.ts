import { Global, Module } from '@nestjs/common';
import { DomainEvents } from './events';
import { Metrics } from './metrics';

@Global()
@Module({
  providers: [
    { provide: DomainEvents, useValue: new DomainEvents() },
    { provide: Metrics, useValue: new Metrics() },
  ],
  exports: [DomainEvents, Metrics],
})
export class CommonModule {}
