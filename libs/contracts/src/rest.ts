import type { AttemptState, JobReason, JobState } from './states';
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
  state: 'active' | 'draining' | 'lost';
  slots: number;
  running: number;
  lastHeartbeatAt: string | null;
  breakerState: string;
  spoolDepth: number;
  spoolOldestAgeMs: number;
  enrolledAt: string;
}

export interface AgentList {
  items: AgentView[];
}

/** `GET /readyz` */
export interface ReadinessView {
  ready: boolean;
  dependencies: Record<string, { up: boolean; latencyMs: number | null; detail?: string }>;
}
