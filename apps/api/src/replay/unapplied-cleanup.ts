import type { Logger } from '../common/logger';
import type { AppConfig } from '../config/app-config';
import { readReplicaIdFile } from '../intake/replica-id-file';
import { UnappliedDirectoryRepository } from '../intake/unapplied-directory.repository';

const REDIS_WAIT_MS = 5_000;

/**
 * After a replay, nothing the dead replica acknowledged is unapplied any more: applied now, or lost with a
 * torn tail or a quarantined record. Its set of unapplied ids in Redis goes, so the other replicas answer
 * 404 for what was lost instead of 503 "held by that replica" until the set expires. Best effort: a
 * failure is logged with the key to delete by hand (the replica's own next start rewrites it too).
 */
export async function forgetUnapplied(config: AppConfig, log: Logger): Promise<void> {
  const replica = await readReplicaIdFile(config.dataDir);
  if (!replica) return;
  const repo = new UnappliedDirectoryRepository(config.redis, config.queuePrefix, 2_000, 'jr-api-replay');
  try {
    await repo.connected(REDIS_WAIT_MS);
    await repo.clear(replica);
    log.info({ replica }, "replay: the replica's unapplied-jobs set in Redis removed");
  } catch (err) {
    log.warn(
      { err: String(err), replica, key: `${config.queuePrefix}:unapplied:${replica}` },
      "replay: the replica's unapplied-jobs set in Redis was not removed: other replicas answer 503 for jobs lost with its journal until the key is deleted or expires",
    );
  } finally {
    repo.close();
  }
}
