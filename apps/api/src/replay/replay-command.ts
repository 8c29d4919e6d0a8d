import * as path from 'node:path';
import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import type { Journal } from '@jr/journal';
import { createLogger, NestPinoLogger, type Logger } from '../common/logger';
import type { AppConfig } from '../config/app-config';
import { formatConfigErrors, loadConfig } from '../config/config.schema';
import { isDependencyDown } from '../database/db-errors';
import { lockDataDir, type DataDirLock } from '../journal/data-dir-lock';
import { openApiJournal } from '../journal/journal.module';
import { newApiMetrics } from '../telemetry/api-metrics';
import { checkDataDir, type JournalName } from './data-dir-check';
import { JournalReplayService } from './journal-replay.service';
import { ReplayModule } from './replay.module';
import {
  EMPTY_JOURNAL,
  failureLine,
  formatSummary,
  REPLAY_EXIT,
  unavailableLine,
  type JournalSummary,
  type ReplaySummary,
} from './replay-report';
import { keepTornTail, readLastSegmentTail } from './torn-tail';
import { forgetUnapplied } from './unapplied-cleanup';

export interface ReplayIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

export interface ReplayOptions {
  dataDir: string;
  json: boolean;
}

const PREFIX = 'jr-api journal replay: ';

/**
 * `jr-api journal replay --data-dir DIR`: applies a (dead) replica's journals to the Postgres of
 * DATABASE_URL and queues the jobs in Redis, through the API's own relays, then prints what it did.
 * Resolves to the exit code (REPLAY_EXIT); never throws.
 */
export async function journalReplay(o: ReplayOptions, env: NodeJS.ProcessEnv, io: ReplayIo): Promise<number> {
  const fail = (code: number, line: string): number => (io.stderr.write(`${PREFIX}${line}\n`), code);
  const dataDir = path.resolve(o.dataDir);
  const check = await checkDataDir(dataDir);
  if (!check.ok) return fail(REPLAY_EXIT.USAGE, check.reason);
  const loaded = loadConfig({ ...env, JR_DATA_DIR: dataDir }, 'replay');
  if (!loaded.ok) return (io.stderr.write(`${formatConfigErrors(loaded.errors)}\n`), REPLAY_EXIT.BAD_CONFIG);
  const log = createLogger(loaded.config.logLevel, 2);
  let lock: DataDirLock | undefined;
  let app: INestApplicationContext | undefined;
  try {
    lock = await lockDataDir(dataDir);
    app = await NestFactory.createApplicationContext(ReplayModule.forRoot(loaded.config, log, newApiMetrics()), {
      logger: new NestPinoLogger(log),
      abortOnError: false,
    });
    const summary = await replayAll(app.get(JournalReplayService), loaded.config, log, check.journals);
    await forgetUnapplied(loaded.config, log);
    io.stdout.write(o.json ? `${JSON.stringify(summary)}\n` : formatSummary(summary));
    return REPLAY_EXIT.OK;
  } catch (err) {
    if (isDependencyDown(err)) return fail(REPLAY_EXIT.UNAVAILABLE, unavailableLine(err));
    const { code, line } = failureLine(err);
    return fail(code, line);
  } finally {
    await app?.close().catch((err: unknown) => log.warn({ err: String(err) }, 'replay: closing failed'));
    await lock?.release();
  }
}

async function replayAll(
  service: JournalReplayService,
  config: AppConfig,
  log: Logger,
  present: JournalName[],
): Promise<ReplaySummary> {
  const journals: Record<JournalName, JournalSummary> = { intake: EMPTY_JOURNAL, results: EMPTY_JOURNAL };
  for (const name of ['intake', 'results'] as const) {
    if (present.includes(name)) journals[name] = await replayOne(service, config, log, name);
  }
  return { dataDir: config.dataDir, journals };
}

/** Opens one journal with the API's own recovery (a torn tail is cut, and kept in quarantine/), replays it, closes it. */
async function replayOne(
  service: JournalReplayService,
  config: AppConfig,
  log: Logger,
  name: JournalName,
): Promise<JournalSummary> {
  const tail = await readLastSegmentTail(path.join(config.dataDir, name));
  const journal: Journal = await openApiJournal(config, log, name);
  try {
    const tornBytes = await keepTornTail(config.dataDir, name, journal, tail);
    const stats = await service.replay(name, journal);
    return { present: true, ...stats, tornBytes };
  } finally {
    await journal.close();
  }
}
