import * as path from 'node:path';
import { Global, Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { Journal } from '@jr/journal';
import type { AppConfig } from '../config/app-config';
import type { Logger } from '../common/logger';
import type { ApiMetrics } from '../telemetry/api-metrics';
import { lockDataDir, type DataDirLock } from './data-dir-lock';

/** Submissions (POST /v1/jobs): `<JR_DATA_DIR>/intake`. */
export const INTAKE_JOURNAL = Symbol('IntakeJournal');
/** Agents' reports and completions: `<JR_DATA_DIR>/results`. */
export const RESULTS_JOURNAL = Symbol('ResultsJournal');

const API_JOURNALS = Symbol('ApiJournals');

@Injectable()
export class JournalLifecycle implements OnApplicationShutdown {
  constructor(@Inject(API_JOURNALS) private readonly journals: ApiJournals) {}

  async onApplicationShutdown(): Promise<void> {
    await closeApiJournals(this.journals);
  }
}

/** Each journal is bounded by JR_JOURNAL_MAX_BYTES of unapplied records; recovery runs in `open`. */
export function openApiJournal(
  config: AppConfig,
  log: Logger,
  name: 'intake' | 'results',
  metrics?: ApiMetrics,
): Promise<Journal> {
  return Journal.open({
    dir: path.resolve(config.dataDir, name),
    maxTotalBytes: config.journalMaxBytes,
    // a segment counts whole until every record in it is applied: keep segments small against the cap
    segmentMaxBytes: Math.min(64 * 1024 * 1024, Math.max(1024 * 1024, Math.floor(config.journalMaxBytes / 8))),
    logger: { warn: (message, details) => log.warn({ journal: name, details }, message) },
    ...(metrics
      ? { onSync: (seconds: number) => metrics.journalFsyncDuration.observe({ journal: name }, seconds) }
      : {}),
  });
}

export interface ApiJournals {
  intake: Journal;
  results: Journal;
  lock: DataDirLock;
}

/**
 * Opens (and recovers) both journals before anything else of the API exists: a journal that cannot be
 * recovered stops the start with nothing else to tear down, and the other journal is closed again.
 */
export async function openApiJournals(config: AppConfig, log: Logger, metrics?: ApiMetrics): Promise<ApiJournals> {
  const lock = await lockDataDir(path.resolve(config.dataDir));
  const opened: Journal[] = [];
  try {
    const intake = await openApiJournal(config, log, 'intake', metrics);
    opened.push(intake);
    return { intake, results: await openApiJournal(config, log, 'results', metrics), lock };
  } catch (err) {
    await Promise.all(opened.map((j) => j.close()));
    await lock.release();
    throw err;
  }
}

/** Closes both journals, then gives the data directory up. */
export async function closeApiJournals(j: ApiJournals): Promise<void> {
  await Promise.all([j.intake.close(), j.results.close()]);
  await j.lock.release();
}

/** The API's two journals, opened by `openApiJournals` before the application is built; closed at shutdown. */
@Global()
@Module({})
export class JournalModule {
  static forRoot(journals: ApiJournals): DynamicModule {
    return {
      module: JournalModule,
      providers: [
        { provide: API_JOURNALS, useValue: journals },
        { provide: INTAKE_JOURNAL, useValue: journals.intake },
        { provide: RESULTS_JOURNAL, useValue: journals.results },
        JournalLifecycle,
      ],
      exports: [INTAKE_JOURNAL, RESULTS_JOURNAL],
    };
  }
}
