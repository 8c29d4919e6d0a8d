import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { isTerminal, TARGET_STATES, type FleetProgress, type JobState, type JobView } from '@jr/contracts';
import { CLOCK, type Clock } from '../config/app-config';
import { PG_POOL } from '../database/database.module';
import { withTransaction } from '../database/transaction';
import { toJobView, type AttemptRow, type JobRow } from './job-rows';
import type { StepEventRow } from './step-views';

export type CancelOutcome =
  | { kind: 'missing' }
  | { kind: 'terminal'; state: JobState }
  | { kind: 'cancelled'; jobId: string; pool: string; rounds: number; createdAt: Date }
  | { kind: 'requested'; jobId: string; state: JobState };

export interface ListQuery {
  state?: JobState;
  pool?: string;
  /** Only the jobs this schedule made. */
  scheduleId?: string;
  /** Canary jobs: left out (default), included, or the only ones. */
  canary?: 'exclude' | 'include' | 'only';
  limit: number;
  beforeId?: string;
}

export interface PendingEnqueue {
  id: string;
  pool: string;
  labels: Record<string, string>;
  rounds: number;
  /** jobs.trace: the W3C context the job's enqueues continue (NULL for jobs from before tracing). */
  trace: unknown;
  /** Still marked as not yet added (false for a job the sweep re-adds only because Redis may have lost it). */
  enqueue_pending: boolean;
}

/** The job an id names: itself, or the job it is an alias of (see migrations/002_job_aliases.sql). */
export const RESOLVE_ID = (param: string): string =>
  `coalesce((SELECT job_id FROM job_aliases WHERE id = ${param}), ${param})`;

/**
 * A job with everything its view shows, in one statement (per job for a page, no query per row): its
 * attempts, and for the latest attempt that got past leasing (started, or ended other than lost while
 * leased) the latest step_started and step_finished event of each step of the spec, newest try first
 * through attempt_events_steps_idx (migrations/007) without touching the attempt's log chunks.
 */
const VIEW_SQL = `SELECT j.*, sa.n AS step_attempt,
  coalesce((SELECT json_agg(a ORDER BY a.n) FROM attempts a WHERE a.job_id = j.id), '[]') AS attempt_rows,
  coalesce((SELECT json_agg(s) FROM (
    SELECT DISTINCT ON (e.step, e.kind) e.step, e.kind, e.seq, e.at, e.detail FROM attempt_events e
    WHERE e.job_id = j.id AND e.attempt = sa.n AND e.kind IN ('step_started', 'step_finished') AND e.step < jsonb_array_length(j.spec->'steps')
    ORDER BY e.step, e.kind, e.seq DESC) s), '[]') AS step_events,
  CASE WHEN j.fleet THEN (SELECT json_build_object(
    'byState', coalesce((SELECT json_object_agg(c.state, c.n) FROM (SELECT state, count(*)::int AS n FROM job_targets WHERE job_id = j.id GROUP BY state) c), '{}'),
    'batch', (SELECT coalesce(max(batch), 0) FROM job_targets WHERE job_id = j.id),
    'aborted', coalesce((SELECT aborted FROM fleet_rollouts WHERE job_id = j.id), false))) END AS fleet_progress
  FROM jobs j LEFT JOIN LATERAL (
    SELECT max(a.n) AS n FROM attempts a WHERE a.job_id = j.id AND (a.started_at IS NOT NULL OR a.state NOT IN ('leased', 'lost'))) sa ON true`;

type ViewRow = JobRow & {
  fleet_progress: FleetProgressRow | null;
  step_attempt: number | null;
  attempt_rows: Array<Record<string, unknown>>;
  step_events: StepEventRow[];
};

/** Jobs as Postgres holds them: reads for REST, cancel, enqueue bookkeeping (intake writes: IntakeRepository). */
@Injectable()
export class JobsRepository {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async findByIdempotencyKey(key: string): Promise<{ id: string; requestHash: string; state: JobState } | undefined> {
    const res = await this.pool.query<{ id: string; request_hash: string; state: JobState }>(
      'SELECT id, request_hash, state FROM jobs WHERE idempotency_key = $1',
      [key],
    );
    const row = res.rows[0];
    return row ? { id: row.id, requestHash: row.request_hash, state: row.state } : undefined;
  }

  /** `waiting` is always null here (JobsService adds it for queued jobs). */
  async findView(id: string): Promise<JobView | undefined> {
    const res = await this.pool.query<ViewRow>(`${VIEW_SQL} WHERE j.id = ${RESOLVE_ID('$1')}`, [id]);
    const row = res.rows[0];
    return row ? this.toView(row) : undefined;
  }

  /** `id` is the job's own id (an alias resolves to the job it names). */
  async stateOf(id: string): Promise<{ id: string; state: JobState; attempts: number } | undefined> {
    const res = await this.pool.query<{ id: string; state: JobState; attempts: number }>(
      `SELECT j.id, j.state, (SELECT count(*)::int FROM attempts a WHERE a.job_id = j.id) AS attempts FROM jobs j WHERE j.id = ${RESOLVE_ID('$1')}`,
      [id],
    );
    return res.rows[0];
  }

  /** Newest first; job ids sort by creation time, so the cursor is the last id seen. `waiting` is null (see findView). */
  async list(q: ListQuery): Promise<JobView[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.state) where.push(`j.state = $${params.push(q.state)}`);
    if (q.pool) where.push(`j.pool = $${params.push(q.pool)}`);
    if (q.scheduleId) where.push(`j.schedule_id = $${params.push(q.scheduleId)}`);
    if (q.beforeId) where.push(`j.id < $${params.push(q.beforeId)}`);
    if ((q.canary ?? 'exclude') !== 'include') where.push(q.canary === 'only' ? 'j.canary' : 'NOT j.canary');
    where.push('j.parent_id IS NULL'); // a fleet job's runs are listed under it (GET /v1/jobs/:id/targets)
    const sql = `${VIEW_SQL} ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY j.id DESC LIMIT $${params.push(q.limit)}`;
    const res = await this.pool.query<ViewRow>(sql, params);
    return res.rows.map((r) => this.toView(r));
  }

  /** Queued: cancelled at once. Leased/running: cancel requested (the agent is told on its next heartbeat). */
  async cancel(id: string, now: Date): Promise<CancelOutcome> {
    return withTransaction(this.pool, async (tx) => {
      const res = await tx.query<JobRow>(`SELECT * FROM jobs WHERE id = ${RESOLVE_ID('$1')} FOR UPDATE`, [id]);
      const job = res.rows[0];
      if (!job) return { kind: 'missing' };
      const jobId = job.id;
      if (isTerminal(job.state)) return { kind: 'terminal', state: job.state };
      // a fleet job ends through its coordinator: pending targets skipped, running ones cancelled
      if (job.state === 'queued' && !job.fleet) {
        await tx.query(
          `UPDATE jobs SET state = 'cancelled', reason = 'cancelled', cancel_requested = true, enqueue_pending = false, ended_at = $2, updated_at = $2 WHERE id = $1`,
          [jobId, now],
        );
        return { kind: 'cancelled', jobId, pool: job.pool, rounds: job.rounds, createdAt: job.created_at };
      }
      await tx.query('UPDATE jobs SET cancel_requested = true, updated_at = $2 WHERE id = $1', [jobId, now]);
      return { kind: 'requested', jobId, state: job.state };
    });
  }

  /** Its BullMQ job failed: let the sweep add it again. */
  async markEnqueuePending(id: string): Promise<void> {
    await this.pool.query(`UPDATE jobs SET enqueue_pending = true WHERE id = $1 AND state = 'queued'`, [id]);
  }

  async markEnqueued(id: string, round: number): Promise<void> {
    await this.pool.query('UPDATE jobs SET enqueue_pending = false WHERE id = $1 AND rounds = $2', [id, round]);
  }

  /** One statement for a batch the relay or the sweep added to BullMQ. */
  async markEnqueuedMany(items: Array<{ id: string; round: number }>): Promise<void> {
    if (items.length === 0) return;
    await this.pool.query(
      'UPDATE jobs j SET enqueue_pending = false FROM unnest($1::text[], $2::int[]) AS r(id, rounds) WHERE j.id = r.id AND j.rounds = r.rounds AND j.enqueue_pending',
      [items.map((i) => i.id), items.map((i) => i.round)],
    );
  }

  /** Queued jobs whose BullMQ job may be missing: not yet added, or added before Redis lost it. */
  async pendingEnqueues(olderThan: Date, limit: number, all: boolean, afterId: string): Promise<PendingEnqueue[]> {
    const res = await this.pool.query<PendingEnqueue>(
      `SELECT id, pool, labels, rounds, trace, enqueue_pending FROM jobs WHERE state = 'queued' AND NOT fleet AND id > $4 AND ($3 OR (enqueue_pending AND updated_at < $1)) ORDER BY id LIMIT $2`,
      [olderThan, limit, all, afterId],
    );
    return res.rows;
  }

  async countByState(): Promise<Array<{ state: JobState; count: number }>> {
    const res = await this.pool.query<{ state: JobState; count: number }>(
      'SELECT state, count(*)::int AS count FROM jobs GROUP BY state',
    );
    return res.rows;
  }

  private toView(r: ViewRow): JobView {
    const { step_attempt, attempt_rows, step_events, fleet_progress, ...job } = r;
    const view = toJobView(
      job,
      { attempts: attempt_rows.map(attemptFromJson), stepAttempt: step_attempt, stepEvents: step_events },
      this.clock.now(),
    );
    return fleet_progress ? { ...view, targets: fleetProgress(fleet_progress) } : view;
  }
}

function attemptFromJson(a: Record<string, unknown>): AttemptRow {
  const date = (v: unknown): Date | null => (typeof v === 'string' ? new Date(v) : null);
  return {
    ...(a as unknown as AttemptRow),
    started_at: date(a.started_at),
    ended_at: date(a.ended_at),
    leased_at: date(a.leased_at) as Date,
    lease_expires_at: date(a.lease_expires_at) as Date,
  };
}

interface FleetProgressRow {
  byState: Record<string, number>;
  batch: number;
  aborted: boolean;
}

function fleetProgress(r: FleetProgressRow): FleetProgress {
  const byState = Object.fromEntries(TARGET_STATES.map((s) => [s, r.byState[s] ?? 0])) as FleetProgress['byState'];
  return { total: Object.values(byState).reduce((a, b) => a + b, 0), byState, batch: r.batch, aborted: r.aborted };
}
