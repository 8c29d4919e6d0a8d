/** One agent as this replica heard it: when, what it said it runs, and whether Postgres has that heartbeat. */
interface Heard {
  heardAtMs: number;
  /** Attempt keys (`jobId/n`) its last heartbeat listed as running. */
  running: string[];
  stored: boolean;
}

/** An agent this replica heard whose latest heartbeat Postgres does not have (yet, or at all). */
export interface UnstoredAgent {
  agentId: string;
  ageMs: number;
  running: string[];
}

/**
 * Heartbeats this replica received but could not store (Postgres unreachable from here, or the write
 * still in flight). The leader on another replica sees in Postgres an agent gone silent and its leases
 * run out, while the agent is alive and talking to us: the replica record (replica-record.service.ts)
 * tells it so. Heartbeats that Postgres stored need no record: Postgres already says the agent lives.
 */
export class HeardAgents {
  private readonly agents = new Map<string, Heard>();

  constructor(private readonly maxAgents = 100_000) {}

  /** A heartbeat arrived from an authenticated agent (before its write). */
  heard(agentId: string, running: string[], atMs: number): void {
    this.agents.delete(agentId);
    this.agents.set(agentId, { heardAtMs: atMs, running, stored: false });
    if (this.agents.size > this.maxAgents) this.agents.delete(this.agents.keys().next().value as string);
  }

  /** The heartbeat heard at `heardAtMs` is in Postgres (a later one may not be). */
  stored(agentId: string, heardAtMs: number): void {
    const h = this.agents.get(agentId);
    if (h && h.heardAtMs <= heardAtMs) h.stored = true;
  }

  forget(agentId: string): void {
    this.agents.delete(agentId);
  }

  /** Agents heard within `windowMs` whose latest heartbeat is not stored; older entries are dropped. */
  unstored(nowMs: number, windowMs: number): UnstoredAgent[] {
    const out: UnstoredAgent[] = [];
    for (const [agentId, h] of this.agents) {
      const ageMs = Math.max(0, nowMs - h.heardAtMs);
      if (ageMs > windowMs) this.agents.delete(agentId);
      else if (!h.stored) out.push({ agentId, ageMs, running: h.running });
    }
    return out;
  }
}
