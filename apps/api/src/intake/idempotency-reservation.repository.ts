import type Redis from 'ioredis';
import { redisConnection, type RedisTarget } from '../queue/redis-target';

/**
 * What one atomic look at a key's reservation found:
 * - `reserved`: there was none; `value` (pending, ours) is now there;
 * - `taken`: a pending one older than the staleness window (its replica died between reserving and
 *   journaling) was replaced by ours, `value`; `previous` is what it held;
 * - `pending`: another request holds it and has not journaled yet (`ageMs` by Redis' clock);
 * - `committed`: `value` is `<id>:<requestHash>` of an acknowledged (journaled) submission.
 */
export type ReserveResult =
  | { kind: 'reserved'; value: string }
  | { kind: 'taken'; value: string; previous: string }
  | { kind: 'pending'; value: string; ageMs: number }
  | { kind: 'committed'; value: string };

/**
 * GET, and SET when missing or pending for at least ARGV[2] ms. The pending value gets Redis' own time
 * appended (TIME: one clock for every replica, no skew between them). ARGV[1] the pending value
 * without its time, ARGV[3] the TTL in ms.
 */
const RESERVE = `
local v = redis.call('GET', KEYS[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if v then
  if string.sub(v, 1, 8) ~= 'pending:' then return {'committed', v} end
  local at = tonumber(string.match(v, ':(%d+)$'))
  if at and now - at < tonumber(ARGV[2]) then return {'pending', v, tostring(now - at)} end
end
local mine = ARGV[1] .. ':' .. now
redis.call('SET', KEYS[1], mine, 'PX', ARGV[3])
if v then return {'taken', mine, v} end
return {'reserved', mine}
`;

/** Whether the key holds our pending value: ARGV[1] (unique: it names a new job id) and RESERVE's time. */
const OURS = `
local v = redis.call('GET', KEYS[1])
local p = ARGV[1] .. ':'
local ours = v ~= false and string.sub(v, 1, #p) == p and string.match(string.sub(v, #p + 1), '^%d+$') ~= nil
`;

/** Compare-and-set: our pending value becomes ARGV[2] for ARGV[3] ms; 0 when it is not ours (any more). */
const COMMIT = `${OURS}
if ours then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
`;

/** Compare-and-delete of our pending value. */
const RELEASE = `${OURS}
if ours then return redis.call('DEL', KEYS[1]) end
return 0
`;

interface ReservationCommands {
  jrIdemReserve(key: string, pending: string, staleMs: number, ttlMs: number): Promise<string[]>;
  jrIdemCommit(key: string, pending: string, committed: string, ttlMs: number): Promise<number>;
  jrIdemRelease(key: string, pending: string): Promise<number>;
}

/**
 * Idempotency-Key reservations shared by every API replica, one Redis string per key under
 * `<JR_QUEUE_PREFIX>:idem:`. Its own connection (never the queues': a slow Redis must not stall
 * dispatch, and vice versa), failing fast while Redis is down: no offline queue, no retries, a short
 * command timeout. Every write is a Lua script, so each check-and-set is atomic across replicas.
 */
export class IdempotencyReservationRepository {
  private readonly client: Redis & ReservationCommands;

  constructor(
    redis: RedisTarget,
    private readonly prefix: string,
    commandTimeoutMs: number,
  ) {
    const client = redisConnection(redis, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: commandTimeoutMs,
      connectTimeout: 5_000,
      enableAutoPipelining: true,
    });
    client.defineCommand('jrIdemReserve', { numberOfKeys: 1, lua: RESERVE });
    client.defineCommand('jrIdemCommit', { numberOfKeys: 1, lua: COMMIT });
    client.defineCommand('jrIdemRelease', { numberOfKeys: 1, lua: RELEASE });
    client.on('error', () => undefined);
    this.client = client as Redis & ReservationCommands;
  }

  /** Connected (a command now gets an answer or an error at once; otherwise it fails without being sent). */
  get ready(): boolean {
    return this.client.status === 'ready';
  }

  /** The Redis key of a reservation: `digest` names the key without holding it (keys may be capabilities). */
  redisKey(digest: string): string {
    return `${this.prefix}:idem:${digest}`;
  }

  async reserve(digest: string, pending: string, staleMs: number, ttlMs: number): Promise<ReserveResult> {
    const answer = await this.client.jrIdemReserve(this.redisKey(digest), pending, staleMs, ttlMs);
    const [kind, value = '', extra = ''] = answer;
    if (kind === 'reserved' || kind === 'committed') return { kind, value };
    if (kind === 'taken') return { kind, value, previous: extra };
    if (kind === 'pending') return { kind, value, ageMs: Number(extra) };
    throw new Error(`unexpected reservation answer ${JSON.stringify(answer)}`);
  }

  /**
   * Our pending value (`pending` as given to `reserve`, whatever time Redis added) becomes `committed`;
   * false when it is not there: another replica took the reservation over, or it never landed.
   */
  async commit(digest: string, pending: string, committed: string, ttlMs: number): Promise<boolean> {
    return (await this.client.jrIdemCommit(this.redisKey(digest), pending, committed, ttlMs)) === 1;
  }

  /** Drops our pending value (the journal refused the submission); false when it is not there. */
  async release(digest: string, pending: string): Promise<boolean> {
    return (await this.client.jrIdemRelease(this.redisKey(digest), pending)) === 1;
  }

  close(): void {
    this.client.disconnect();
  }
}
