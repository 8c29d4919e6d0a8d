import { mkdir, open, readFile, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { formatPidFile, isProcessAlive, ownIdentity, parsePidFile } from '@jr/journal';

export interface DataDirLock {
  release(): Promise<void>;
}

export class DataDirInUseError extends Error {
  readonly code = 'DATA_DIR_IN_USE';
  constructor(dir: string, pid: number) {
    super(
      `JR_DATA_DIR ${dir} is in use by jr-api pid ${pid}: two processes on one data directory would corrupt its journals`,
    );
    this.name = 'DataDirInUseError';
  }
}

/** Lock files this process holds (a file naming our own pid but not listed here is a previous incarnation's). */
const held = new Set<string>();

/**
 * One jr-api per JR_DATA_DIR, across processes (the journal library guards only within one): a lock
 * file created exclusively, holding the owner's pid and start time ("<pid> <start time>"). Its owner
 * counts as alive only while that very process runs (libs/journal process-liveness: not a zombie
 * left by a SIGKILL that PID 1 has not reaped yet, not another process that reused the pid). A file
 * whose owner is gone is stale and taken over; so is one naming our own pid that we do not hold (a
 * container restarted after a crash gives the new process the old pid, often 1).
 */
export async function lockDataDir(dir: string): Promise<DataDirLock> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, 'jr-api.lock');
  if (held.has(file)) throw new DataDirInUseError(dir, process.pid);
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await open(file, 'wx', 0o600);
      await fh.writeFile(formatPidFile(ownIdentity()));
      await fh.close();
      held.add(file);
      return { release: () => rm(file, { force: true }).finally(() => held.delete(file)) };
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'EEXIST' || attempt > 0) throw err;
    }
    const owner = parsePidFile(await readFile(file, 'utf8').catch(() => ''));
    if (owner && owner.pid !== process.pid && isProcessAlive(owner.pid, owner.startTime))
      throw new DataDirInUseError(dir, owner.pid);
    // stale: its owner is gone (or was an earlier process with our pid), or the file is not a lock file
    await rm(file, { force: true });
  }
}
