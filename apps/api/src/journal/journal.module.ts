import * as path from 'node:path';
import { Global, Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { Journal } from '@jr/journal';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { LOGGER, type Logger } from '../common/logger';

export const INTAKE_JOURNAL = Symbol('IntakeJournal');

@Injectable()
export class JournalLifecycle implements OnApplicationShutdown {
  constructor(@Inject(INTAKE_JOURNAL) private readonly journal: Journal) {}

  async onApplicationShutdown(): Promise<void> {
    await this.journal.close();
  }
}

/** The intake journal: `<JR_DATA_DIR>/intake`, bounded by JR_JOURNAL_MAX_BYTES of unapplied records. */
@Global()
@Module({
  providers: [
    {
      provide: INTAKE_JOURNAL,
      inject: [APP_CONFIG, LOGGER],
      useFactory: (config: AppConfig, log: Logger): Promise<Journal> =>
        Journal.open({
          dir: path.resolve(config.dataDir, 'intake'),
          maxTotalBytes: config.journalMaxBytes,
          // a segment counts whole until every record in it is applied: keep segments small against the cap
          segmentMaxBytes: Math.min(64 * 1024 * 1024, Math.max(1024 * 1024, Math.floor(config.journalMaxBytes / 8))),
          logger: { warn: (message, details) => log.warn({ details }, message) },
        }),
    },
    JournalLifecycle,
  ],
  exports: [INTAKE_JOURNAL],
})
export class JournalModule {}
