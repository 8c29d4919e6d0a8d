import type { AgentViewState } from '@jr/contracts';

/**
 * Heartbeats an agent may miss before it shows as `stale`: past two intervals it has missed at least
 * one beat (beats are jittered by ±10 % and retried sooner on failure), and the reaper declares it
 * `lost` only at three (LEASE_HEARTBEATS). Stale is what the operator sees meanwhile.
 */
export const STALE_HEARTBEATS = 2;

/** How an agent's stored state reads now, by the API's clock. */
export interface AgentHealth {
  state: AgentViewState;
  /** Milliseconds since its last heartbeat (never negative); null when it never sent one. */
  heartbeatAgeMs: number | null;
}

/** `stale` once the last heartbeat is older than STALE_HEARTBEATS intervals and the reaper has not declared it lost yet. */
export function agentHealth(
  stored: 'active' | 'draining' | 'lost',
  lastHeartbeatAtMs: number | null,
  nowMs: number,
  heartbeatIntervalMs: number,
): AgentHealth {
  const heartbeatAgeMs = lastHeartbeatAtMs === null ? null : Math.max(0, nowMs - lastHeartbeatAtMs);
  if (stored === 'lost') return { state: 'lost', heartbeatAgeMs };
  const silent = heartbeatAgeMs === null || heartbeatAgeMs > STALE_HEARTBEATS * heartbeatIntervalMs;
  return { state: silent ? 'stale' : stored, heartbeatAgeMs };
}

/**
 * When this process last heard from each agent (a heartbeat answered). Dispatch asks it before handing
 * a job to a parked Lease long-poll: a call whose agent has gone silent may sit behind a partition on a
 * half-open connection, and a job granted to it would only come back `lost` intervals later — again and
 * again for a job only that agent may run, until its lost-attempt budget is spent.
 */
export class AgentLiveness {
  private readonly heard = new Map<string, number>();

  constructor(private readonly maxAgents = 100_000) {}

  heartbeat(agentId: string, atMs: number): void {
    this.heard.delete(agentId);
    this.heard.set(agentId, atMs);
    if (this.heard.size > this.maxAgents) this.heard.delete(this.heard.keys().next().value as string);
  }

  /** The last heartbeat this process answered for the agent; undefined if none since start-up. */
  lastHeard(agentId: string): number | undefined {
    return this.heard.get(agentId);
  }

  /** A removed agent: its parked calls must not count as heard from. */
  forget(agentId: string): void {
    this.heard.delete(agentId);
  }
}
