import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { DomainError, type AttemptEnd, type JobState, type NormalizedJob } from '@jr/contracts';
import { PG_POOL } from '../database/database.module';
import { withTransaction, type Tx } from '../database/transaction';
import { decideAfterAttempt } from './job-decision';
import type { AttemptRow, JobRow, JobTransition } from './job-rows';

export interface Grant {
  jobId: string;
  attempt: number;
  leaseToken: string;
  leaseExpiresAt: Date;
  spec: NormalizedJob;
}

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

const LIVE = ['leased', 'running'];
/** Agent reasons that also name why a job failed (JobReason). */
const JOB_FAILURE_REASONS = new Set(['download_failed', 'checksum_mismatch', 'invalid_spec']);

/**
 * The lease protocol in Postgres: grants, fenced reports and completions, lease expiry. Every change
 * to a job happens in one transaction that locks the job row first, then the attempt row.
 */
@Injectable()
export class JobLedgerRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  /** Leases a queued job to an agent; null when the job is no longer queued (cancelled, handled). */
  async grant(jobId: string, agentId: string, leaseToken: string, now: Date, expiresAt: Date): Promise<Grant | null> {
    return withTransaction(this.pool, async (tx) => {
      const job = await tx.query<{ spec: NormalizedJob }>(
        `UPDATE jobs SET state = 'leased', updated_at = $2 WHERE id = $1 AND state = 'queued' AND NOT cancel_requested RETURNING spec`,
        [jobId, now],
      );
      const row = job.rows[0];
      if (!row) return null;
      const n = await tx.query<{ n: number }>('SELECT coalesce(max(n), 0) + 1 AS n FROM attempts WHERE job_id = $1', [jobId]);
      const attempt = n.rows[0]?.n ?? 1;
      await tx.query(
        `INSERT INTO attempts (job_id, n, agent_id, lease_token, state, leased_at, lease_expires_at) VALUES ($1, $2, $3, $4, 'leased', $5, $6)`,
        [jobId, attempt, agentId, leaseToken, now, expiresAt],
      );
      return { jobId, attempt, leaseToken, leaseExpiresAt: expiresAt, spec: row.spec };
    });
  }

  /** Stores events once each (by seq); the first step start moves attempt and job to running. */
  async report(key: AttemptKey, events: ReportEvent[], now: Date): Promise<{ ackedSeq: number; transition?: JobTransition }> {
    return withTransaction(this.pool, async (tx) => {
      const { job, attempt } = await this.lockLive(tx, key);
      if (events.length > 0) await insertEvents(tx, key, events);
      const max = await tx.query<{ seq: string }>('SELECT coalesce(max(seq), 0)::text AS seq FROM attempt_events WHERE job_id = $1 AND attempt = $2', [key.jobId, key.attempt]);
      const ackedSeq = Number(max.rows[0]?.seq ?? 0);
      await tx.query('UPDATE attempts SET last_seq = $3 WHERE job_id = $1 AND n = $2', [key.jobId, key.attempt, ackedSeq]);
      const started = events.filter((e) => e.kind === 'step_started').sort((a, b) => a.at.getTime() - b.at.getTime())[0];
      if (!started || attempt.state !== 'leased') return { ackedSeq };
      await tx.query(`UPDATE attempts SET state = 'running', started_at = coalesce(started_at, $3) WHERE job_id = $1 AND n = $2`, [key.jobId, key.attempt, started.at]);
      await tx.query(`UPDATE jobs SET state = 'running', updated_at = $2 WHERE id = $1 AND state = 'leased'`, [key.jobId, now]);
      return { ackedSeq, transition: { jobId: job.id, pool: job.pool, labels: job.labels, state: 'running' } };
    });
  }

  /** Ends the attempt and decides the job. A repeat of the same completion is answered idempotently. */
  async complete(key: AttemptKey, outcome: AttemptOutcome, now: Date, maxLostAttempts: number): Promise<{ jobState: JobState; transition?: JobTransition }> {
    return withTransaction(this.pool, async (tx) => {
      const { job, attempt } = await this.lockAttempt(tx, key);
      if (!LIVE.includes(attempt.state)) {
        if (attempt.state === outcome.end) return { jobState: job.state };
        throw new DomainError('SUPERSEDED', `superseded: attempt ${key.attempt} of ${key.jobId} already ended ${attempt.state}`);
      }
      const transition = await finishAttempt(tx, job, attempt, outcome, now, maxLostAttempts);
      return { jobState: transition.state, transition };
    });
  }

  /** Attempts whose lease ran out, oldest first. */
  async expiredLeases(now: Date, limit: number): Promise<Array<{ jobId: string; attempt: number }>> {
    const res = await this.pool.query<{ job_id: string; n: number }>(
      `SELECT job_id, n FROM attempts WHERE state IN ('leased','running') AND lease_expires_at < $1 ORDER BY lease_expires_at LIMIT $2`,
      [now, limit],
    );
    return res.rows.map((r) => ({ jobId: r.job_id, attempt: r.n }));
  }

  /**
   * Ends an expired attempt `lost` and decides its job. Skips (null) a job another transaction or replica
   * holds (SKIP LOCKED) and an attempt that ended or was extended meanwhile.
   */
  async expire(jobId: string, n: number, now: Date, maxLostAttempts: number): Promise<JobTransition | null> {
    return withTransaction(this.pool, async (tx) => {
      const jobs = await tx.query<JobRow>('SELECT * FROM jobs WHERE id = $1 FOR UPDATE SKIP LOCKED', [jobId]);
      const job = jobs.rows[0];
      if (!job) return null;
      const attempts = await tx.query<AttemptRow>('SELECT * FROM attempts WHERE job_id = $1 AND n = $2 FOR UPDATE', [jobId, n]);
      const attempt = attempts.rows[0];
      if (!attempt || !LIVE.includes(attempt.state) || attempt.lease_expires_at.getTime() >= now.getTime()) return null;
      return finishAttempt(tx, job, attempt, { end: 'lost', exitCode: null, reason: 'lease_expired', startedAt: null, endedAt: now }, now, maxLostAttempts);
    });
  }

  private async lockAttempt(tx: Tx, key: AttemptKey): Promise<{ job: JobRow; attempt: AttemptRow }> {
    const jobs = await tx.query<JobRow>('SELECT * FROM jobs WHERE id = $1 FOR UPDATE', [key.jobId]);
    const attempts = await tx.query<AttemptRow>('SELECT * FROM attempts WHERE job_id = $1 AND n = $2 FOR UPDATE', [key.jobId, key.attempt]);
    const job = jobs.rows[0];
    const attempt = attempts.rows[0];
    if (!job || !attempt) throw new DomainError('SUPERSEDED', `superseded: no attempt ${key.attempt} of job ${key.jobId}`);
    if (attempt.lease_token !== key.leaseToken || attempt.agent_id !== key.agentId) {
      throw new DomainError('SUPERSEDED', `superseded: the lease token of attempt ${key.attempt} of ${key.jobId} is not the current one`);
    }
    return { job, attempt };
  }

  private async lockLive(tx: Tx, key: AttemptKey): Promise<{ job: JobRow; attempt: AttemptRow }> {
    const locked = await this.lockAttempt(tx, key);
    if (!LIVE.includes(locked.attempt.state)) {
      throw new DomainError('SUPERSEDED', `superseded: attempt ${key.attempt} of ${key.jobId} already ended ${locked.attempt.state}`);
    }
    return locked;
  }
}

async function insertEvents(tx: Tx, key: AttemptKey, events: ReportEvent[]): Promise<void> {
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

type Ending = Omit<AttemptOutcome, 'end'> & { end: AttemptEnd };

async function finishAttempt(tx: Tx, job: JobRow, attempt: AttemptRow, o: Ending, now: Date, maxLostAttempts: number): Promise<JobTransition> {
  await tx.query(
    `UPDATE attempts SET state = $3, exit_code = $4, reason = $5, started_at = coalesce(started_at, $6), ended_at = $7 WHERE job_id = $1 AND n = $2`,
    [job.id, attempt.n, o.end, o.exitCode, o.reason, o.startedAt, o.endedAt],
  );
  const d = decideAfterAttempt(o.end, { retries: job.retries, failedAttempts: job.failed_attempts, lostAttempts: job.lost_attempts, cancelRequested: job.cancel_requested }, maxLostAttempts);
  const base = { jobId: job.id, pool: job.pool, labels: job.labels };
  if (d.state === 'queued') {
    const res = await tx.query<{ rounds: number }>(
      `UPDATE jobs SET state = 'queued', reason = NULL, rounds = rounds + 1, failed_attempts = $2, lost_attempts = $3, enqueue_pending = true, updated_at = $4
       WHERE id = $1 RETURNING rounds`,
      [job.id, d.failedAttempts, d.lostAttempts, now],
    );
    return { ...base, state: 'queued', requeueRound: res.rows[0]?.rounds ?? job.rounds + 1 };
  }
  const reason = d.state === 'failed' && d.reason === 'exit_code' && o.reason !== null && JOB_FAILURE_REASONS.has(o.reason) ? o.reason : (d.reason ?? null);
  await tx.query(
    `UPDATE jobs SET state = $2, reason = $3, exit_code = $4, failed_attempts = $5, lost_attempts = $6, ended_at = $7, updated_at = $7 WHERE id = $1`,
    [job.id, d.state, reason, o.exitCode, d.failedAttempts, d.lostAttempts, now],
  );
  return { ...base, state: d.state };
}
