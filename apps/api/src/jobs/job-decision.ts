import { nextStateAfterAttempt, type AttemptEnd, type NextJobState } from '@jr/contracts';

export interface JobCounters {
  retries: number;
  failedAttempts: number;
  lostAttempts: number;
  cancelRequested: boolean;
  /** At-most-once job: a lost attempt ends it `failed`, reason `lost`. */
  atMostOnce?: boolean;
}

export interface JobDecision extends NextJobState {
  failedAttempts: number;
  lostAttempts: number;
}

/**
 * Counts the attempt that just ended and asks the contract's state machine what the job does next;
 * `agentReason` is the agent's reason for the end (a refusal such as `signature_invalid` is final).
 */
export function decideAfterAttempt(
  end: AttemptEnd,
  job: JobCounters,
  maxLostAttempts: number,
  agentReason?: string | null,
): JobDecision {
  const failedAttempts = job.failedAttempts + (end === 'failed' ? 1 : 0);
  const lostAttempts = job.lostAttempts + (end === 'lost' ? 1 : 0);
  const next = nextStateAfterAttempt(
    end,
    {
      retries: job.retries,
      failedAttempts,
      lostAttempts,
      maxLostAttempts,
      cancelRequested: job.cancelRequested,
      atMostOnce: job.atMostOnce === true,
    },
    agentReason,
  );
  return { ...next, failedAttempts, lostAttempts };
}
