import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import type { AttemptState, JobState } from '@jr/contracts';
import type { AttemptSnapshot } from '../common/attempt-registry';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { PG_POOL } from '../database/database.module';
import { withTransaction, type Tx } from '../database/transaction';
import {
  finishAttempt,
  insertEvents,
  LIVE_ATTEMPT_STATES,
  lockJobAndAttempt,
  type ReportEvent,
} from '../jobs/attempt-writes';
import { capLogEvents, logBytes } from './log-cap';
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
  /** Postgres had this record already (a replay): nothing changed. */
  unchanged?: true;
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
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async snapshot(jobId: string, attempt: number): Promise<AttemptSnapshot | undefined> {
    const res = await this.pool.query<SnapshotRow>(`${SNAPSHOT_SQL} WHERE a.job_id = $1 AND a.n = $2`, [
      jobId,
      attempt,
    ]);
    const r = res.rows[0];
    return r ? toSnapshot(r) : undefined;
  }

  /** Every live attempt (start-up: fencing keeps working if Postgres goes away right after). */
  async liveSnapshots(limit: number): Promise<AttemptSnapshot[]> {
    const res = await this.pool.query<SnapshotRow>(`${SNAPSHOT_SQL} WHERE a.state IN ('leased','running') LIMIT $1`, [
      limit,
    ]);
    return res.rows.map(toSnapshot);
  }

  /** Stores the events (once each); the first step start moves attempt and job to running; a lost attempt becomes superseded. */
  async applyReport(rec: ReportRecord): Promise<ApplyEffect> {
    return withTransaction(this.pool, async (tx) => {
      const locked = await lockMatching(tx, rec);
      if ('ignored' in locked) return locked;
      const { job, attempt } = locked;
      const maxSeq = rec.events.reduce((m, e) => Math.max(m, e.seq), 0);
      // a replay: every event stored already (only looked up at or below last_seq, where a report can repeat)
      if (maxSeq <= Number(attempt.last_seq) && attempt.state !== 'lost' && (await allStored(tx, rec)))
        return { attemptState: attempt.state, unchanged: true };
      await insertEvents(tx, rec, await cappedEvents(tx, rec, Number(attempt.last_seq), this.config.maxLogBytes));
      const superseded = attempt.state === 'lost';
      await tx.query(
        `UPDATE attempts SET last_seq = greatest(last_seq, $3), state = CASE WHEN state = 'lost' THEN 'superseded' ELSE state END WHERE job_id = $1 AND n = $2`,
        [rec.jobId, rec.attempt, maxSeq],
      );
      if (superseded) return { attemptState: 'superseded' };
      const started = rec.events
        .filter((e) => e.kind === 'step_started')
        .sort((a, b) => a.at.getTime() - b.at.getTime())[0];
      if (!started || attempt.state !== 'leased') return { attemptState: attempt.state };
      await tx.query(
        `UPDATE attempts SET state = 'running', started_at = coalesce(started_at, $3) WHERE job_id = $1 AND n = $2`,
        [rec.jobId, rec.attempt, started.at],
      );
      const moved = await tx.query(
        `UPDATE jobs SET state = 'running', updated_at = $2 WHERE id = $1 AND state = 'leased'`,
        [rec.jobId, new Date(rec.at)],
      );
      if ((moved.rowCount ?? 0) === 0) return { attemptState: 'running' };
      return {
        attemptState: 'running',
        jobState: 'running',
        transition: { jobId: job.id, pool: job.pool, labels: job.labels, state: 'running' },
      };
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
      if (attempt.state === o.end) return { attemptState: attempt.state, jobState: job.state, unchanged: true };
      return { ignored: `attempt already ended ${attempt.state}, completion says ${o.end}` };
    });
  }
}

const SNAPSHOT_SQL = `SELECT a.job_id, a.n, a.agent_id, a.lease_token, a.state, a.last_seq::text AS last_seq, j.state AS job_state, j.retries, j.failed_attempts,
  j.lost_attempts, j.cancel_requested, jsonb_array_length(j.spec->'steps') AS steps FROM attempts a JOIN jobs j ON j.id = a.job_id`;

function toSnapshot(r: SnapshotRow): AttemptSnapshot {
  const job = {
    state: r.job_state,
    retries: r.retries,
    failedAttempts: r.failed_attempts,
    lostAttempts: r.lost_attempts,
    cancelRequested: r.cancel_requested,
  };
  return {
    jobId: r.job_id,
    attempt: r.n,
    agentId: r.agent_id,
    leaseToken: r.lease_token,
    state: r.state,
    lastSeq: Number(r.last_seq),
    ...(r.steps === null ? {} : { steps: r.steps }),
    job,
  };
}

/**
 * The report's events as they are to be stored under JR_MAX_LOG_BYTES (log-cap.ts), the job's output
 * counter moved on by what is stored. Runs under the job's row lock, so reports of one job count in turn.
 */
async function cappedEvents(tx: Tx, rec: ReportRecord, lastSeq: number, maxBytes: number): Promise<ReportEvent[]> {
  if (logBytes(rec.events) === 0) return rec.events;
  const fresh = await unstoredEvents(tx, rec, lastSeq);
  const usage = await tx.query<{ bytes: string; truncated: boolean }>(
    'SELECT log_bytes AS bytes, log_truncated AS truncated FROM jobs WHERE id = $1',
    [rec.jobId],
  );
  const row = usage.rows[0];
  const stored = { bytes: Number(row?.bytes ?? 0), truncated: row?.truncated ?? false };
  const cuts = !stored.truncated && stored.bytes + logBytes(fresh) > maxBytes;
  const capped = capLogEvents(fresh, stored, maxBytes, cuts ? await endsWithNewline(tx, rec.jobId) : true);
  if (capped.addedBytes > 0 || capped.truncatedNow) {
    await tx.query('UPDATE jobs SET log_bytes = log_bytes + $2, log_truncated = log_truncated OR $3 WHERE id = $1', [
      rec.jobId,
      capped.addedBytes,
      capped.truncatedNow,
    ]);
  }
  return capped.events;
}

/** Events of a record not stored yet: all past the attempt's last_seq; at or below it, those without a row. */
async function unstoredEvents(tx: Tx, rec: ReportRecord, lastSeq: number): Promise<ReportEvent[]> {
  if (rec.events.every((e) => e.seq > lastSeq)) return rec.events;
  const seqs = rec.events.map((e) => e.seq);
  const res = await tx.query<{ seq: string }>(
    'SELECT seq FROM attempt_events WHERE job_id = $1 AND attempt = $2 AND seq = ANY($3::bigint[])',
    [rec.jobId, rec.attempt, seqs],
  );
  const stored = new Set(res.rows.map((r) => Number(r.seq)));
  return rec.events.filter((e) => !stored.has(e.seq));
}

async function allStored(tx: Tx, rec: ReportRecord): Promise<boolean> {
  const res = await tx.query<{ n: string }>(
    'SELECT count(*) AS n FROM attempt_events WHERE job_id = $1 AND attempt = $2 AND seq = ANY($3::bigint[])',
    [rec.jobId, rec.attempt, rec.events.map((e) => e.seq)],
  );
  return Number(res.rows[0]?.n ?? 0) === new Set(rec.events.map((e) => e.seq)).size;
}

/** Whether the job's stored output so far ends with a newline (or is empty). */
async function endsWithNewline(tx: Tx, jobId: string): Promise<boolean> {
  const res = await tx.query<{ last: Buffer | null }>(
    `SELECT substring(data FROM octet_length(data)) AS last FROM attempt_events WHERE job_id = $1 AND kind = 'log' AND octet_length(data) > 0 ORDER BY attempt DESC, seq DESC LIMIT 1`,
    [jobId],
  );
  const last = res.rows[0]?.last;
  return !last || last[0] === 0x0a;
}

/** The job and attempt rows, locked, when the record's lease is the attempt's lease. */
async function lockMatching(
  tx: Tx,
  rec: ReportRecord | CompleteRecord,
): Promise<{ job: JobRow; attempt: AttemptRow } | { ignored: string }> {
  const { job, attempt } = await lockJobAndAttempt(tx, rec.jobId, rec.attempt);
  if (!job || !attempt) return { ignored: 'no such attempt' };
  if (attempt.lease_token !== rec.leaseToken || attempt.agent_id !== rec.agentId)
    return { ignored: 'lease token or agent does not match the attempt' };
  return { job, attempt };
}
