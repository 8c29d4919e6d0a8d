import type Redis from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Rate } from '../config/limits.schema';
import { redisConnection, type RedisTarget } from '../queue/redis-target';

/** What a counter answered: allowed or not, how much is left in the window and when it resets. */
export interface Count {
  allowed: boolean;
  /** Points consumed in the current window (past `rate.points` when refused, or while blocked). */
  consumed: number;
  /** Milliseconds until the window (or a block) ends. */
  resetMs: number;
}

/**
 * One named fixed-window counter (rate-limiter-flexible's RateLimiterRedis) shared by every API replica
 * through Redis. While Redis is unreachable or failing, decisions come from an in-memory twin of the
 * same limit (per process, so N replicas admit up to N times the rate) and `onStoreError` is told:
 * limits fail open to per-replica limits, never closed (intake must keep accepting durable jobs).
 */
export class RateCounter {
  private readonly store: RateLimiterRedis;
  private readonly memory: RateLimiterMemory;

  constructor(
    client: Redis,
    keyPrefix: string,
    readonly rate: Rate,
    private readonly onStoreError: (err: unknown) => void,
  ) {
    const opts = { keyPrefix, points: rate.points, duration: rate.windowMs / 1_000 };
    this.store = new RateLimiterRedis({ ...opts, storeClient: client, rejectIfRedisNotReady: true });
    this.memory = new RateLimiterMemory(opts);
  }

  consume(key: string): Promise<Count> {
    return this.withFallback((l) => l.consume(key));
  }

  /** The current count without consuming; undefined when the key has no window open. */
  async peek(key: string): Promise<Count | undefined> {
    const res = await this.withFallback(async (l) => (await l.get(key)) ?? new RateLimiterRes(this.rate.points, 0, 0));
    return res.consumed === 0 ? undefined : res;
  }

  /** Refuses the key for `ms` (a lockout). */
  async block(key: string, ms: number): Promise<void> {
    await this.withFallback((l) => l.block(key, Math.ceil(ms / 1_000)));
  }

  private async withFallback(op: (l: RateLimiterAbstract) => Promise<RateLimiterRes>): Promise<Count> {
    try {
      return this.count(await op(this.store), true);
    } catch (err) {
      if (err instanceof RateLimiterRes) return this.count(err, false);
      this.onStoreError(err);
    }
    try {
      return this.count(await op(this.memory), true);
    } catch (err) {
      if (err instanceof RateLimiterRes) return this.count(err, false);
      throw err;
    }
  }

  private count(res: RateLimiterRes, resolved: boolean): Count {
    const consumed = res.consumedPoints;
    return { allowed: resolved && consumed <= this.rate.points, consumed, resetMs: Math.max(0, res.msBeforeNext) };
  }
}

/**
 * The limits' own Redis connection (never the queues': a slow limiter must not stall dispatch). It fails
 * fast while Redis is down (no offline queue, short command timeout) so a request is never held up by
 * the limiter; keys live under `<JR_QUEUE_PREFIX>:rl:<limit>:`.
 */
export class RateLimitRepository {
  private readonly client: Redis;

  constructor(
    redis: RedisTarget,
    private readonly prefix: string,
    private readonly onStoreError: (err: unknown) => void,
  ) {
    this.client = redisConnection(redis, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: 1_000,
      connectTimeout: 5_000,
      // a request's two or three counters (and concurrent requests') go out in one write
      enableAutoPipelining: true,
    });
    this.client.on('error', () => undefined);
  }

  counter(name: string, rate: Rate): RateCounter {
    return new RateCounter(this.client, `${this.prefix}:rl:${name}`, rate, this.onStoreError);
  }

  close(): void {
    this.client.disconnect();
  }
}
