import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import type { AttemptState, JobState } from '@jr/contracts';
import type { AttemptSnapshot } from '../common/attempt-registry';
import { PG_POOL } from '../database/database.module';
import { withTransaction, type Tx } from '../database/transaction';
import { finishAttempt, insertEvents, LIVE_ATTEMPT_STATES, lockJobAndAttempt } from '../jobs/attempt-writes';
import type { AttemptRow, JobRow, JobTransition } from '../jobs/job-rows';
import type { CompleteRecord, ReportRecord } from './results-record';

/** What applying one results record changed (for wake-ups, the registry and the next round's enqueue). */
export interface ApplyEffect {
  /** The attempt's state after the record, when it is known. */
  attemptState?: AttemptState;
  jobState?: JobState;
  transition?: JobTransition;
  /** Why nothing was applied (a record that does not match the attempt any more). */
  ignored?: string;
}

interface SnapshotRow {
  job_id: string;
  n: number;
  agent_id: string;
  lease_token: string;
  state: AttemptState;
  last_seq: string;
  job_state: JobState;
  retries: number;
  failed_attempts: number;
  lost_attempts: number;
  cancel_requested: boolean;
  steps: number | null;
}

/**
 * Reports and completions in Postgres: the fencing read, and the relay's idempotent application of
 * journaled results (events keyed by (job, attempt, seq); an ended attempt is not ended twice).
 */
@Injectable()
export class ResultsRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  async snapshot(jobId: string, attempt: number): Promise<AttemptSnapshot | undefined> {
    const res = await this.pool.query<SnapshotRow>(`${SNAPSHOT_SQL} WHERE a.job_id = $1 AND a.n = $2`, [jobId, attempt]);
    const r = res.rows[0];
    return r ? toSnapshot(r) : undefined;
  }

  /** Every live attempt (start-up: fencing keeps working if Postgres goes away right after). */
  async liveSnapshots(limit: number): Promise<AttemptSnapshot[]> {
    const res = await this.pool.query<SnapshotRow>(`${SNAPSHOT_SQL} WHERE a.state IN ('leased','running') LIMIT $1`, [limit]);
    return res.rows.map(toSnapshot);
  }

  /** Stores the events (once each); the first step start moves attempt and job to running; a lost attempt becomes superseded. */
  async applyReport(rec: ReportRecord): Promise<ApplyEffect> {
    return withTransaction(this.pool, async (tx) => {
      const locked = await lockMatching(tx, rec);
      if ('ignored' in locked) return locked;
      const { job, attempt } = locked;
      await insertEvents(tx, rec, rec.events);
      const maxSeq = rec.events.reduce((m, e) => Math.max(m, e.seq), 0);
      const superseded = attempt.state === 'lost';
      await tx.query(`UPDATE attempts SET last_seq = greatest(last_seq, $3), state = CASE WHEN state = 'lost' THEN 'superseded' ELSE state END WHERE job_id = $1 AND n = $2`, [
        rec.jobId,
        rec.attempt,
        maxSeq,
      ]);
      if (superseded) return { attemptState: 'superseded' };
      const started = rec.events.filter((e) => e.kind === 'step_started').sort((a, b) => a.at.getTime() - b.at.getTime())[0];
      if (!started || attempt.state !== 'leased') return { attemptState: attempt.state };
      await tx.query(`UPDATE attempts SET state = 'running', started_at = coalesce(started_at, $3) WHERE job_id = $1 AND n = $2`, [rec.jobId, rec.attempt, started.at]);
      const moved = await tx.query(`UPDATE jobs SET state = 'running', updated_at = $2 WHERE id = $1 AND state = 'leased'`, [rec.jobId, new Date(rec.at)]);
      if ((moved.rowCount ?? 0) === 0) return { attemptState: 'running' };
      return { attemptState: 'running', jobState: 'running', transition: { jobId: job.id, pool: job.pool, labels: job.labels, state: 'running' } };
    });
  }

  /** Ends a live attempt and decides its job; a lost one becomes superseded with the reported exit code; a repeat changes nothing. */
  async applyComplete(rec: CompleteRecord, maxLostAttempts: number): Promise<ApplyEffect> {
    return withTransaction(this.pool, async (tx) => {
      const locked = await lockMatching(tx, rec);
      if ('ignored' in locked) return locked;
      const { job, attempt } = locked;
      const o = rec.outcome;
      if (LIVE_ATTEMPT_STATES.has(attempt.state)) {
        const transition = await finishAttempt(tx, job, attempt, o, new Date(rec.at), maxLostAttempts);
        return { attemptState: o.end, jobState: transition.state, transition };
      }
      if (attempt.state === 'lost' || attempt.state === 'superseded') {
        await tx.query(
          `UPDATE attempts SET state = 'superseded', exit_code = coalesce(exit_code, $3), started_at = coalesce(started_at, $4) WHERE job_id = $1 AND n = $2`,
          [rec.jobId, rec.attempt, o.exitCode, o.startedAt],
        );
        return { attemptState: 'superseded' };
      }
      if (attempt.state === o.end) return { attemptState: attempt.state, jobState: job.state };
      return { ignored: `attempt already ended ${attempt.state}, completion says ${o.end}` };
    });
  }
}

const SNAPSHOT_SQL = `SELECT a.job_id, a.n, a.agent_id, a.lease_token, a.state, a.last_seq::text AS last_seq, j.state AS job_state, j.retries, j.failed_attempts,
  j.lost_attempts, j.cancel_requested, jsonb_array_length(j.spec->'steps') AS steps FROM attempts a JOIN jobs j ON j.id = a.job_id`;

function toSnapshot(r: SnapshotRow): AttemptSnapshot {
  const job = { state: r.job_state, retries: r.retries, failedAttempts: r.failed_attempts, lostAttempts: r.lost_attempts, cancelRequested: r.cancel_requested };
  return { jobId: r.job_id, attempt: r.n, agentId: r.agent_id, leaseToken: r.lease_token, state: r.state, lastSeq: Number(r.last_seq), ...(r.steps === null ? {} : { steps: r.steps }), job };
}

/** The job and attempt rows, locked, when the record's lease is the attempt's lease. */
async function lockMatching(tx: Tx, rec: ReportRecord | CompleteRecord): Promise<{ job: JobRow; attempt: AttemptRow } | { ignored: string }> {
  const { job, attempt } = await lockJobAndAttempt(tx, rec.jobId, rec.attempt);
  if (!job || !attempt) return { ignored: 'no such attempt' };
  if (attempt.lease_token !== rec.leaseToken || attempt.agent_id !== rec.agentId) return { ignored: 'lease token or agent does not match the attempt' };
  return { job, attempt };
}
