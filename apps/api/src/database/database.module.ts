import { Global, Inject, Injectable, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Client, Pool } from 'pg';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { LOGGER, type Logger } from '../common/logger';
import { migrate, readMigrations } from './migrator';
import { PrimaryLocator, primaryClient } from './primary-client';

export const PG_POOL = Symbol('PgPool');
export const PG_LOCATOR = Symbol('PgPrimaryLocator');

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
    const ran = await migrate(this.pool, migrations).catch(async (err: unknown) => {
      if ((err as { code?: unknown }).code !== '3D000') throw err;
      await createDatabase(this.locator.current.url);
      this.log.info('database created');
      return migrate(this.pool, migrations);
    });
    if (ran.length > 0) this.log.info({ versions: ran }, 'database migrations applied');
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
