import { TARGET_STATES, type PlanTarget, type RolloutPolicy, type TargetState } from './rollout-types';

/**
 * The numbers of a rollout. Percents are computed in tenths of a percent, in integers: 12.5 % of 40 is
 * exactly 5, with no floating-point edge to land on the wrong side of.
 */

function tenths(p: number): number {
  return Math.round(p * 10);
}

/** Targets per batch (in flight at once, when rolling): a percent rounds up; at least 1, at most `total`. */
export function batchSize(rollout: Pick<RolloutPolicy, 'batch'>, total: number): number {
  const { batch } = rollout;
  const raw = batch.kind === 'count' ? batch.n : Math.ceil((tenths(batch.p) * total) / 1000);
  return Math.min(total, Math.max(1, raw));
}

/**
 * Failures tolerated: the rollout aborts when failures are MORE than this (Ansible's max_fail_percentage is
 * exceeded; SSM stops at the (MaxErrors+1)th error). A percent of all targets rounds down, which is the same
 * rule: 5 % of 40 = 2, so the 3rd failure aborts; 5 % of 30 = 1.5 -> 1, as 2 of 30 (6.7 %) exceeds 5 %.
 */
export function failureLimit(rollout: Pick<RolloutPolicy, 'maxFailures'>, total: number): number {
  const { maxFailures: m } = rollout;
  return m.kind === 'count' ? m.n : Math.floor((tenths(m.p) * total) / 1000);
}

/** Targets that must succeed for the job to succeed: every one by default; a percent rounds up ("at least"). */
export function successesNeeded(rollout: Pick<RolloutPolicy, 'successCriteria'>, total: number): number {
  const min = rollout.successCriteria?.minSucceeded;
  if (!min) return total;
  return min.kind === 'count' ? min.n : Math.ceil((tenths(min.p) * total) / 1000);
}

/** Targets by state, every state present. */
export function countsByState(targets: readonly Pick<PlanTarget, 'state'>[]): Record<TargetState, number> {
  const counts = Object.fromEntries(TARGET_STATES.map((s) => [s, 0])) as Record<TargetState, number>;
  for (const t of targets) counts[t.state] += 1;
  return counts;
}

/** Failures toward maxFailures: failed and timed out, and undelivered when the rollout says so. Never cancelled. */
export function failureCount(
  counts: Record<TargetState, number>,
  rollout: Pick<RolloutPolicy, 'undeliveredCountsAsFailure'>,
): number {
  return counts.failed + counts.timed_out + (rollout.undeliveredCountsAsFailure ? counts.undelivered : 0);
}

/**
 * Targets ended with a verdict on the command, toward minSample: succeeded and the failures. Cancelled,
 * skipped and (unless counted as failures) undelivered targets ran nothing that says whether it works.
 */
export function sampleCount(
  counts: Record<TargetState, number>,
  rollout: Pick<RolloutPolicy, 'undeliveredCountsAsFailure'>,
): number {
  return counts.succeeded + failureCount(counts, rollout);
}

/** The rollout must stop: enough targets ended to judge (minSample), and failures are past the limit. */
export function failuresCrossLimit(
  counts: Record<TargetState, number>,
  rollout: RolloutPolicy,
  total: number,
): boolean {
  return (
    sampleCount(counts, rollout) >= rollout.minSample && failureCount(counts, rollout) > failureLimit(rollout, total)
  );
}
