import type { UnstoredAgent } from './heard-agents';

/**
 * What each replica writes to Redis every second (with a TTL of a few seconds): what it knows that
 * Postgres may not. Ages are relative (milliseconds before the write), so replicas' clocks never meet.
 */
export interface ReplicaRecord {
  replica: string;
  /** Agents heard recently whose latest heartbeat is not in Postgres: [agent id, age in ms]. */
  agents: Array<[string, number]>;
  /**
   * Attempts (`jobId/n`) it holds: results journaled here and not yet applied, and the running attempts
   * those unstored heartbeats listed.
   */
  attempts: string[];
  /** Milliseconds left of its start-up (or after-outage) amnesty; 0 when none. */
  graceMs: number;
}

/** What the leader's reaper must leave alone because a live replica holds it. */
export interface HeldElsewhere {
  attempts: Set<string>;
  agents: Set<string>;
  /** Replicas in their amnesty: their agents (agents.last_replica) are not marked lost yet. */
  graceReplicas: string[];
  /** Every other replica with a live record. */
  liveReplicas: string[];
}

export function buildRecord(
  replica: string,
  unstored: UnstoredAgent[],
  pending: string[],
  graceMs: number,
): ReplicaRecord {
  const attempts = new Set(pending);
  for (const a of unstored) for (const key of a.running) attempts.add(key);
  return {
    replica,
    agents: unstored.map((a) => [a.agentId, Math.round(a.ageMs)]),
    attempts: [...attempts],
    graceMs: Math.max(0, Math.round(graceMs)),
  };
}

/** The records of the other live replicas (`self`'s own is known locally), merged. */
export function heldElsewhere(records: ReplicaRecord[], self: string, silenceMs: number): HeldElsewhere {
  const held: HeldElsewhere = { attempts: new Set(), agents: new Set(), graceReplicas: [], liveReplicas: [] };
  for (const r of records) {
    if (r.replica === self) continue;
    held.liveReplicas.push(r.replica);
    for (const key of r.attempts) held.attempts.add(key);
    for (const [agent, ageMs] of r.agents) if (ageMs <= silenceMs) held.agents.add(agent);
    if (r.graceMs > 0) held.graceReplicas.push(r.replica);
  }
  return held;
}

/** A record read back from Redis; undefined when it is not one (another version, garbage). */
export function parseRecord(text: string | null): ReplicaRecord | undefined {
  if (text === null) return undefined;
  try {
    const v = JSON.parse(text) as Partial<ReplicaRecord>;
    if (typeof v.replica !== 'string' || !Array.isArray(v.agents) || !Array.isArray(v.attempts)) return undefined;
    const agents = v.agents.filter(
      (a): a is [string, number] => Array.isArray(a) && typeof a[0] === 'string' && typeof a[1] === 'number',
    );
    const attempts = v.attempts.filter((k): k is string => typeof k === 'string');
    return { replica: v.replica, agents, attempts, graceMs: typeof v.graceMs === 'number' ? v.graceMs : 0 };
  } catch {
    return undefined;
  }
}
