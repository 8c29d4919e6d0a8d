import type Redis from 'ioredis';
import { redisConnection, type RedisTarget } from '../queue/redis-target';

/** Per HSET/HDEL: jobs in one command (a resync of a large backlog is sent in pieces, inside one MULTI). */
const CHUNK = 1_000;

/**
 * Which replica holds ARGV[1] unapplied, and the job's pool: the first hash among the index's members
 * that has it ({hash, pool}), or false. KEYS[1] the index; one round trip, atomic against the writes.
 */
const HOLDER = `
for _, hash in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local pool = redis.call('HGET', hash, ARGV[1])
  if pool then return {hash, pool} end
end
return false
`;

interface DirectoryCommands {
  jrUnappliedHolder(index: string, id: string): Promise<[string, string] | null>;
}

/** A job acknowledged and not yet applied: its id and pool. */
export interface UnappliedJob {
  id: string;
  pool: string;
}

/** Where a job is held unapplied: the replica, and the job's pool (a pool-restricted caller sees only its own). */
export interface Holder {
  replica: string;
  pool: string;
}

const fields = (jobs: readonly UnappliedJob[]): string[] => jobs.flatMap((j) => [j.id, j.pool]);

/** A MULTI or pipeline failed as a whole (null) or in one of its commands: throw that error. */
function throwOnError(replies: Array<[Error | null, unknown]> | null): void {
  if (replies === null) throw new Error('Redis discarded the transaction');
  const failed = replies.find(([err]) => err !== null)?.[0];
  if (failed) throw failed;
}

/**
 * The jobs each replica has acknowledged (journaled) but not yet applied to Postgres, shared in Redis so
 * another replica can tell "unknown" from "accepted elsewhere, on its way": one hash per replica (job id
 * to pool), `<prefix>:unapplied:<replica>`, listed in `<prefix>:unapplied`. A hash expires when its replica stops
 * refreshing it (`ttlMs`). Its own connection, failing fast while Redis is down: no offline queue, no
 * retries, a short command timeout. Commands on this one connection reach Redis in the order sent.
 */
export class UnappliedDirectoryRepository {
  private readonly client: Redis & DirectoryCommands;
  private readonly index: string;

  constructor(
    redis: RedisTarget,
    private readonly prefix: string,
    commandTimeoutMs: number,
    connectionName: string,
  ) {
    const client = redisConnection(redis, {
      connectionName,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: commandTimeoutMs,
      connectTimeout: 5_000,
      enableAutoPipelining: true,
    });
    client.defineCommand('jrUnappliedHolder', { numberOfKeys: 1, lua: HOLDER });
    client.on('error', () => undefined);
    this.client = client as Redis & DirectoryCommands;
    this.index = `${prefix}:unapplied`;
  }

  get ready(): boolean {
    return this.client.status === 'ready';
  }

  /** Called on every (re)connection: whatever changed while disconnected must be written again. */
  onReady(listener: () => void): void {
    this.client.on('ready', listener);
  }

  private key(replica: string): string {
    return `${this.prefix}:unapplied:${replica}`;
  }

  /** Adds to the replica's hash and renews its TTL (a hash an empty resync deleted is created here). */
  async add(replica: string, jobs: readonly UnappliedJob[], ttlMs: number): Promise<void> {
    const key = this.key(replica);
    throwOnError(
      await this.client
        .pipeline()
        .hset(key, ...fields(jobs))
        .pexpire(key, ttlMs)
        .exec(),
    );
  }

  async remove(replica: string, ids: string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += CHUNK) await this.client.hdel(this.key(replica), ...ids.slice(i, i + CHUNK));
  }

  /** The replica's hash becomes exactly `jobs` (atomically), listed in the index, expiring after `ttlMs`. */
  async replace(replica: string, jobs: readonly UnappliedJob[], ttlMs: number): Promise<void> {
    const key = this.key(replica);
    const tx = this.client.multi().del(key);
    for (let i = 0; i < jobs.length; i += CHUNK) tx.hset(key, ...fields(jobs.slice(i, i + CHUNK)));
    if (jobs.length > 0) tx.pexpire(key, ttlMs);
    tx.sadd(this.index, key);
    throwOnError(await tx.exec());
  }

  /** The replica's hash is gone (its journal was replayed elsewhere: nothing it held is unapplied). */
  async clear(replica: string): Promise<void> {
    const key = this.key(replica);
    throwOnError(await this.client.multi().del(key).srem(this.index, key).exec());
  }

  /** Resolves once connected; throws after `ms`. */
  async connected(ms: number): Promise<void> {
    if (this.ready) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Redis not reachable within ${ms} ms`)), ms);
      this.client.once('ready', () => (clearTimeout(timer), resolve()));
    });
  }

  /** The replica whose hash holds `id` and the job's pool, or null when none does. */
  async holder(id: string): Promise<Holder | null> {
    const found = await this.client.jrUnappliedHolder(this.index, id);
    return found === null ? null : { replica: found[0].slice(this.key('').length), pool: found[1] };
  }

  close(): void {
    this.client.disconnect();
  }
}
