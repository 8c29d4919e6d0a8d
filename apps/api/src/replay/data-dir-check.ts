import { readdir, stat } from 'node:fs/promises';
import * as path from 'node:path';

export type JournalName = 'intake' | 'results';
export const JOURNAL_NAMES: readonly JournalName[] = ['intake', 'results'];

const SEGMENT = /^seg-\d{16}\.log$/;

export type DataDirCheck = { ok: true; journals: JournalName[] } | { ok: false; reason: string };

/**
 * Whether `dir` is a jr-api data directory, looked at without changing it: a directory holding an
 * `intake/` or `results/` journal (a directory with segment files or a checkpoint). Anything else is
 * refused before a lock file or a journal directory could be created in it.
 */
export async function checkDataDir(dir: string): Promise<DataDirCheck> {
  const info = await stat(dir).catch(() => undefined);
  if (!info) return { ok: false, reason: `${dir} does not exist` };
  if (!info.isDirectory()) return { ok: false, reason: `${dir} is not a directory` };
  const journals: JournalName[] = [];
  for (const name of JOURNAL_NAMES) if (await isJournalDir(path.join(dir, name))) journals.push(name);
  if (journals.length === 0)
    return { ok: false, reason: `${dir} is not a jr-api data directory (no intake/ or results/ journal in it)` };
  return { ok: true, journals };
}

async function isJournalDir(dir: string): Promise<boolean> {
  const names = await readdir(dir).catch(() => undefined);
  return names !== undefined && names.some((n) => n === 'checkpoint' || SEGMENT.test(n));
}
