import type { pb } from '@jr/contracts';

/** Which attempt a report belongs to; the lease token fences off a stale agent. */
export interface AttemptRef {
  jobId: string;
  attempt: number;
  leaseToken: string;
}

export interface Completion {
  outcome: pb.Outcome__Output;
  exitCode: number;
  reason: string;
  startedAtMs: number;
  endedAtMs: number;
  lastSeq: number;
}

export type CompletionResult =
  /** The API holds every event and the outcome. */
  | { status: 'completed'; jobState: string }
  /** The lease is no longer ours (FAILED_PRECONDITION): nothing more was sent. */
  | { status: 'superseded' }
  /** The API refused the completion as malformed (a bug, logged). */
  | { status: 'dropped'; detail: string }
  /** The agent went away before the API answered. */
  | { status: 'abandoned' };

/** The runner's side of one attempt's reporting. Nothing here blocks the runner. */
export interface AttemptReporter {
  /** Queues one numbered event; events leave in the order given. */
  event(event: pb.AttemptEvent): void;
  /** Queues the outcome behind every event: Complete is sent only once all of them are acknowledged. */
  complete(completion: Completion): Promise<CompletionResult>;
  /** Bytes of queued events not yet acknowledged, so a chatty step can be slowed down. */
  backlogBytes(): number;
  /** Calls `resume` once the backlog is at or below `bytes`. */
  onBacklogBelow(bytes: number, resume: () => void): void;
}

export interface ReporterStats {
  pendingEvents: number;
  oldestAgeMs: number;
}

/**
 * The seam between the runner and the transport. Today: an in-memory queue per attempt with
 * retries. Later: a durable outbox behind a circuit breaker, same interface.
 */
export interface Reporter {
  open(ref: AttemptRef, hooks: { onSuperseded(): void }): AttemptReporter;
  stats(): ReporterStats;
  /** Gives up on whatever is still queued; pending completions resolve 'abandoned'. */
  close(): void;
}
