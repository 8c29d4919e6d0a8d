/** Job states of the contract and the transitions between them. */
export const JOB_STATES = ['queued', 'leased', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out'] as const;
export type JobState = (typeof JOB_STATES)[number];

export const TERMINAL_JOB_STATES: ReadonlySet<JobState> = new Set(['succeeded', 'failed', 'cancelled', 'timed_out']);

export const ATTEMPT_STATES = [
  'leased',
  'running',
  'succeeded',
  'failed',
  'cancelled',
  'timed_out',
  'lost',
  'superseded',
] as const;
export type AttemptState = (typeof ATTEMPT_STATES)[number];

/** Why a job ended as it did (`reason` in the REST view). Clients read reasons they do not know as text. */
export const JOB_REASONS = [
  'exit_code',
  'attempts_exhausted',
  'timeout',
  'cancelled',
  'download_failed',
  'checksum_mismatch',
  'invalid_spec',
  /** The job's sealed secrets could not be opened at lease time (key missing or ciphertext altered): nothing ran. */
  'secrets_unreadable',
  'signature_invalid',
  /** An at-most-once job whose attempt's agent vanished: the command may or may not have run; it is not run again. */
  'lost',
  /** A fleet job whose failures crossed its rollout's maxFailures: the targets not started were skipped. */
  'rollout_aborted',
  /** A fleet job whose targets all ended with fewer succeeded than its success criteria ask (default: all). */
  'success_criteria_unmet',
  /** A fleet job whose targets named no agent at all. */
  'no_targets',
] as const;
export type JobReason = (typeof JOB_REASONS)[number];

/**
 * Reasons an agent gives for a failed attempt that no re-run can change: the job ends `failed` with
 * that reason at once, whatever retries it has left. `signature_invalid`: another agent holding the
 * same verify keys refuses the same signature the same way.
 */
export const TERMINAL_ATTEMPT_REASONS: ReadonlySet<string> = new Set<JobReason>(['signature_invalid']);

/** A step's state within an attempt (`steps[]` in the REST view). */
export const STEP_STATES = ['pending', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'skipped'] as const;
export type StepState = (typeof STEP_STATES)[number];

/** An agent as `GET /v1/agents` shows it: `stale` = heartbeat overdue but not yet declared lost. */
export const AGENT_VIEW_STATES = ['active', 'draining', 'stale', 'lost'] as const;
export type AgentViewState = (typeof AGENT_VIEW_STATES)[number];

const JOB_TRANSITIONS: Record<JobState, readonly JobState[]> = {
  queued: ['leased', 'cancelled', 'failed'],
  leased: ['running', 'queued', 'succeeded', 'failed', 'cancelled', 'timed_out'],
  running: ['queued', 'succeeded', 'failed', 'cancelled', 'timed_out'],
  succeeded: [],
  failed: [],
  cancelled: [],
  timed_out: [],
};

export function isTerminal(state: JobState): boolean {
  return TERMINAL_JOB_STATES.has(state);
}

export function canTransition(from: JobState, to: JobState): boolean {
  return JOB_TRANSITIONS[from].includes(to);
}

export function isJobState(value: string): value is JobState {
  return (JOB_STATES as readonly string[]).includes(value);
}

/** What an attempt's end means for its job. */
export type AttemptEnd = 'succeeded' | 'failed' | 'timed_out' | 'cancelled' | 'lost';

export interface RetryBudget {
  /** Re-runs allowed after a failed attempt (the job's `retries`). */
  retries: number;
  /** Failed attempts so far, this one included. */
  failedAttempts: number;
  /** Lost attempts so far, this one included. */
  lostAttempts: number;
  /** Lost attempts tolerated before the job gives up. */
  maxLostAttempts: number;
  /** A cancel was asked for while the attempt ran. */
  cancelRequested: boolean;
  /** The job is at-most-once: a lost attempt is never run again. */
  atMostOnce?: boolean;
}

export interface NextJobState {
  state: JobState;
  reason?: JobReason;
}

/**
 * The job state machine's one decision: given how an attempt ended (and the agent's reason for a
 * failure) and what budget is left, does the job run again (`queued`) or end, and why.
 */
export function nextStateAfterAttempt(end: AttemptEnd, budget: RetryBudget, agentReason?: string | null): NextJobState {
  if (budget.cancelRequested && end !== 'succeeded') return { state: 'cancelled', reason: 'cancelled' };
  if (end === 'failed' && agentReason && TERMINAL_ATTEMPT_REASONS.has(agentReason))
    return { state: 'failed', reason: agentReason as JobReason };
  switch (end) {
    case 'succeeded':
      return { state: 'succeeded' };
    case 'cancelled':
      return { state: 'cancelled', reason: 'cancelled' };
    case 'timed_out':
      return { state: 'timed_out', reason: 'timeout' };
    case 'failed':
      if (budget.failedAttempts <= budget.retries) return { state: 'queued' };
      return { state: 'failed', reason: budget.retries > 0 ? 'attempts_exhausted' : 'exit_code' };
    case 'lost':
      if (budget.atMostOnce) return { state: 'failed', reason: 'lost' };
      if (budget.lostAttempts < budget.maxLostAttempts && budget.failedAttempts <= budget.retries) {
        return { state: 'queued' };
      }
      return { state: 'failed', reason: 'attempts_exhausted' };
  }
}
