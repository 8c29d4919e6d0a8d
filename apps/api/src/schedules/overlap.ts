import type { OverlapPolicy } from './schedule-spec';

/**
 * What a fire does while earlier jobs of the same schedule have not finished:
 *  - skip: it is skipped (recorded as missed, reason `overlap`);
 *  - buffer_one: it waits, and starts when the running job ends; a fire while one already waits is skipped;
 *  - allow: it starts anyway;
 *  - cancel_previous: the running jobs are cancelled, then it starts.
 */

/** The schedule's jobs still queued or running, and the fire times waiting under buffer_one. */
export interface RunningState {
  jobIds: string[];
  bufferedFireTimes: number[];
}

/** The decision for one fire. `cancel` lists the jobs to cancel first; `reason` is set on a skip. */
export interface OverlapDecision {
  action: 'start' | 'skip' | 'buffer' | 'cancel_then_start';
  cancel?: string[];
  reason?: 'overlap';
}

/** Decides what a fire does under `policy`, given what the schedule has running. */
export function overlapDecision(policy: OverlapPolicy, running: RunningState): OverlapDecision {
  const busy = running.jobIds.length > 0;
  switch (policy) {
    case 'allow':
      return { action: 'start' };
    case 'skip':
      return busy ? { action: 'skip', reason: 'overlap' } : { action: 'start' };
    case 'buffer_one':
      // a fire already waiting (even if the running job just ended) keeps its place: this one is the second
      if (running.bufferedFireTimes.length > 0) return { action: 'skip', reason: 'overlap' };
      return busy ? { action: 'buffer' } : { action: 'start' };
    case 'cancel_previous':
      return busy ? { action: 'cancel_then_start', cancel: [...running.jobIds] } : { action: 'start' };
  }
}
