import * as path from 'node:path';
import { Global, Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { Journal } from '@jr/journal';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { LOGGER, type Logger } from '../common/logger';

/** Submissions (POST /v1/jobs): `<JR_DATA_DIR>/intake`. */
export const INTAKE_JOURNAL = Symbol('IntakeJournal');
/** Agents' reports and completions: `<JR_DATA_DIR>/results`. */
export const RESULTS_JOURNAL = Symbol('ResultsJournal');

@Injectable()
export class JournalLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(INTAKE_JOURNAL) private readonly intake: Journal,
    @Inject(RESULTS_JOURNAL) private readonly results: Journal,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.intake.close(), this.results.close()]);
  }
}

/** Each journal is bounded by JR_JOURNAL_MAX_BYTES of unapplied records; recovery runs in `open`. */
export function openApiJournal(config: AppConfig, log: Logger, name: 'intake' | 'results'): Promise<Journal> {
  return Journal.open({
    dir: path.resolve(config.dataDir, name),
    maxTotalBytes: config.journalMaxBytes,
    // a segment counts whole until every record in it is applied: keep segments small against the cap
    segmentMaxBytes: Math.min(64 * 1024 * 1024, Math.max(1024 * 1024, Math.floor(config.journalMaxBytes / 8))),
    logger: { warn: (message, details) => log.warn({ journal: name, details }, message) },
  });
}

/** The API's two journals: opened (and recovered) before any module that writes to them starts. */
@Global()
@Module({
  providers: [
    { provide: INTAKE_JOURNAL, inject: [APP_CONFIG, LOGGER], useFactory: (c: AppConfig, l: Logger) => openApiJournal(c, l, 'intake') },
    { provide: RESULTS_JOURNAL, inject: [APP_CONFIG, LOGGER], useFactory: (c: AppConfig, l: Logger) => openApiJournal(c, l, 'results') },
    JournalLifecycle,
  ],
  exports: [INTAKE_JOURNAL, RESULTS_JOURNAL],
})
export class JournalModule {}
