import type { AttemptEnd, AttemptState } from '@jr/contracts';
import type { Tx } from '../database/transaction';
import { decideAfterAttempt } from './job-decision';
import type { AttemptRow, JobRow, JobTransition } from './job-rows';

/**
 * The SQL both the lease ledger (grant, expiry) and the results applier (reports, completions) run
 * inside their transactions. Every change to a job locks the job row first, then the attempt row.
 */

export interface AttemptKey {
  jobId: string;
  attempt: number;
  leaseToken: string;
  agentId: string;
}

export interface ReportEvent {
  seq: number;
  at: Date;
  kind: 'log' | 'step_started' | 'step_finished';
  step: number;
  stream: string | null;
  data: Buffer | null;
  detail: Record<string, unknown> | null;
}

export interface AttemptOutcome {
  end: Exclude<AttemptEnd, 'lost'>;
  exitCode: number | null;
  reason: string | null;
  startedAt: Date | null;
  endedAt: Date;
}

export type Ending = Omit<AttemptOutcome, 'end'> & { end: AttemptEnd };

export const LIVE_ATTEMPT_STATES: ReadonlySet<AttemptState> = new Set(['leased', 'running']);
/** Agent reasons that also name why a job failed (JobReason). */
const JOB_FAILURE_REASONS = new Set(['download_failed', 'checksum_mismatch', 'invalid_spec']);

/** Locks the job row, then the attempt row; either may be missing. */
export async function lockJobAndAttempt(
  tx: Tx,
  jobId: string,
  n: number,
  skipLocked = false,
): Promise<{ job?: JobRow; attempt?: AttemptRow }> {
  const jobs = await tx.query<JobRow>(
    `SELECT * FROM jobs WHERE id = $1 FOR UPDATE${skipLocked ? ' SKIP LOCKED' : ''}`,
    [jobId],
  );
  const job = jobs.rows[0];
  if (!job) return {};
  const attempts = await tx.query<AttemptRow>('SELECT * FROM attempts WHERE job_id = $1 AND n = $2 FOR UPDATE', [
    jobId,
    n,
  ]);
  return { job, attempt: attempts.rows[0] };
}

/** Stores events once each: (job, attempt, seq) is the key, a replay inserts nothing. */
export async function insertEvents(
  tx: Tx,
  key: { jobId: string; attempt: number },
  events: ReportEvent[],
): Promise<void> {
  if (events.length === 0) return;
  await tx.query(
    `INSERT INTO attempt_events (job_id, attempt, seq, kind, step, stream, data, detail, at)
     SELECT $1, $2, e.seq, e.kind, e.step, e.stream, e.data, e.detail, e.at
     FROM unnest($3::bigint[], $4::text[], $5::int[], $6::text[], $7::bytea[], $8::jsonb[], $9::timestamptz[]) AS e(seq, kind, step, stream, data, detail, at)
     ON CONFLICT DO NOTHING`,
    [
      key.jobId,
      key.attempt,
      events.map((e) => e.seq),
      events.map((e) => e.kind),
      events.map((e) => e.step),
      events.map((e) => e.stream),
      events.map((e) => e.data),
      events.map((e) => (e.detail ? JSON.stringify(e.detail) : null)),
      events.map((e) => e.at),
    ],
  );
}

/** Ends a live attempt and moves its job on through the contract's retry decision. */
export async function finishAttempt(
  tx: Tx,
  job: JobRow,
  attempt: AttemptRow,
  o: Ending,
  now: Date,
  maxLostAttempts: number,
): Promise<JobTransition> {
  await tx.query(
    `UPDATE attempts SET state = $3, exit_code = $4, reason = $5, started_at = coalesce(started_at, $6), ended_at = $7 WHERE job_id = $1 AND n = $2`,
    [job.id, attempt.n, o.end, o.exitCode, o.reason, o.startedAt, o.endedAt],
  );
  const d = decideAfterAttempt(
    o.end,
    {
      retries: job.retries,
      failedAttempts: job.failed_attempts,
      lostAttempts: job.lost_attempts,
      cancelRequested: job.cancel_requested,
      atMostOnce: job.spec.atMostOnce === true,
    },
    maxLostAttempts,
    o.reason,
  );
  const base = {
    jobId: job.id,
    pool: job.pool,
    labels: job.labels,
    trace: job.trace,
    createdAt: job.created_at,
    attemptEnded: o.end,
  };
  if (d.state === 'queued') {
    const res = await tx.query<{ rounds: number }>(
      `UPDATE jobs SET state = 'queued', reason = NULL, rounds = rounds + 1, failed_attempts = $2, lost_attempts = $3, enqueue_pending = true, updated_at = $4
       WHERE id = $1 RETURNING rounds`,
      [job.id, d.failedAttempts, d.lostAttempts, now],
    );
    return { ...base, state: 'queued', requeueRound: res.rows[0]?.rounds ?? job.rounds + 1 };
  }
  const reason =
    d.state === 'failed' && d.reason === 'exit_code' && o.reason !== null && JOB_FAILURE_REASONS.has(o.reason)
      ? o.reason
      : (d.reason ?? null);
  await tx.query(
    `UPDATE jobs SET state = $2, reason = $3, exit_code = $4, failed_attempts = $5, lost_attempts = $6, ended_at = $7, updated_at = $7 WHERE id = $1`,
    [job.id, d.state, reason, o.exitCode, d.failedAttempts, d.lostAttempts, now],
  );
  return { ...base, state: d.state };
}
