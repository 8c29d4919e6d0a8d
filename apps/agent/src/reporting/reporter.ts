import type { pb } from '@jr/contracts';
import type { TraceCarrier } from '@jr/telemetry';

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
  /** The outcome is in the durable outbox (on disk); it is delivered in order, whatever happens next. */
  | { status: 'queued' }
  /** The API holds every event and the outcome (reporters without an outbox). */
  | { status: 'completed'; jobState: string };

/** The runner's side of one attempt's reporting. Nothing here blocks the runner. */
export interface AttemptReporter {
  /** Queues one numbered event; events leave in the order given. */
  event(event: pb.AttemptEvent): void;
  /** Queues the outcome behind every event (Complete is sent once all of them are acknowledged). */
  complete(completion: Completion): Promise<CompletionResult>;
  /** Bytes of events not yet safely queued, so a chatty step can be slowed down. */
  backlogBytes(): number;
  /** Calls `resume` once the backlog is at or below `bytes`. */
  onBacklogBelow(bytes: number, resume: () => void): void;
}

export interface ReporterStats {
  pendingEvents: number;
  oldestAgeMs: number;
}

export interface AttemptReportOptions {
  /** The API refused the attempt's reports as superseded; the runner kills it. */
  onSuperseded(): void;
  /** The attempt span's W3C context: the parent of the Report/Complete spans, kept across restarts. */
  trace?: TraceCarrier;
}

/** The seam between the runner and the transport (the durable outbox behind the reporting breaker). */
export interface Reporter {
  open(ref: AttemptRef, options: AttemptReportOptions): AttemptReporter;
  stats(): ReporterStats;
  /** Stops sending; what is queued stays queued (in the outbox, for the next start). */
  close(): void;
}
