import type { AttemptState, AttemptView, JobReason, JobState, JobView, NormalizedJob } from '@jr/contracts';
import { runTime, stepViews, type StepEventRow } from './step-views';

/** A `jobs` row as the repositories read it. */
export interface JobRow {
  id: string;
  name: string;
  state: JobState;
  reason: JobReason | null;
  pool: string;
  labels: Record<string, string>;
  spec: NormalizedJob;
  idempotency_key: string | null;
  request_hash: string;
  retries: number;
  rounds: number;
  failed_attempts: number;
  lost_attempts: number;
  cancel_requested: boolean;
  exit_code: number | null;
  created_at: Date;
  updated_at: Date;
  ended_at: Date | null;
  /** W3C context of the job's trace (migration 003), untrusted: read through extractFromCarrier. */
  trace?: unknown;
  /** Set on jobs a schedule made (migration 014). */
  schedule_id?: string | null;
  fire_time?: Date | null;
  /** Migration 015: a fleet job (spec has `fleet`), and a target's run (its fleet job, its agent). */
  fleet?: boolean;
  parent_id?: string | null;
  target_agent?: string | null;
}

export interface AttemptRow {
  job_id: string;
  n: number;
  agent_id: string;
  lease_token: string;
  state: AttemptState;
  exit_code: number | null;
  reason: string | null;
  leased_at: Date;
  started_at: Date | null;
  ended_at: Date | null;
  lease_expires_at: Date;
  last_seq: string | number;
}

export function toAttemptView(a: AttemptRow): AttemptView {
  return {
    n: a.n,
    agentId: a.agent_id,
    state: a.state,
    exitCode: a.exit_code,
    reason: a.reason,
    startedAt: a.started_at?.toISOString() ?? null,
    endedAt: a.ended_at?.toISOString() ?? null,
  };
}

/** What a job view is built from besides its row: its attempts and the step events of one of them. */
export interface JobViewParts {
  attempts: AttemptRow[];
  /** The attempt whose steps are shown (the latest that got past leasing); null: none yet. */
  stepAttempt: number | null;
  /** The latest step_started/step_finished event per step and kind of that attempt. */
  stepEvents: StepEventRow[];
}

/** `waiting` is null here: whether a queued job can be placed is the service's to say (PlacementService). */
export function toJobView(j: JobRow, parts: JobViewParts, nowMs: number): JobView {
  const { attempts } = parts;
  const shown = attempts.find((a) => a.n === parts.stepAttempt);
  const stepAttempt = shown ? { state: shown.state, endedAt: shown.ended_at } : undefined;
  return {
    id: j.id,
    name: j.name,
    state: j.state,
    reason: j.reason,
    pool: j.pool,
    labels: j.labels,
    spec: j.spec,
    attempts: attempts.map(toAttemptView),
    exitCode: j.exit_code,
    createdAt: j.created_at.toISOString(),
    updatedAt: j.updated_at.toISOString(),
    ...stepViews(j.spec, stepAttempt, shown ? parts.stepEvents : [], nowMs),
    waiting: null,
    ...runTime(j, attempts, nowMs),
    ...(j.schedule_id ? { scheduleId: j.schedule_id, fireTime: j.fire_time?.toISOString() } : {}),
    ...(j.parent_id ? { parentId: j.parent_id, targetAgent: j.target_agent ?? undefined } : {}),
  };
}

/** What a caller must do after a job changed state inside a transaction. */
export interface JobTransition {
  jobId: string;
  pool: string;
  labels: Record<string, string>;
  state: JobState;
  /** Set when the job went back to `queued`: add BullMQ job `${jobId}-r${round}`. */
  requeueRound?: number;
  /** The job's trace context (jobs.trace), for the requeue's enqueue span. */
  trace?: unknown;
  /** When the job was accepted (jr_job_duration_seconds on a terminal state). */
  createdAt?: Date;
  /** The attempt that ended and made this transition (jr_attempts_finished_total). */
  attemptEnded?: AttemptState;
}
