import type Redis from 'ioredis';
import { redisConnection, type RedisTarget } from '../queue/redis-target';
import { parseRecord, type ReplicaRecord } from './replica-record';

/**
 * The replicas' records in Redis: `<prefix>:replica:<id>` (JSON, with a TTL: a replica that stops writing
 * drops out on its own) and the set `<prefix>:replicas` of ids ever written, to read them without a
 * SCAN over the queues' keys. Its own connection, failing fast while Redis is down.
 */
export class ReplicaRecordRepository {
  private readonly client: Redis;

  constructor(
    redis: RedisTarget,
    private readonly prefix: string,
  ) {
    this.client = redisConnection(redis, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: 1_000,
      connectTimeout: 5_000,
    });
    this.client.on('error', () => undefined);
  }

  private key(replica: string): string {
    return `${this.prefix}:replica:${replica}`;
  }

  async write(record: ReplicaRecord, ttlMs: number): Promise<void> {
    await this.client
      .multi()
      .set(this.key(record.replica), JSON.stringify(record), 'PX', ttlMs)
      .sadd(`${this.prefix}:replicas`, record.replica)
      .exec();
  }

  /** Every live replica's record (ids whose key expired are left out). */
  async readAll(): Promise<ReplicaRecord[]> {
    const ids = await this.client.smembers(`${this.prefix}:replicas`);
    if (ids.length === 0) return [];
    const texts = await this.client.mget(ids.map((id) => this.key(id)));
    return texts.flatMap((t) => parseRecord(t) ?? []);
  }

  close(): void {
    this.client.disconnect();
  }
}
