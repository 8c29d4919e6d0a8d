import * as path from 'node:path';
import { Global, Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { Journal } from '@jr/journal';
import type { AppConfig } from '../config/app-config';
import type { Logger } from '../common/logger';

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

export interface ApiJournals {
  intake: Journal;
  results: Journal;
}

/**
 * Opens (and recovers) both journals before anything else of the API exists: a journal that cannot be
 * recovered stops the start with nothing else to tear down, and the other journal is closed again.
 */
export async function openApiJournals(config: AppConfig, log: Logger): Promise<ApiJournals> {
  const intake = await openApiJournal(config, log, 'intake');
  try {
    return { intake, results: await openApiJournal(config, log, 'results') };
  } catch (err) {
    await intake.close();
    throw err;
  }
}

/** The API's two journals, opened by `openApiJournals` before the application is built; closed at shutdown. */
@Global()
@Module({})
export class JournalModule {
  static forRoot(journals: ApiJournals): DynamicModule {
    return {
      module: JournalModule,
      providers: [{ provide: INTAKE_JOURNAL, useValue: journals.intake }, { provide: RESULTS_JOURNAL, useValue: journals.results }, JournalLifecycle],
      exports: [INTAKE_JOURNAL, RESULTS_JOURNAL],
    };
  }
}
