import { Global, Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { QueueFactory } from './queue-factory';

export const QUEUE_FACTORY = Symbol('QueueFactory');

@Injectable()
export class QueueLifecycle implements OnApplicationShutdown {
  constructor(@Inject(QUEUE_FACTORY) private readonly factory: QueueFactory) {}

  async onApplicationShutdown(): Promise<void> {
    await this.factory.close();
  }
}

@Global()
@Module({
  providers: [
    {
      provide: QUEUE_FACTORY,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => new QueueFactory(config.redis, config.queuePrefix),
    },
    QueueLifecycle,
  ],
  exports: [QUEUE_FACTORY],
})
export class QueueModule {}
