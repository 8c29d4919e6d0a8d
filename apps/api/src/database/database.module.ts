import { Global, Inject, Injectable, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Client, Pool } from 'pg';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { LOGGER, type Logger } from '../common/logger';
import { migrate, readMigrations, type Migration } from './migrator';
import { isReadOnlyServer } from './db-errors';
import { PrimaryLocator, primaryClient } from './primary-client';

export const PG_POOL = Symbol('PgPool');
export const PG_LOCATOR = Symbol('PgPrimaryLocator');

/** How often a start-up beside a read-only server tries again (promotion is seen within this). */
const READ_ONLY_RETRY_MS = 250;

/** Applies the migrations at start-up and closes the pool last at shutdown. */
@Injectable()
export class DatabaseLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(PG_LOCATOR) private readonly locator: PrimaryLocator,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  async onModuleInit(): Promise<void> {
    // several hosts: migrations (and the first connections) go to the writable one
    if (this.locator.multiHost && !(await this.locator.locate()))
      this.log.warn('postgres: none of the DATABASE_URL hosts takes writes yet; start-up waits on the first');
    const migrations = await readMigrations();
    const ran = await this.migrateOnceWritable(migrations);
    if (ran.length > 0) this.log.info({ versions: ran }, 'database migrations applied');
  }

  /**
   * A replica of a standby site starts beside a hot standby: it waits (not listening yet) until that server is
   * promoted, instead of exiting and restarting in a loop. Only a read-only answer waits: an unreachable or
   * misconfigured server still fails the start-up with its own message.
   */
  private async migrateOnceWritable(migrations: Migration[]): Promise<number[]> {
    let waitingSince: number | undefined;
    let noticeAt = 0;
    for (;;) {
      try {
        const ran = await this.migrateOrCreate(migrations);
        if (waitingSince !== undefined)
          this.log.info({ waitedMs: Date.now() - waitingSince }, 'postgres takes writes now: start-up goes on');
        return ran;
      } catch (err) {
        if (!isReadOnlyServer(err)) throw err;
        waitingSince ??= Date.now();
        if (Date.now() >= noticeAt) {
          this.log.warn('postgres is read-only (a standby): start-up waits until it is promoted');
          noticeAt = Date.now() + 30_000;
        }
        if (this.locator.multiHost) await this.locator.locate();
        await new Promise((resolve) => setTimeout(resolve, READ_ONLY_RETRY_MS));
      }
    }
  }

  private migrateOrCreate(migrations: Migration[]): Promise<number[]> {
    return migrate(this.pool, migrations).catch(async (err: unknown) => {
      if ((err as { code?: unknown }).code !== '3D000') throw err;
      await createDatabase(this.locator.current.url);
      this.log.info('database created');
      return migrate(this.pool, migrations);
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end();
  }
}

/** First start against a server without our database (3D000): create it through the `postgres` database. */
async function createDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(name))
    throw new Error(`database ${JSON.stringify(name)} does not exist and its name is not one to create automatically`);
  url.pathname = '/postgres';
  const admin = new Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`).catch((err: unknown) => {
      if ((err as { code?: unknown }).code !== '42P04') throw err;
    });
  } finally {
    await admin.end();
  }
}

@Global()
@Module({
  providers: [
    {
      provide: PG_LOCATOR,
      inject: [APP_CONFIG, LOGGER],
      useFactory: (config: AppConfig, log: Logger): PrimaryLocator => new PrimaryLocator(config.databaseEndpoints, log),
    },
    {
      provide: PG_POOL,
      inject: [PG_LOCATOR, LOGGER],
      useFactory: (locator: PrimaryLocator, log: Logger): Pool => {
        const pool = new Pool({
          connectionString: locator.current.url,
          Client: primaryClient(locator),
          max: 16,
          connectionTimeoutMillis: 5_000,
          idleTimeoutMillis: 30_000,
        });
        pool.on('error', (err) => log.warn({ err: err.message }, 'postgres idle client error'));
        // A client checked out of the pool has no error listener of pg's: when Postgres goes away
        // (restart, crash, terminated backend) between its queries, its 'error' event would crash the
        // process. Every client gets one of ours for its whole life; a broken client leaves the pool on release.
        pool.on('connect', (client) =>
          client.on('error', (err) => log.warn({ err: err.message }, 'postgres connection lost')),
        );
        return pool;
      },
    },
    DatabaseLifecycle,
  ],
  exports: [PG_POOL, PG_LOCATOR],
})
export class DatabaseModule {}
