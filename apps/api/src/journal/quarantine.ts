import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';

/**
 * Keeps a record the API cannot apply (undecodable, or refused by Postgres as bad data again and
 * again) as `<JR_DATA_DIR>/quarantine/<journal>-<lsn>.bin`, so that skipping it never destroys it.
 * Returns the file written.
 */
export async function quarantineRecord(dataDir: string, journal: string, lsn: number, data: Buffer): Promise<string> {
  const dir = path.resolve(dataDir, 'quarantine');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `${journal}-${String(lsn).padStart(16, '0')}.bin`);
  await writeFile(file, data, { mode: 0o600 });
  return file;
}
