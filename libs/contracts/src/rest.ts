import type { AgentViewState, AttemptState, JobReason, JobState, StepState } from './states';
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
