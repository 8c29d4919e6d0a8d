import { Inject, Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { redisConnection } from '../queue/redis-target';

/** The replicas' channel in Redis (`<JR_QUEUE_PREFIX>:events`): one connection publishes, one listens. */
@Injectable()
export class ReplicaBusRepository {
  private readonly channel: string;
  private publisher: Redis | undefined;
  private subscriber: Redis | undefined;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.channel = `${config.queuePrefix}:events`;
  }

  /** Listens from now on (ioredis subscribes again after every reconnect); rejects when Redis is away now. */
  async open(onMessage: (text: string) => void): Promise<void> {
    const options = { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 5_000 };
    this.publisher = redisConnection(this.config.redis, options);
    this.subscriber = redisConnection(this.config.redis, { ...options, enableOfflineQueue: true });
    for (const c of [this.publisher, this.subscriber]) c.on('error', () => undefined);
    this.subscriber.on('message', (channel: string, text: string) => channel === this.channel && onMessage(text));
    await this.subscriber.subscribe(this.channel);
  }

  async publish(text: string): Promise<void> {
    await this.publisher?.publish(this.channel, text);
  }

  close(): void {
    this.subscriber?.disconnect();
    this.publisher?.disconnect();
  }
}
