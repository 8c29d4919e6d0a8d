import { firesToMake } from './catch-up';
import { nextFireTimesOrNone } from './fire-times';
import { overlapDecision } from './overlap';
import type { ScheduleSpec } from './schedule-spec';

/**
 * One scheduler pass over one schedule, decided in memory (schedules.repository.ts writes the result in one
 * transaction): which fire times since `settledUntil` become jobs, which are missed and why, what waits
 * under buffer_one, which running jobs cancel_previous ends, and where the schedule stands afterwards.
 */

/** What the pass starts from (instants as epoch ms). */
export interface ScheduleState {
  spec: ScheduleSpec;
  /** Every fire time at or before this has been decided. */
  settledUntilMs: number;
  /** A fire waiting for the running job to end (buffer_one), if any. */
  bufferedFireAtMs: number | null;
  /** The schedule's jobs not yet terminal. */
  activeJobIds: string[];
}

export interface MissedFireTime {
  fireTimeMs: number;
  reason: 'downtime' | 'overlap';
}

export interface FireDecision {
  /** Fire times to make a job for, ascending. */
  jobs: number[];
  missed: MissedFireTime[];
  /** Missed fire times counted but too old to list. */
  missedOmitted: number;
  /** The jobs to cancel (cancel_previous), after the new jobs are stored. */
  cancel: string[];
  bufferedFireAtMs: number | null;
  settledUntilMs: number;
  nextFireAtMs: number | null;
}

/** Placeholder for a job this pass makes: it is active for the fires after it. */
const NEW_JOB = '(new)';

/** The decision for the fire times in (settledUntil, now]. */
export function decideFires(s: ScheduleState, nowMs: number): FireDecision {
  const plan = firesToMake({ spec: s.spec, lastFireAtMs: s.settledUntilMs, nowMs });
  const out: FireDecision = {
    jobs: [],
    missed: plan.missed.map((t) => ({ fireTimeMs: t, reason: 'downtime' })),
    missedOmitted: plan.missedOmitted,
    cancel: [],
    bufferedFireAtMs: s.bufferedFireAtMs,
    settledUntilMs: Math.max(s.settledUntilMs, nowMs),
    nextFireAtMs: nextFireTimesOrNone(s.spec, Math.max(s.settledUntilMs, nowMs), 1)[0] ?? null,
  };
  let active = [...s.activeJobIds];
  // a buffered fire starts once the job it waited for has ended
  if (out.bufferedFireAtMs !== null && active.length === 0) {
    out.jobs.push(out.bufferedFireAtMs);
    out.bufferedFireAtMs = null;
    active = [NEW_JOB];
  }
  for (const t of plan.fires) {
    const buffered = out.bufferedFireAtMs === null ? [] : [out.bufferedFireAtMs];
    const d = overlapDecision(s.spec.overlap, { jobIds: active, bufferedFireTimes: buffered });
    if (d.action === 'skip') out.missed.push({ fireTimeMs: t, reason: 'overlap' });
    else if (d.action === 'buffer') out.bufferedFireAtMs = t;
    else {
      if (d.action === 'cancel_then_start') {
        // a job this pass made would be cancelled before it ran: its fire is missed instead
        if (active.includes(NEW_JOB)) out.missed.push({ fireTimeMs: out.jobs.pop() as number, reason: 'overlap' });
        out.cancel.push(...active.filter((id) => id !== NEW_JOB));
        active = [];
      }
      out.jobs.push(t);
      active.push(NEW_JOB);
    }
  }
  out.missed.sort((a, b) => a.fireTimeMs - b.fireTimeMs);
  return out;
}
