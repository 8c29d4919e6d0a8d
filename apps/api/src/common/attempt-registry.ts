import type { AttemptState, JobState } from '@jr/contracts';

/** What fencing a Report/Complete needs to know about one attempt and its job. */
export interface AttemptSnapshot {
  jobId: string;
  attempt: number;
  agentId: string;
  leaseToken: string;
  state: AttemptState;
  lastSeq: number;
  /** How many steps the job has (bounds the step indexes a Report may name), when known. */
  steps?: number;
  job: { state: JobState; retries: number; failedAttempts: number; lostAttempts: number; cancelRequested: boolean };
}

/** Results journaled for an attempt that the relay has not applied to Postgres yet. */
export interface PendingOverlay {
  records: number;
  /** Set once a completion is journaled: the attempt's state as soon as the relay applies it. */
  end?: AttemptState;
  /** The job state that completion leads to (what the Complete answer said). */
  jobState?: JobState;
  /** The highest event seq journaled (durable, maybe not yet in Postgres). */
  maxSeq: number;
}

/** Snapshots kept for fencing while Postgres is unreachable; the oldest are dropped past this. */
const MAX_SNAPSHOTS = 50_000;

const keyOf = (jobId: string, attempt: number): string => `${jobId}/${attempt}`;

/**
 * Process-local knowledge of attempts, shared by dispatch (grants), the lease reaper and the results
 * path: (1) the last snapshot read from Postgres or written by a grant, so Report/Complete can still be
 * fenced and journaled while Postgres is down; (2) the overlay of journaled-but-unapplied results, so
 * fencing sees a completion before Postgres does and the reaper never expires an attempt whose result
 * is already in hand.
 */
export class AttemptRegistry {
  private readonly snapshots = new Map<string, AttemptSnapshot>();
  private readonly pending = new Map<string, PendingOverlay>();
  private readonly endedListeners = new Set<(agentId: string) => void>();

  remember(s: AttemptSnapshot): void {
    const key = keyOf(s.jobId, s.attempt);
    this.snapshots.delete(key);
    this.snapshots.set(key, s);
    if (this.snapshots.size > MAX_SNAPSHOTS) this.snapshots.delete(this.snapshots.keys().next().value as string);
  }

  recall(jobId: string, attempt: number): AttemptSnapshot | undefined {
    return this.snapshots.get(keyOf(jobId, attempt));
  }

  /** After Postgres changed the attempt (relay applied, reaper expired). */
  setState(jobId: string, attempt: number, state: AttemptState, jobState?: JobState): void {
    const s = this.snapshots.get(keyOf(jobId, attempt));
    if (!s) return;
    s.state = state;
    if (jobState) s.job.state = jobState;
  }

  /** A result for this attempt is durable in the results journal. */
  journaled(
    jobId: string,
    attempt: number,
    change: { end?: AttemptState; jobState?: JobState; maxSeq?: number },
  ): void {
    const key = keyOf(jobId, attempt);
    const o = this.pending.get(key) ?? { records: 0, maxSeq: 0 };
    o.records += 1;
    if (change.end !== undefined && o.end === undefined) {
      o.end = change.end;
      o.jobState = change.jobState;
      const agentId = this.snapshots.get(key)?.agentId;
      if (agentId !== undefined) for (const listener of this.endedListeners) listener(agentId);
    }
    o.maxSeq = Math.max(o.maxSeq, change.maxSeq ?? 0);
    this.pending.set(key, o);
  }

  /** The relay applied one of this attempt's journaled results. */
  applied(jobId: string, attempt: number): void {
    const key = keyOf(jobId, attempt);
    const o = this.pending.get(key);
    if (!o) return;
    o.records -= 1;
    if (o.records <= 0) this.pending.delete(key);
  }

  overlay(jobId: string, attempt: number): PendingOverlay | undefined {
    return this.pending.get(keyOf(jobId, attempt));
  }

  hasPending(jobId: string, attempt: number): boolean {
    return this.pending.has(keyOf(jobId, attempt));
  }

  /** Keys (`jobId/n`) of every attempt with results journaled here and not yet applied (the replica record). */
  pendingKeys(): string[] {
    return [...this.pending.keys()];
  }

  /** Keys (`jobId/n`) of the agent's attempts whose completion is journaled here: they hold no slot of it any more. */
  endedAttemptsOf(agentId: string): string[] {
    const keys: string[] = [];
    for (const [key, o] of this.pending)
      if (o.end !== undefined && this.snapshots.get(key)?.agentId === agentId) keys.push(key);
    return keys;
  }

  /** Called with the agent's id when a completion of one of its attempts is journaled here; returns the unsubscribe. */
  onEndJournaled(listener: (agentId: string) => void): () => void {
    this.endedListeners.add(listener);
    return () => this.endedListeners.delete(listener);
  }
}
