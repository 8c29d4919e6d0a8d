import type { FaultPlan } from './plan';
import { sleep } from './observe';
import type { SoakWorld } from './world';

/**
 * The faults of the replicated topology: a replica (or every replica) SIGKILLed and restarted, the
 * PostgreSQL primary lost and its standby promoted, the Redis master lost and Sentinel promoting its
 * replica. `restoreRedundancy` runs after a fault's recovery was measured: the promoted side gets a
 * standby / replica again, so the next round meets the same topology.
 */

/** SIGKILL replica A or B, hold, restart it on the same ports and data dir: agents and submitters fail over. */
export async function replicaKill(world: SoakWorld, f: FaultPlan): Promise<string> {
  const i = f.agent % world.replicas.count;
  await world.replicas.kill(i);
  await sleep(f.holdMs);
  await world.replicas.restart(i);
  return 'SIGKILL, restarted on its ports and data dir';
}

/** Every replica SIGKILLed at once (no API at all), held, restarted. */
export async function apiKill(world: SoakWorld, f: FaultPlan): Promise<string> {
  const all = [...Array(world.replicas.count).keys()];
  await Promise.all(all.map((i) => world.replicas.kill(i)));
  await sleep(f.holdMs);
  await Promise.all(all.map((i) => world.replicas.restart(i)));
  return `SIGKILL of all ${all.length} replicas, restarted`;
}

/** SIGKILL the primary, hold with no writable host, promote the standby (DATABASE_URL lists both). */
export async function postgresPromotion(world: SoakWorld, f: FaultPlan): Promise<string> {
  const from = world.pg.primary.port;
  world.postgresDown = true;
  await world.pg.killAndPromote(f.holdMs);
  world.postgresDown = false;
  return `primary :${from} SIGKILLed, standby :${world.pg.primary.port} promoted`;
}

/** SIGKILL the Redis master; lifted once Sentinel has promoted the replica, plus the hold with no replica. */
export async function sentinelFailover(world: SoakWorld, f: FaultPlan): Promise<string> {
  const from = world.redisSet.master.port;
  const t0 = Date.now();
  await world.redisSet.killMaster();
  const promotedMs = Date.now() - t0;
  await sleep(f.holdMs);
  return `master :${from} SIGKILLed, Sentinel promoted :${world.redisSet.master.port} after ${promotedMs} ms`;
}

/** After a promotion: a standby (Postgres) or a replica (Redis) of the new primary, for the next round. */
export async function restoreRedundancy(world: SoakWorld, f: FaultPlan): Promise<string> {
  if (f.kind === 'postgres-promotion') {
    const ms = await world.pg.rebuildStandby();
    return `; standby rebuilt on :${world.pg.standby.port} (fresh data dir) in ${ms} ms`;
  }
  if (f.kind === 'redis-sentinel-failover') {
    const ms = await world.redisSet.addReplica();
    return `; new replica :${world.redisSet.replica.port} synced in ${ms} ms`;
  }
  return '';
}
