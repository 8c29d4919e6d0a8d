/**
 * One "site" of the failover drill: its own PostgreSQL (a primary, or a streaming standby of the other
 * site's), its own Redis and one jr-api process, all on loopback ports fixed for the site's life so the
 * endpoint lists agents and clients hold stay valid across crashes and rebuilds.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from 'pg';
import {
  freePort,
  promotePrivatePostgres,
  spawnApiProcess,
  startPrivatePostgres,
  startPrivateRedis,
  startPrivateStandby,
  waitForApiReady,
  type ApiProcessOptions,
  type ManagedProcess,
  type PrivateService,
} from '@jr/testing';

/** What both sites share: the deployment's credentials, certificates and queue prefix. */
export interface SiteCommon {
  adminToken: string;
  enrollToken: string;
  queuePrefix: string;
  heartbeatInterval: string;
  /** JR_TLS_CERT/KEY, JR_AGENT_CA_CERT/KEY and the rest of the API's environment. */
  apiEnv: Record<string, string>;
  caFile: string;
}

export class Site {
  pg!: PrivateService;
  redis!: PrivateService;
  api: ManagedProcess | undefined;
  private generation = 0;
  private redisDown = false;

  private constructor(
    readonly name: string,
    readonly dir: string,
    readonly httpPort: number,
    readonly grpcPort: number,
    private readonly common: SiteCommon,
  ) {}

  static async create(name: string, baseDir: string, common: SiteCommon): Promise<Site> {
    const dir = path.join(baseDir, `site-${name}`);
    fs.mkdirSync(dir, { recursive: true, mode: 0o711 });
    return new Site(name, dir, await freePort(), await freePort(), common);
  }

  get grpcAddress(): string {
    return `127.0.0.1:${this.grpcPort}`;
  }

  get restUrl(): string {
    return `https://127.0.0.1:${this.httpPort}`;
  }

  get databaseUrl(): string {
    return `postgres://postgres@127.0.0.1:${this.pg.port}/jobrunner`;
  }

  /** A fresh primary (the active site at the start). */
  async startPrimary(): Promise<void> {
    this.pg = await startPrivatePostgres(this.pgDir());
    this.redis = await startPrivateRedis(path.join(this.dir, 'redis'));
  }

  /**
   * A fresh streaming standby of `of` (pg_basebackup -R into a new directory: an old primary that died
   * with commits its standby never saw has diverged, so it is rebuilt, not restarted) and a Redis of its own.
   */
  async startStandbyOf(of: Site): Promise<void> {
    this.pg = await startPrivateStandby(this.pgDir(), of.pg);
    if (!this.redis) this.redis = await startPrivateRedis(path.join(this.dir, 'redis'));
    else if (this.redisDown) await this.redis.start(); // empty: the API re-queues from PostgreSQL
    this.redisDown = false;
  }

  promote(): void {
    promotePrivatePostgres(this.pg);
  }

  /** Commits on the primary wait for this site's standby (RPO 0 for a site loss; each commit pays a round trip). */
  async requireSynchronousStandby(): Promise<void> {
    await this.sql("ALTER SYSTEM SET synchronous_standby_names = '*'");
    await this.sql('SELECT pg_reload_conf()');
  }

  /** The API process, started without waiting: beside a standby it waits for the promotion. */
  spawnApi(): ManagedProcess {
    this.api = spawnApiProcess(this.apiOptions(), path.join(this.dir, 'api.log'));
    return this.api;
  }

  async waitReady(timeoutMs = 60_000): Promise<void> {
    if (!this.api) throw new Error(`site ${this.name}: no API started`);
    await waitForApiReady(this.apiOptions(), this.api, timeoutMs);
  }

  /** The whole site is lost at once: its API, PostgreSQL and Redis SIGKILLed. */
  async crash(): Promise<void> {
    await Promise.all([this.api?.kill(), this.pg.kill(), this.redis.kill()]);
    this.redisDown = true;
  }

  async sql<T extends object>(text: string, values: unknown[] = [], database = 'postgres'): Promise<T[]> {
    const c = new Client({ connectionString: `postgres://postgres@127.0.0.1:${this.pg.port}/${database}` });
    await c.connect();
    try {
      return (await c.query<T>(text, values)).rows;
    } finally {
      await c.end();
    }
  }

  /** True once this standby has replayed everything `primary` has written so far. */
  async caughtUpWith(primary: Site): Promise<boolean> {
    const [current] = await primary.sql<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    const [row] = await this.sql<{ behind: boolean }>('SELECT pg_last_wal_replay_lsn() < $1::pg_lsn AS behind', [
      current?.lsn,
    ]);
    return row?.behind === false;
  }

  async stopAll(): Promise<void> {
    await this.api?.stop(10_000).catch(() => undefined);
    await this.pg?.stop().catch(() => undefined);
    await this.redis?.stop().catch(() => undefined);
  }

  private pgDir(): string {
    return path.join(this.dir, `pg-${this.generation++}`);
  }

  private apiOptions(): ApiProcessOptions {
    return {
      httpPort: this.httpPort,
      grpcPort: this.grpcPort,
      dataDir: path.join(this.dir, 'api-data'),
      redisUrl: this.redis.url,
      databaseUrl: this.databaseUrl,
      adminToken: this.common.adminToken,
      enrollToken: this.common.enrollToken,
      queuePrefix: this.common.queuePrefix,
      heartbeatInterval: this.common.heartbeatInterval,
      extraEnv: { ...this.common.apiEnv, JR_REPLICA_ID: `site-${this.name}` },
      caFile: this.common.caFile,
    };
  }
}
