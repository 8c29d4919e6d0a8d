import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { parseSecretKeys, type SecretKey } from './secret-box';

/** `$JR_DATA_DIR/secrets.key`: the key JR_DEV=1 makes when JR_SECRETS_KEY is unset. */
export const devKeyFile = (dataDir: string): string => path.join(dataDir, 'secrets.key');

/**
 * Development only: reads the key file of this data directory, or makes one (32 random bytes, mode
 * 0600, synced) on first start. A replica with another data directory has another key, so this is
 * no set-up for more than one API: production sets JR_SECRETS_KEY.
 */
export async function loadOrCreateDevKey(dataDir: string): Promise<{ keys: SecretKey[]; created: boolean }> {
  const file = devKeyFile(dataDir);
  await mkdir(dataDir, { recursive: true });
  let created = false;
  try {
    const handle = await open(file, 'wx', 0o600);
    try {
      await handle.writeFile(`dev:${randomBytes(32).toString('base64')}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    created = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const parsed = parseSecretKeys((await readFile(file, 'utf8')).trim());
  if (!parsed.ok) throw new Error(`${file}: ${parsed.message}`);
  return { keys: parsed.keys, created };
}
