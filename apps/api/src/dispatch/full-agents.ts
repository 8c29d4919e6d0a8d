import type { Waiter } from './lease-matcher';

/** How long a held Lease call waits for word of a freed slot before it is offered jobs again anyway. */
export const FULL_RECHECK_MS = 1_000;

interface Held<T> {
  pool: string;
  waiter: Waiter<T>;
  timer: NodeJS.Timeout;
}

/**
 * Lease calls whose agent had every slot taken when a job was granted to them (typically: the agent
 * freed a slot and called again before its Complete arrived). Answering them empty would make the agent
 * pause and the job wait; instead each is held until a completion of that agent is journaled here
 * (`wake`), or FULL_RECHECK_MS pass (a completion on another replica), and then offered jobs again.
 */
export class FullAgents<T> {
  private readonly held = new Map<string, Set<Held<T>>>();

  /** @param reoffer gives the waiter back to the matcher (which answers it empty if its call is gone). */
  constructor(private readonly reoffer: (pool: string, waiter: Waiter<T>) => void) {}

  hold(pool: string, waiter: Waiter<T>): void {
    const entry: Held<T> = { pool, waiter, timer: setTimeout(() => this.resume(entry), FULL_RECHECK_MS) };
    entry.timer.unref();
    const set = this.held.get(waiter.agentId) ?? new Set();
    this.held.set(waiter.agentId, set.add(entry));
  }

  /** Lease calls of the agent held now. */
  count(agentId: string): number {
    return this.held.get(agentId)?.size ?? 0;
  }

  /** A slot of the agent freed: its held calls are offered jobs again. */
  wake(agentId: string): void {
    for (const entry of [...(this.held.get(agentId) ?? [])]) this.resume(entry);
  }

  /** The agent may lease no more (drained, revoked, removed): its held calls answer empty. */
  release(agentId: string): void {
    for (const entry of [...(this.held.get(agentId) ?? [])]) this.resume(entry, true);
  }

  releaseAll(): void {
    for (const agentId of [...this.held.keys()]) this.release(agentId);
  }

  private resume(entry: Held<T>, empty = false): void {
    clearTimeout(entry.timer);
    const set = this.held.get(entry.waiter.agentId);
    if (!set?.delete(entry)) return;
    if (set.size === 0) this.held.delete(entry.waiter.agentId);
    if (empty || entry.waiter.abandoned) entry.waiter.settle(null);
    else this.reoffer(entry.pool, entry.waiter);
  }
}
