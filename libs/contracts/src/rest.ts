import type { AgentViewState, AttemptState, JobReason, JobState, StepState } from './states';
import type { TargetState } from './fleet-spec';
import type { NormalizedJob } from './job-spec';

/** `GET /v1/jobs/:id` */
export interface AttemptView {
  n: number;
  agentId: string;
  state: AttemptState;
  exitCode: number | null;
  reason: string | null;
  startedAt: string | null;
  endedAt: string | null;
}

/** One step of the job's latest attempt that got past leasing (all `pending` before any attempt ran). */
export interface StepView {
  index: number;
  name: string;
  state: StepState;
  exitCode: number | null;
  startedAt: string | null;
  endedAt: string | null;
  durationMs: number | null;
}

/** Why a queued job is not running yet, when the API can tell (no agent could ever take it now). */
export interface WaitingView {
  code: 'no_agents_in_pool' | 'no_agent_with_labels' | 'no_active_agent';
  /** e.g. "no active agent in pool web has labels gpu=true" */
  message: string;
}

export interface JobView {
  id: string;
  name: string;
  state: JobState;
  reason: JobReason | null;
  pool: string;
  labels: Record<string, string>;
  spec: NormalizedJob;
  attempts: AttemptView[];
  exitCode: number | null;
  createdAt: string;
  updatedAt: string;
  /** Steps of the latest attempt, in spec order. */
  steps: StepView[];
  /** The step that failed, timed out or was cancelled in the latest attempt. */
  failedStep: { index: number; name: string } | null;
  /** Set only while the job is queued and cannot be placed. */
  waiting: WaitingView | null;
  /** The job's own run time: first attempt's start to the last attempt's end (or now while running). */
  startedAt: string | null;
  endedAt: string | null;
  durationMs: number | null;
  /** Set on a job a schedule made: the schedule's id and the fire time it stands for. */
  scheduleId?: string;
  fireTime?: string;
  /** Set on a fleet job: its targets by state and where the rollout stands. */
  targets?: FleetProgress;
  /** Set on one target's run of a fleet job: the fleet job and the agent it runs on. */
  parentId?: string;
  targetAgent?: string;
}

/** `targets` of a fleet job's view. */
export interface FleetProgress {
  total: number;
  byState: Record<TargetState, number>;
  /** The highest batch begun (1-based), 0 before the first. */
  batch: number;
  /** The failures crossed maxFailures: nothing more starts. */
  aborted: boolean;
}

/** One target of a fleet job (`GET /v1/jobs/:id/targets`). */
export interface TargetView {
  agentId: string;
  name: string;
  state: TargetState;
  exitCode: number | null;
  /** The batch it ran in (null: never due). */
  batch: number | null;
  /** Its run: a job of its own (logs, attempts) pinned to the agent; null before it started. */
  jobId: string | null;
  startedAt: string | null;
  endedAt: string | null;
}

export interface TargetPage {
  items: TargetView[];
  nextCursor: string | null;
}

/** `POST /v1/jobs` answer. */
export interface SubmitResult {
  id: string;
  state: JobState;
}

/** `GET /v1/jobs` */
export interface JobPage {
  items: JobView[];
  nextCursor: string | null;
}

/** `GET /v1/agents` */
export interface AgentView {
  id: string;
  name: string;
  pool: string;
  labels: Record<string, string>;
  state: AgentViewState;
  /** An operator drained it (undo: POST /v1/agents/:id/undrain); stays true while it is stale or lost. */
  draining: boolean;
  /** Milliseconds since its last heartbeat, by the API's clock (null: never heard from). */
  heartbeatAgeMs: number | null;
  slots: number;
  running: number;
  lastHeartbeatAt: string | null;
  breakerState: string;
  spoolDepth: number;
  spoolOldestAgeMs: number;
  enrolledAt: string;
  /** When an operator revoked it (`jr agents revoke`); null otherwise. */
  revokedAt: string | null;
}

export interface AgentList {
  items: AgentView[];
}

/** `GET /readyz` */
export interface ReadinessView {
  ready: boolean;
  dependencies: Record<string, { up: boolean; latencyMs: number | null; detail?: string }>;
}

/** A fire time that made no job, and why: `downtime` (the catch-up policy passed it over), `overlap`. */
export interface MissedFire {
  fireTime: string;
  reason: 'downtime' | 'overlap';
}

/** `GET /v1/schedules/:id` (and each item of `GET /v1/schedules`). */
export interface ScheduleView {
  id: string;
  name: string;
  /** Exactly one of cron and rrule is set. */
  cron: string | null;
  rrule: string | null;
  timezone: string;
  exclusions: unknown[];
  overlap: 'skip' | 'buffer_one' | 'allow' | 'cancel_previous';
  catchup: { policy: 'none' | 'latest' | 'all'; window: string };
  dst: { ambiguous: 'first' | 'both'; gap: 'skip' | 'shift' };
  paused: boolean;
  /** The job each fire makes (secret names only). */
  job: NormalizedJob;
  createdAt: string;
  updatedAt: string;
  /** The last fire time that made a job (manual triggers included); null before the first. */
  lastFireAt: string | null;
  /** The next fire time (null while paused, or when the rule has no more). */
  nextFireAt: string | null;
  /** The next few fire times (none while paused). */
  nextFireTimes: string[];
  /** The latest fire times that made no job, newest last, and how many older ones there were. */
  missed: MissedFire[];
  missedOmitted: number;
  /** A fire waiting for the running job to end (overlap `buffer_one`). */
  bufferedFireAt: string | null;
  /** The schedule's jobs not yet terminal. */
  activeJobs: string[];
}

export interface SchedulePage {
  items: ScheduleView[];
}

/** `POST /v1/schedules` (201, or 200 when the same name was created with the same document) and `.../trigger` (202). */
export interface ScheduleCreated {
  id: string;
}

export interface ScheduleTriggered {
  id: string;
  jobId: string;
  fireTime: string;
}
