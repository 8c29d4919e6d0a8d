import type { RolloutSpec, TargetState } from '@jr/contracts';

/**
 * What the rollout planner reads and answers, on the contract's types (libs/contracts/src/fleet-spec.ts):
 * the policy is the parsed `rollout` of the job document.
 */

export { TARGET_STATES, type Amount, type TargetState } from '@jr/contracts';

/** The rollout of a fleet job, defaults applied. */
export type RolloutPolicy = RolloutSpec;

/** One target as the planner sees it. */
export interface PlanTarget {
  agentId: string;
  state: TargetState;
  /**
   * Set when the target became due (its batch started; planStep's `due` says when): the batch it joined and
   * the time its delivery deadline runs from. Kept for the rest of the job; null while it waits its turn.
   */
  due: { batch: number; sinceMs: number } | null;
  /** When an ended target ended. Without it the target adds no pause or bake time. */
  endedAtMs?: number;
  /** The target's agent is connected now (a due target starts only on an online agent). */
  online: boolean;
}

/** A fleet job at one moment: its rollout, its targets in rollout order, and what was decided before. */
export interface RolloutSnapshot {
  rollout: RolloutPolicy;
  targets: readonly PlanTarget[];
  /** An earlier step answered `abort: true`. */
  aborted: boolean;
  /** The job was cancelled. */
  cancelled: boolean;
  /**
   * More targets may still join (`continuous: true`): the job does not end when the targets it has
   * ended, only by abort or cancel. The caller sets it false to close the job; it then ends as any other.
   */
  continuous?: boolean;
}

/** Why a fleet job ended as it did. */
export type FleetEndReason = 'rollout_aborted' | 'success_criteria_unmet' | 'no_targets' | 'cancelled';

export interface FleetOutcome {
  state: 'succeeded' | 'failed' | 'cancelled';
  /** null when it succeeded. */
  reason: FleetEndReason | null;
}

export interface TargetInBatch {
  agentId: string;
  batch: number;
}

/** What to do now. Everything listed is a change to apply; an empty step changes nothing. */
export interface RolloutStep {
  /** Targets whose turn came: record `due = {batch, sinceMs: now}` (online or not). */
  due: TargetInBatch[];
  /**
   * Targets to hand to their agent now (pending -> running): due, pending and online. A target left
   * pending is listed again by the next step.
   */
  start: TargetInBatch[];
  /** Pending targets whose delivery deadline (due.sinceMs + deliveryTimeoutMs) has come: end them undelivered. */
  undeliver: string[];
  /** Pending targets not to run because the rollout was aborted or the job cancelled: end them skipped. */
  skip: string[];
  /** Failures crossed maxFailures in this step: record the rollout as aborted. */
  abort: boolean;
  /** The job's end, once nothing runs or waits any more; null while it goes on. */
  done: FleetOutcome | null;
  /** The highest batch started so far (0 before the first); in rolling mode, every `batchSize` starts are one. */
  currentBatch: number;
  /** The next time the answer changes with no target changing (a deadline, a pause or a bake time ending). */
  waitUntilMs?: number;
}
