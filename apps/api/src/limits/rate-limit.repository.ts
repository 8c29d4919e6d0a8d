import type Redis from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Rate } from '../config/limits.schema';
import { redisConnection, type RedisTarget } from '../queue/redis-target';
import { blockSize, PointReservations } from './point-reservations';

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
 *
 * With `reserve`, a limit of a few hundred points or more takes them from Redis in blocks (1 % of the
 * limit, at most 32) and spends a block locally: a busy agent or token costs Redis one script call per
 * block instead of one per request, the replicas together still never admit more than the limit, and
 * each may refuse up to a block's worth early in a window (point-reservations.ts).
 */
export class RateCounter {
  private readonly store: RateLimiterRedis;
  private readonly memory: RateLimiterMemory;
  private readonly blocks: PointReservations;
  /** Blocks being taken, by key: calls for the same key wait for the one in flight. */
  private readonly taking = new Map<string, Promise<Count>>();

  constructor(
    private readonly client: Redis,
    keyPrefix: string,
    readonly rate: Rate,
    private readonly onStoreError: (err: unknown) => void,
    reserve = false,
  ) {
    const opts = { keyPrefix, points: rate.points, duration: rate.windowMs / 1_000 };
    this.store = new RateLimiterRedis({ ...opts, storeClient: client, rejectIfRedisNotReady: true });
    this.memory = new RateLimiterMemory(opts);
    this.blocks = new PointReservations(reserve ? blockSize(rate.points) : 1, rate.points);
  }

  async consume(key: string): Promise<Count> {
    if (this.blocks.size === 1) return this.withFallback((l) => l.consume(key));
    // Calls for a key whose block is being taken wait for it; one refused block refuses them all.
    for (;;) {
      const spent = this.blocks.spend(key);
      if (spent) return { allowed: true, ...spent };
      const pending = this.taking.get(key);
      if (!pending) break;
      const taken = await pending;
      if (!taken.allowed) return taken;
    }
    // the entry is gone before anyone awaiting the take resumes
    const take = this.takeBlock(key).finally(() => this.taking.delete(key));
    this.taking.set(key, take);
    return take;
  }

  private async takeBlock(key: string): Promise<Count> {
    const c = await this.withFallback((l) => l.consume(key, this.blocks.size));
    const first = this.blocks.took(key, c.consumed, c.resetMs);
    return first ? { allowed: true, ...first } : { ...c, allowed: false };
  }

  /**
   * The current count without consuming; undefined when the key has no window open. Asked on every
   * request (the lockout check), and almost always of a key that does not exist: one GET says so, where
   * the library's own read is a MULTI of four commands; the full read follows only for a key that exists.
   */
  async peek(key: string): Promise<Count | undefined> {
    if (await this.absentInStore(key)) return undefined;
    const res = await this.withFallback(async (l) => (await l.get(key)) ?? new RateLimiterRes(this.rate.points, 0, 0));
    return res.consumed === 0 ? undefined : res;
  }

  /** True when Redis answers that the key has no window; false when it has one or Redis cannot say. */
  private async absentInStore(key: string): Promise<boolean> {
    try {
      return (await this.client.get(this.store.getKey(key))) === null;
    } catch {
      return false; // the full read decides, and falls back to memory
    }
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

  /** `reserve`: requests are counted in blocks (RateCounter); never for counters whose exact count matters. */
  counter(name: string, rate: Rate, reserve = false): RateCounter {
    return new RateCounter(this.client, `${this.prefix}:rl:${name}`, rate, this.onStoreError, reserve);
  }

  close(): void {
    this.client.disconnect();
  }
}
