import { Global, Inject, Injectable, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Pool } from 'pg';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { LOGGER, type Logger } from '../common/logger';
import { migrate, readMigrations } from './migrator';

export const PG_POOL = Symbol('PgPool');

/** Applies the migrations at start-up and closes the pool last at shutdown. */
@Injectable()
export class DatabaseLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  async onModuleInit(): Promise<void> {
    const ran = await migrate(this.pool, await readMigrations());
    if (ran.length > 0) this.log.info({ versions: ran }, 'database migrations applied');
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end();
  }
}

@Global()
@Module({
  providers: [
    {
      provide: PG_POOL,
      inject: [APP_CONFIG, LOGGER],
      useFactory: (config: AppConfig, log: Logger): Pool => {
        const pool = new Pool({ connectionString: config.databaseUrl, max: 16, connectionTimeoutMillis: 5_000, idleTimeoutMillis: 30_000 });
        pool.on('error', (err) => log.warn({ err: err.message }, 'postgres idle client error'));
        return pool;
      },
    },
    DatabaseLifecycle,
  ],
  exports: [PG_POOL],
})
export class DatabaseModule {}
