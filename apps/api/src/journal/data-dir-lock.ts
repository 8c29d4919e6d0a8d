import { mkdir, open, readFile, rm } from 'node:fs/promises';
import * as path from 'node:path';

export interface DataDirLock {
  release(): Promise<void>;
}

export class DataDirInUseError extends Error {
  readonly code = 'DATA_DIR_IN_USE';
  constructor(dir: string, pid: number) {
    super(`JR_DATA_DIR ${dir} is in use by jr-api pid ${pid}: two processes on one data directory would corrupt its journals`);
    this.name = 'DataDirInUseError';
  }
}

/** Lock files this process holds (a file naming our own pid but not listed here is a previous incarnation's). */
const held = new Set<string>();

/**
 * One jr-api per JR_DATA_DIR, across processes (the journal library guards only within one): a lock
 * file created exclusively, holding the owner's pid. A file whose pid is gone (the owner was
 * SIGKILLed) is stale and taken over; so is one naming our own pid that we do not hold (a container
 * restarted after a crash gives the new process the old pid, often 1).
 */
export async function lockDataDir(dir: string): Promise<DataDirLock> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, 'jr-api.lock');
  if (held.has(file)) throw new DataDirInUseError(dir, process.pid);
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await open(file, 'wx', 0o600);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      held.add(file);
      return { release: () => rm(file, { force: true }).finally(() => held.delete(file)) };
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'EEXIST' || attempt > 0) throw err;
    }
    const owner = Number((await readFile(file, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) throw new DataDirInUseError(dir, owner);
    // stale: its owner is gone (or was an earlier process with our pid)
    await rm(file, { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: unknown }).code === 'EPERM';
  }
}
