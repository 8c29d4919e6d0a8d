/** What a pool's demand is read from (the LeaseMatcher) and what it drives (the worker's fetch limit). */
export interface DemandSource {
  /** Lease calls of the pool queued on this replica. */
  waitingCount(pool: string): number;
  /** Jobs of the pool parked here, waiting for a call they suit. */
  parkedCount(pool: string): number;
}

/**
 * How many jobs a pool's dispatch worker may hold on this replica: the jobs being granted, plus one per
 * queued Lease call, plus as many parked jobs as there are Lease calls (a little look-ahead past jobs
 * with other labels). With no Lease call here it fetches nothing, and what it parked goes back to the
 * queue for the replicas that have agents waiting.
 */
export class PoolDemand {
  /** Jobs the pool's worker holds now (parked, or being granted). */
  private readonly held = new Map<string, number>();
  /** Aborted when the pool has no queued Lease call here any more: its parked jobs go back at once. */
  private readonly noDemand = new Map<string, AbortController>();

  constructor(
    private readonly source: DemandSource,
    private readonly setFetchLimit: (pool: string, limit: number) => void,
  ) {}

  /** Runs one job's processing, counted as held by the pool's worker. */
  async holding<T>(pool: string, process: () => Promise<T>): Promise<T> {
    this.held.set(pool, (this.held.get(pool) ?? 0) + 1);
    try {
      return await process();
    } finally {
      const left = (this.held.get(pool) ?? 1) - 1;
      if (left > 0) this.held.set(pool, left);
      else this.held.delete(pool);
      this.changed(pool);
    }
  }

  /** Aborts as soon as (or already when) the pool has no queued Lease call on this replica. */
  gone(pool: string): AbortSignal {
    if (this.source.waitingCount(pool) === 0) return AbortSignal.abort();
    let c = this.noDemand.get(pool);
    if (!c || c.signal.aborted) this.noDemand.set(pool, (c = new AbortController()));
    return c.signal;
  }

  /** The pool's Lease calls or parked jobs changed: the fetch limit follows. */
  changed(pool: string): void {
    const waiting = this.source.waitingCount(pool);
    const parked = this.source.parkedCount(pool);
    const granting = Math.max(0, (this.held.get(pool) ?? 0) - parked);
    if (waiting === 0) {
      this.noDemand.get(pool)?.abort();
      this.noDemand.delete(pool);
    }
    this.setFetchLimit(pool, waiting === 0 ? 0 : granting + waiting + Math.min(parked, waiting));
  }
}
