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
}
