import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import type { NormalizedJob } from '@jr/contracts';
import { PG_POOL } from '../database/database.module';
import { withTransaction } from '../database/transaction';
import { finishAttempt, lockJobAndAttempt, LIVE_ATTEMPT_STATES } from './attempt-writes';
import type { JobTransition } from './job-rows';
import { holdsFence, type Fence } from '../leadership/fence-sql';

export type { AttemptKey, AttemptOutcome, ReportEvent } from './attempt-writes';

/** pg_advisory_xact_lock's first key for grants (the second: hashtext of the agent id). */
const GRANT_LOCK_SPACE = 0x6a72_0001;

interface GrantRow {
  live: number;
  spec: NormalizedJob | null;
  secrets: Record<string, unknown> | null;
  retries: number;
  failed_attempts: number;
  lost_attempts: number;
  cancel_requested: boolean;
  n: number;
}

/**
 * Counts the agent's live attempts (less those in `$6`) and, while below its slots (`$7`), moves the job
 * from queued to leased and inserts the attempt; one row always (live, and the job's columns or nulls).
 */
const GRANT_SQL = `
WITH live AS (
  SELECT count(*)::int AS c FROM attempts
  WHERE agent_id = $3 AND state IN ('leased','running') AND NOT ((job_id || '/' || n) = ANY($6::text[]))
), job AS (
  UPDATE jobs SET state = 'leased', updated_at = $2
  WHERE id = $1 AND state = 'queued' AND NOT cancel_requested AND (SELECT c FROM live) < $7
    AND NOT fleet AND (target_agent IS NULL OR target_agent = $3)
  RETURNING spec, secrets, retries, failed_attempts, lost_attempts, cancel_requested,
    (SELECT coalesce(max(n), 0) + 1 FROM attempts WHERE job_id = $1) AS n
), attempt AS (
  INSERT INTO attempts (job_id, n, agent_id, lease_token, state, leased_at, lease_expires_at)
  SELECT $1, job.n, $3, $4, 'leased', $2, $5 FROM job
)
SELECT (SELECT c FROM live) AS live, job.* FROM (SELECT 1) one LEFT JOIN job ON true`;

/** What a job's retry decision needs, as the grant saw it. */
export interface JobCountersRow {
  retries: number;
  failedAttempts: number;
  lostAttempts: number;
  cancelRequested: boolean;
}

export interface Grant {
  jobId: string;
  attempt: number;
  leaseToken: string;
  leaseExpiresAt: Date;
  spec: NormalizedJob;
  /** The job's sealed secrets (jobs.secrets), for the dispatcher to open; null when it has none. */
  sealedSecrets: Record<string, unknown> | null;
  counters: JobCountersRow;
}

/**
 * The lease protocol in Postgres: grants, lease expiry, and the start-up/outage amnesty. (Reports and
 * completions are applied by the results relay, ResultsRepository.)
 */
@Injectable()
export class JobLedgerRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  /**
   * Leases a queued job to an agent; null when the job is no longer queued (cancelled, handled);
   * 'agent_unavailable' when the agent is revoked or gone, or already holds as many live attempts as
   * its slots. Grants to one agent are serialized by a transaction-level advisory lock (on every
   * replica), so parallel Lease calls cannot exceed its slots; the agent's row is only KEY SHARE locked,
   * which its heartbeats' UPDATEs do not wait for but a revocation (FOR UPDATE) does. `ended`: keys
   * (`jobId/n`) of the agent's attempts whose completion is in hand but not in Postgres yet, which hold no
   * slot. Four round trips: BEGIN, the locks, count-and-grant in one statement, COMMIT.
   */
  async grant(
    jobId: string,
    agentId: string,
    leaseToken: string,
    times: { now: Date; expiresAt: Date },
    ended: readonly string[],
  ): Promise<Grant | null | 'agent_unavailable'> {
    const { now, expiresAt } = times;
    return withTransaction(this.pool, async (tx) => {
      const agent = await tx.query<{ slots: number }>(
        `SELECT a.slots FROM agents a, pg_advisory_xact_lock(${GRANT_LOCK_SPACE}, hashtext(a.id)) l
         WHERE a.id = $1 AND a.revoked_at IS NULL FOR KEY SHARE OF a`,
        [agentId],
      );
      const slots = agent.rows[0]?.slots;
      if (slots === undefined) return 'agent_unavailable';
      // a statement of its own after the lock: its snapshot sees the grant that held the lock before
      const res = await tx.query<GrantRow>(GRANT_SQL, [jobId, now, agentId, leaseToken, expiresAt, ended, slots]);
      const row = res.rows[0];
      if (!row?.spec) return row && row.live >= slots ? 'agent_unavailable' : null;
      const counters = {
        retries: row.retries,
        failedAttempts: row.failed_attempts,
        lostAttempts: row.lost_attempts,
        cancelRequested: row.cancel_requested,
      };
      const grant = { jobId, attempt: row.n, leaseToken, leaseExpiresAt: expiresAt, spec: row.spec };
      return { ...grant, sealedSecrets: row.secrets, counters };
    });
  }

  /**
   * Takes back a grant the dispatcher cannot hand out (its secrets do not open): the attempt and the job
   * end `failed` with `reason`, no retry (another try would meet the same ciphertext). False when the
   * attempt was no longer the live grant.
   */
  async refuseGrant(jobId: string, attempt: number, reason: string, now: Date): Promise<boolean> {
    return withTransaction(this.pool, async (tx) => {
      const ended = await tx.query(
        `UPDATE attempts SET state = 'failed', reason = $3, ended_at = $4 WHERE job_id = $1 AND n = $2 AND state = 'leased'`,
        [jobId, attempt, reason, now],
      );
      if (ended.rowCount !== 1) return false;
      await tx.query(
        `UPDATE jobs SET state = 'failed', reason = $2, enqueue_pending = false, ended_at = $3, updated_at = $3 WHERE id = $1 AND state = 'leased'`,
        [jobId, reason, now],
      );
      return true;
    });
  }

  /** Attempts whose lease ran out, oldest first, but those in `held` (`jobId/n`: held by a live replica). */
  async expiredLeases(
    now: Date,
    limit: number,
    held: readonly string[] = [],
  ): Promise<Array<{ jobId: string; attempt: number }>> {
    const res = await this.pool.query<{ job_id: string; n: number }>(
      `SELECT job_id, n FROM attempts WHERE state IN ('leased','running') AND lease_expires_at < $1
         AND NOT ((job_id || '/' || n) = ANY($3::text[]))
       ORDER BY lease_expires_at LIMIT $2`,
      [now, limit, held],
    );
    return res.rows.map((r) => ({ jobId: r.job_id, attempt: r.n }));
  }

  /**
   * Ends an expired attempt `lost` and decides its job. Skips (null) a job another transaction or replica
   * holds (SKIP LOCKED) and an attempt that ended or was extended meanwhile. With a fence (the reaper, on
   * the leader), 'fenced' when the duty's epoch is no longer the fence's: a deposed leader changes nothing.
   * The epoch row is share-locked for the transaction, so a new leader's epoch begins after this commits,
   * never in between (and a session cut off mid-transaction ends by the timeout set here, lock and all).
   */
  async expire(
    jobId: string,
    n: number,
    now: Date,
    maxLostAttempts: number,
    fence?: Fence,
  ): Promise<JobTransition | null | 'fenced'> {
    return withTransaction(this.pool, async (tx) => {
      if (fence && !(await holdsFence(tx, fence))) return 'fenced';
      const { job, attempt } = await lockJobAndAttempt(tx, jobId, n, true);
      if (
        !job ||
        !attempt ||
        !LIVE_ATTEMPT_STATES.has(attempt.state) ||
        attempt.lease_expires_at.getTime() >= now.getTime()
      )
        return null;
      return finishAttempt(
        tx,
        job,
        attempt,
        { end: 'lost', exitCode: null, reason: 'lease_expired', startedAt: null, endedAt: now },
        now,
        maxLostAttempts,
      );
    });
  }

  /**
   * Every live lease of the agents `replica` heard last (agents.last_replica; or nobody yet) runs at least
   * until `until`. Used when this replica could not have heard their heartbeats (it was down, or Postgres
   * was): silence it caused itself is not evidence that an agent is gone. Other live replicas' agents could
   * heartbeat all along; with `live` (the other replicas that have a record now) the agents of a replica
   * that is gone are covered too: they lost their replica, as after a site failover, and reconnect here.
   * Returns the count and the gone replicas whose agents it covered.
   */
  async extendLiveLeases(
    until: Date,
    leasedBefore: Date,
    replica: string,
    live?: readonly string[],
  ): Promise<{ extended: number; orphans: string[] }> {
    const res = await this.pool.query<{ extended: number; orphans: string[] }>(
      `WITH ext AS (
         UPDATE attempts t SET lease_expires_at = $1 FROM agents a
          WHERE a.id = t.agent_id
            AND (a.last_replica = $3 OR a.last_replica IS NULL
                 OR ($4::text[] IS NOT NULL AND NOT (a.last_replica = ANY($4::text[]))))
            AND t.state IN ('leased','running') AND t.lease_expires_at < $1 AND t.leased_at < $2
          RETURNING a.last_replica)
       SELECT count(*)::int AS extended,
              coalesce(array_agg(DISTINCT last_replica) FILTER (WHERE last_replica <> $3), '{}') AS orphans
         FROM ext`,
      [until, leasedBefore, replica, live ?? null],
    );
    return res.rows[0] ?? { extended: 0, orphans: [] };
  }

  /** One round trip: whether Postgres answers this replica (a pass that writes nothing still learns it). */
  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }
}
