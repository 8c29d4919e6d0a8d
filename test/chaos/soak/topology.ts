import * as path from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';
import {
  promotePrivatePostgres,
  startPrivatePostgres,
  startPrivateRedis,
  startPrivateRedisReplica,
  startPrivateRedisReplicaOn,
  startPrivateSentinel,
  startPrivateStandby,
  waitFor,
  type PrivateService,
} from '@jr/testing';

/**
 * The soak's PostgreSQL: a primary and a streaming standby (pg_basebackup -R) on two ports fixed for the
 * run, so DATABASE_URL can list both (`postgres://u@127.0.0.1:P1,127.0.0.1:P2/db`) once and for all. A
 * promotion swaps the roles; the next standby is rebuilt on the old primary's port in a fresh data dir
 * (the old primary may hold commits its standby never saw: it has diverged and is not restarted).
 * Replication is synchronous while a standby streams (an acknowledged job must survive a promotion) and
 * asynchronous while none does (synchronous with no standby would stop every commit).
 */
export class PgPair {
  private generation = 0;
  /** The two ports, in DATABASE_URL's order (the first primary's first), for the whole run. */
  readonly ports: readonly [number, number];

  private constructor(
    private readonly base: string,
    public primary: PrivateService,
    public standby: PrivateService,
  ) {
    this.ports = [primary.port, standby.port];
  }

  static async start(base: string): Promise<PgPair> {
    const primary = await startPrivatePostgres(path.join(base, 'pg-0'));
    const standby = await startPrivateStandby(path.join(base, 'pg-1'), primary);
    const pair = new PgPair(base, primary, standby);
    pair.generation = 2;
    await pair.synchronous(true);
    return pair;
  }

  /** A URL on the first primary rewritten to list both ports (the same list whichever is primary now). */
  databaseUrl(url: string): string {
    const [p1, p2] = this.ports;
    return url.replace(`127.0.0.1:${p1}`, `127.0.0.1:${p1},127.0.0.1:${p2}`);
  }

  /** SIGKILL the primary, hold (no writable host), promote the standby. */
  async killAndPromote(holdMs: number): Promise<void> {
    await this.primary.kill();
    await new Promise((r) => setTimeout(r, holdMs));
    promotePrivatePostgres(this.standby);
    [this.primary, this.standby] = [this.standby, this.primary];
    await this.synchronous(false);
  }

  /** A fresh standby of the current primary on the dead one's port; synchronous again once it streams. */
  async rebuildStandby(): Promise<number> {
    const t0 = Date.now();
    const port = this.standby.port;
    await this.standby.kill();
    this.standby = await startPrivateStandby(path.join(this.base, `pg-${this.generation++}`), this.primary, port);
    await waitFor(async () => (await this.streaming()) > 0, { timeoutMs: 60_000, what: 'the new standby to stream' });
    await this.synchronous(true);
    return Date.now() - t0;
  }

  private async streaming(): Promise<number> {
    const rows = await sql<{ n: string }>(
      this.primary,
      `SELECT count(*)::text AS n FROM pg_stat_replication WHERE state = 'streaming'`,
    );
    return Number(rows[0]?.n ?? 0);
  }

  private async synchronous(on: boolean): Promise<void> {
    await sql(this.primary, `ALTER SYSTEM SET synchronous_standby_names = '${on ? '*' : ''}'`);
    await sql(this.primary, 'SELECT pg_reload_conf()');
  }

  async stop(): Promise<void> {
    await this.standby.stop().catch(() => undefined);
    await this.primary.stop().catch(() => undefined);
  }
}

async function sql<T extends object>(pg: PrivateService, text: string): Promise<T[]> {
  const c = new Client({ connectionString: pg.url, connectionTimeoutMillis: 5_000 });
  await c.connect();
  try {
    return (await c.query<T>(text)).rows;
  } finally {
    await c.end();
  }
}

export const SENTINEL_MASTER = 'jrsoak';

/**
 * The soak's Redis: a master, a replica and one Sentinel (quorum 1, down after 1 s) watching it, so
 * REDIS_URL is `redis+sentinel://127.0.0.1:S/jrsoak`. Which server is the master is Sentinel's call;
 * this follows it.
 */
export class RedisSet {
  private constructor(
    private readonly base: string,
    public master: PrivateService,
    public replica: PrivateService,
    readonly sentinel: PrivateService,
  ) {}

  static async start(base: string): Promise<RedisSet> {
    const master = await startPrivateRedis(base);
    const replica = await startPrivateRedisReplica(base, master);
    const set = new RedisSet(base, master, replica, await startPrivateSentinel(base, master, SENTINEL_MASTER));
    await set.waitSynced();
    return set;
  }

  get url(): string {
    return `redis+sentinel://127.0.0.1:${this.sentinel.port}/${SENTINEL_MASTER}`;
  }

  /** SIGKILL the master; resolves once Sentinel names the replica master and it answers as one. */
  async killMaster(): Promise<void> {
    await this.master.kill();
    const promoted = this.replica;
    await waitFor(async () => (await this.masterPort()) === promoted.port && (await role(promoted)) === 'master', {
      timeoutMs: 60_000,
      intervalMs: 100,
      what: 'Sentinel to promote the replica',
    });
    [this.master, this.replica] = [promoted, this.master];
  }

  /** A new replica of the master (a port of its own: Sentinel finds replicas through the master). */
  async addReplica(): Promise<number> {
    const t0 = Date.now();
    await this.replica.kill();
    const replica = await startPrivateRedisReplica(this.base, this.master);
    this.replica = replica;
    await this.waitSynced();
    // Sentinel learns replicas from the master's INFO (every 10 s): the next failover needs this one known
    await waitFor(async () => (await this.knownReplicaPorts()).includes(replica.port), {
      timeoutMs: 30_000,
      intervalMs: 200,
      what: 'Sentinel to know the new replica',
    });
    return Date.now() - t0;
  }

  /** Every Redis server SIGKILLed, held, started again empty on the same ports (master first). */
  async killAll(holdMs: number): Promise<void> {
    const [m, r] = [this.master.port, this.replica.port];
    await Promise.all([this.master.kill(), this.replica.kill()]);
    await new Promise((res) => setTimeout(res, holdMs));
    this.master = await startPrivateRedis(this.base, m);
    // the replica only once Sentinel sees the master up again: an empty replica must not be promoted
    await waitFor(async () => !(await this.masterDown()), { timeoutMs: 30_000, what: 'Sentinel to see the master' });
    this.replica = await startPrivateRedisReplicaOn(this.base, this.master, r);
    await this.waitSynced();
  }

  private async waitSynced(): Promise<void> {
    await waitFor(async () => /master_link_status:up/.test(await info(this.replica.port, 'replication')), {
      timeoutMs: 30_000,
      what: 'the Redis replica to sync',
    });
  }

  private async masterPort(): Promise<number | undefined> {
    const addr = (await sentinelCall(this.sentinel.port, 'get-master-addr-by-name', SENTINEL_MASTER)) as
      string[] | null;
    return addr ? Number(addr[1]) : undefined;
  }

  private async knownReplicaPorts(): Promise<number[]> {
    const list = (await sentinelCall(this.sentinel.port, 'replicas', SENTINEL_MASTER)) as string[][];
    return list.map((fields) => Number(fields[fields.indexOf('port') + 1]));
  }

  private async masterDown(): Promise<boolean> {
    const fields = (await sentinelCall(this.sentinel.port, 'master', SENTINEL_MASTER)) as string[];
    const flags = fields[fields.indexOf('flags') + 1] ?? '';
    return flags.includes('s_down') || flags.includes('o_down') || (await this.masterPort()) !== this.master.port;
  }

  async stop(): Promise<void> {
    for (const s of [this.sentinel, this.replica, this.master]) await s.stop().catch(() => undefined);
  }
}

async function withRedis<T>(port: number, fn: (c: Redis) => Promise<T>): Promise<T> {
  const c = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2_000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return await fn(c);
  } finally {
    c.disconnect();
  }
}

const info = (port: number, section: string): Promise<string> =>
  withRedis(port, (c) => c.info(section)).catch(() => '');

const role = async (s: PrivateService): Promise<string> =>
  /^role:(\w+)/m.exec(await info(s.port, 'replication'))?.[1] ?? '';

const sentinelCall = (port: number, ...args: string[]): Promise<unknown> =>
  withRedis(port, (c) => c.call('SENTINEL', ...args));
