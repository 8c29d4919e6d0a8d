/** Messages between the fleet controller (the bench process) and each sim-agents process, over IPC. */

export interface SimProcessConfig {
  target: string;
  enrollToken: string;
  pool: string;
  leaseWaitMs: number;
  /** The API's CA (PEM): sim agents speak TLS like jr-agent; undefined: plain text (JR_INSECURE=1 stack). */
  caPem?: string;
  /** Agent names are `${namePrefix}-${index}`; unique per process. */
  namePrefix: string;
}

export type ToSim =
  /** Enrolls up to `to` agents; gives up on the rest after `deadlineMs` (an API that is falling over). */
  { type: 'grow'; to: number; enrollConcurrency: number; deadlineMs: number } | { type: 'collect' } | { type: 'stop' };

export interface SimStats {
  /** Heartbeat round trips (ms) since the last collect. */
  heartbeatMs: number[];
  /** Assignments received since the last collect: [jobId, epoch ms]. */
  assignments: Array<[string, number]>;
  /** Failures by `Method STATUS` since the last collect. */
  errors: Record<string, number>;
  /** Calls answered OK since the last collect. */
  okCalls: number;
  /** p99 of this process's event-loop delay since the last collect (ms): its own lag inflates the RTTs. */
  loopDelayP99Ms: number;
  agents: number;
}

export type FromSim =
  | { type: 'ready' }
  /** `failed`: enrollments that failed or were never tried before the deadline. */
  | { type: 'grown'; enrollMs: number[]; failed: number; agents: number }
  | ({ type: 'stats' } & SimStats);
