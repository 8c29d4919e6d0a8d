import type { JobView, NormalizedJob } from '@jr/contracts';
import type { SubmittedRecord } from './intake-record';

export interface PendingSubmission {
  lsn: number;
  record: SubmittedRecord;
}

/**
 * Submissions that are durable in the intake journal but not yet in Postgres: acknowledged (202) work
 * the relay still has to apply. Indexed by LSN (the relay's order), job id (GET before the row exists)
 * and idempotency key (a repeated key is answered from here while Postgres lags or is down). Rebuilt
 * from the journal at start-up, so it survives a crash exactly as the journal does.
 */
export class PendingSubmissions {
  private readonly byLsn = new Map<number, PendingSubmission>();
  private readonly byId = new Map<string, PendingSubmission>();
  private readonly byKey = new Map<string, PendingSubmission>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly settledListeners: Array<(ids: string[]) => void> = [];

  get size(): number {
    return this.byLsn.size;
  }

  add(lsn: number, record: SubmittedRecord): void {
    const entry = { lsn, record };
    this.byLsn.set(lsn, entry);
    this.byId.set(record.id, entry);
    if (record.idempotencyKey !== null && !this.byKey.has(record.idempotencyKey))
      this.byKey.set(record.idempotencyKey, entry);
  }

  /** The oldest `max` entries (journal order), left in place until `settle`. */
  oldest(max: number): PendingSubmission[] {
    const out: PendingSubmission[] = [];
    for (const entry of this.byLsn.values()) {
      if (out.length >= max) break;
      out.push(entry);
    }
    return out;
  }

  /** The relay applied these: drop them, wake whoever waits for their rows, tell the listeners. */
  settle(entries: PendingSubmission[]): void {
    for (const e of entries) {
      this.byLsn.delete(e.lsn);
      if (this.byId.get(e.record.id) === e) this.byId.delete(e.record.id);
      const key = e.record.idempotencyKey;
      if (key !== null && this.byKey.get(key) === e) this.byKey.delete(key);
      const wake = this.waiters.get(e.record.id);
      this.waiters.delete(e.record.id);
      wake?.forEach((w) => w());
    }
    const ids = entries.map((e) => e.record.id);
    for (const listener of this.settledListeners) listener(ids);
  }

  /** `listener` hears the ids of every batch the relay applied. */
  onSettled(listener: (ids: string[]) => void): void {
    this.settledListeners.push(listener);
  }

  /** Every unapplied job (id and pool), in journal order. */
  unapplied(): Array<{ id: string; pool: string }> {
    return [...this.byLsn.values()].map((e) => ({ id: e.record.id, pool: e.record.job.pool }));
  }

  get(id: string): SubmittedRecord | undefined {
    return this.byId.get(id)?.record;
  }

  withKey(key: string): SubmittedRecord | undefined {
    return this.byKey.get(key)?.record;
  }

  /** Resolves true once `id` is applied (or was never pending), false after `timeoutMs`. */
  whenApplied(id: string, timeoutMs: number): Promise<boolean> {
    if (!this.byId.has(id)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const set = this.waiters.get(id) ?? new Set<() => void>();
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        set.delete(done);
        resolve(false);
      }, timeoutMs);
      this.waiters.set(id, set.add(done));
    });
  }

  /** Pending jobs of `pool` (any when undefined) with ids below `beforeId`, newest first, at most `limit`. */
  list(q: { pool?: string; beforeId?: string; limit: number }): JobView[] {
    const out: JobView[] = [];
    for (const { record: r } of this.byLsn.values()) {
      if ((q.pool === undefined || r.job.pool === q.pool) && (q.beforeId === undefined || r.id < q.beforeId))
        out.push(this.view(r.id) as JobView);
    }
    return out.sort((a, b) => (a.id < b.id ? 1 : -1)).slice(0, q.limit);
  }

  /** What GET /v1/jobs/:id shows for a job that is durable but not yet in Postgres. */
  view(id: string): JobView | undefined {
    const r = this.get(id);
    if (!r) return undefined;
    const at = new Date(r.at).toISOString();
    return {
      id: r.id,
      name: r.job.name,
      state: 'queued',
      reason: null,
      pool: r.job.pool,
      labels: r.job.labels,
      spec: r.job,
      attempts: [],
      exitCode: null,
      createdAt: at,
      updatedAt: at,
      ...notStarted(r.job),
    };
  }
}

/** The run-time fields of a job no attempt has touched yet. */
export function notStarted(
  job: NormalizedJob,
): Pick<JobView, 'steps' | 'failedStep' | 'waiting' | 'startedAt' | 'endedAt' | 'durationMs'> {
  const steps = job.steps.map((s, index) => ({
    index,
    name: s.name,
    state: 'pending' as const,
    exitCode: null,
    startedAt: null,
    endedAt: null,
    durationMs: null,
  }));
  return { steps, failedStep: null, waiting: null, startedAt: null, endedAt: null, durationMs: null };
}
