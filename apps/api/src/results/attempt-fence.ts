import type { JobState } from '@jr/contracts';
import type { AttemptSnapshot, PendingOverlay } from '../common/attempt-registry';
import type { AttemptOutcome } from '../jobs/attempt-writes';
import { decideAfterAttempt } from '../jobs/job-decision';

export interface AttemptRef {
  jobId: string;
  attempt: number;
  leaseToken: string;
  agentId: string;
}

export type FenceCall = { kind: 'report' } | { kind: 'complete'; end: AttemptOutcome['end'] };

export type FenceVerdict =
  /** The attempt is live and this lease is its lease: journal the result, answer OK. */
  | { kind: 'accept' }
  /**
   * Right lease, but the attempt ended `lost` (its lease expired, the job went back to the queue): the
   * result is journaled so the attempt shows `superseded` with its exit code, and the agent is told
   * FAILED_PRECONDITION "superseded" so it stops reporting that attempt.
   */
  | { kind: 'late'; message: string }
  /** The same completion again (the agent did not hear the first answer): answer it, journal nothing. */
  | { kind: 'repeat'; jobState: JobState }
  /** Not this lease, no such attempt, or an attempt that ended otherwise: FAILED_PRECONDITION, nothing stored. */
  | { kind: 'refuse'; message: string };

const LIVE = new Set(['leased', 'running']);

/**
 * THE fencing decision for Report and Complete, synchronous with the call: from the attempt as Postgres
 * (or, while it is down, this process) last saw it, overlaid with results already journaled here.
 */
export function decideFence(
  snap: AttemptSnapshot | undefined,
  overlay: PendingOverlay | undefined,
  ref: AttemptRef,
  call: FenceCall,
): FenceVerdict {
  const what = `attempt ${ref.attempt} of job ${ref.jobId}`;
  if (!snap) return { kind: 'refuse', message: `superseded: no ${what}` };
  if (snap.leaseToken !== ref.leaseToken || snap.agentId !== ref.agentId)
    return { kind: 'refuse', message: `superseded: the lease token of ${what} is not the current one` };
  const state = overlay?.end ?? snap.state;
  if (LIVE.has(state)) return { kind: 'accept' };
  if (state === 'lost' || state === 'superseded') {
    return {
      kind: 'late',
      message: `superseded: ${what} ended lost (its lease expired and the job was queued again); this result is kept on the attempt as superseded`,
    };
  }
  if (call.kind === 'complete' && state === call.end)
    return { kind: 'repeat', jobState: overlay?.jobState ?? snap.job.state };
  return { kind: 'refuse', message: `superseded: ${what} already ended ${state}` };
}

/** The job state a completion leads to (the Complete answer), by the same decision the relay will apply. */
export function predictJobState(
  snap: AttemptSnapshot,
  outcome: Pick<AttemptOutcome, 'end' | 'reason'>,
  maxLostAttempts: number,
): JobState {
  return decideAfterAttempt(outcome.end, snap.job, maxLostAttempts, outcome.reason).state;
}
