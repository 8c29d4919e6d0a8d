import { createHash } from 'node:crypto';
import * as path from 'node:path';

/** What JR_REPLICA_ID may be: it names the replica in Redis keys, agent rows and a metric label. */
export const REPLICA_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

/**
 * The default replica id: the host name and a short hash of the (absolute) data directory, so two
 * replicas on one host differ, and one replica keeps its id across restarts.
 */
export function defaultReplicaId(hostname: string, dataDir: string): string {
  const hash = createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 8);
  const host =
    hostname
      .replace(/[^A-Za-z0-9_.-]/g, '-')
      .replace(/^[^A-Za-z0-9]+/, '')
      .slice(0, 54) || 'host';
  return `${host}-${hash}`;
}
