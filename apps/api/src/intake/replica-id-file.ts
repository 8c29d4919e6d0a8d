import { readFile, rename, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { REPLICA_ID_RE } from '../leadership/replica-id';

const FILE = 'replica-id';

/**
 * The replica id a data directory last served under, so that `jr-api journal replay` of a dead replica's
 * directory knows whose entries (its unapplied-jobs set in Redis) it has settled. Written at start-up;
 * not a durability point (a lost file only leaves the set to expire).
 */
export async function writeReplicaIdFile(dataDir: string, replicaId: string): Promise<void> {
  const file = path.join(dataDir, FILE);
  const tmp = `${file}.tmp`;
  await writeFile(tmp, `${replicaId}\n`, { mode: 0o600 });
  await rename(tmp, file);
}

/** The id the directory last served under; undefined when it has none (an older version) or a bad one. */
export async function readReplicaIdFile(dataDir: string): Promise<string | undefined> {
  const text = await readFile(path.join(dataDir, FILE), 'utf8').catch(() => undefined);
  const id = text?.trim();
  return id && REPLICA_ID_RE.test(id) ? id : undefined;
}
