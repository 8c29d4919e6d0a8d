import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { PG_POOL } from '../database/database.module';

/** The latest decided canary of a pool; `late_ms` > 0 when it succeeded past the threshold. */
export interface LatestCanary {
  pool: string;
  job_id: string;
  outcome: string | null;
  late_ms: number | null;
}

/** A canary that got its outcome in this pass. */
export interface SettledCanary {
  jobId: string;
  pool: string;
  outcome: string;
  /** Accepted to reported, for those that ended (not for `lost` ones). */
  durationMs: number | null;
  /** Still queued or running when it was declared lost: the service cancels it. */
  live: boolean;
}

/** Canary job rows are deleted this long after they end (their canary_runs row stays). */
export const CANARY_JOB_RETENTION_MS = 24 * 3_600_000;
/** canary_runs rows (the measurements) are kept this long: the longest report window. */
export const CANARY_RUN_RETENTION_MS = 90 * 86_400_000;
const TERMINAL = `('succeeded','failed','cancelled','timed_out')`;

/** canary_runs: each canary's way through the system, and pruning of the canary jobs themselves. */
@Injectable()
export class CanaryRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  async pools(): Promise<string[]> {
    const res = await this.pool.query<{ pool: string }>(
      `SELECT DISTINCT pool FROM agents WHERE state = 'active' AND revoked_at IS NULL ORDER BY pool`,
    );
    return res.rows.map((r) => r.pool);
  }

  async accepted(jobId: string, pool: string, atMs: number, outcome: 'refused' | null = null): Promise<void> {
    await this.pool.query(
      `INSERT INTO canary_runs (job_id, pool, accepted_at, outcome) VALUES ($1, $2, to_timestamp($3::float8 / 1000.0), $4)
       ON CONFLICT (job_id) DO NOTHING`,
      [jobId, pool, atMs, outcome],
    );
  }

  /**
   * Copies the lease, start and end times of open canaries from their job and gives each one that ended
   * its outcome (the job's state); one still open `overdueMs` after acceptance is `lost`.
   */
  async settle(nowMs: number, overdueMs: number): Promise<SettledCanary[]> {
    const res = await this.pool.query<{
      job_id: string;
      pool: string;
      outcome: string | null;
      duration_ms: number | null;
      live: boolean;
    }>(
      `WITH facts AS (
         SELECT c.job_id, j.state, j.ended_at,
                (SELECT min(leased_at) FROM attempts t WHERE t.job_id = c.job_id) AS leased,
                (SELECT min(started_at) FROM attempts t WHERE t.job_id = c.job_id) AS started
           FROM canary_runs c LEFT JOIN jobs j ON j.id = c.job_id
          WHERE c.outcome IS NULL)
       UPDATE canary_runs c
          SET leased_at = f.leased, started_at = f.started,
              reported_at = CASE WHEN f.state IN ${TERMINAL} THEN f.ended_at END,
              outcome = CASE WHEN f.state IN ${TERMINAL} THEN f.state
                             WHEN c.accepted_at < to_timestamp(($1::float8 - $2::float8) / 1000.0) THEN 'lost' END
         FROM facts f
        WHERE c.job_id = f.job_id
       RETURNING c.job_id, c.pool, c.outcome,
                 extract(epoch FROM c.reported_at - c.accepted_at) * 1000 AS duration_ms,
                 coalesce(f.state NOT IN ${TERMINAL}, false) AS live`,
      [nowMs, overdueMs],
    );
    return res.rows
      .filter((r) => r.outcome !== null)
      .map((r) => ({
        jobId: r.job_id,
        pool: r.pool,
        outcome: r.outcome as string,
        durationMs: r.duration_ms === null ? null : Number(r.duration_ms),
        live: r.live,
      }));
  }

  /** Deletes canary jobs a day after they ended (and their events), and measurements past retention. */
  async prune(nowMs: number): Promise<number> {
    const res = await this.pool.query<{ id: string }>(
      `WITH gone AS (
         DELETE FROM jobs WHERE canary AND state IN ${TERMINAL}
            AND ended_at < to_timestamp(($1::float8 - $2::float8) / 1000.0)
         RETURNING id),
       events AS (DELETE FROM attempt_events WHERE job_id IN (SELECT id FROM gone))
       SELECT id FROM gone`,
      [nowMs, CANARY_JOB_RETENTION_MS],
    );
    await this.pool.query(
      `DELETE FROM canary_runs WHERE accepted_at < to_timestamp(($1::float8 - $2::float8) / 1000.0)`,
      [nowMs, CANARY_RUN_RETENTION_MS],
    );
    return res.rowCount ?? 0;
  }

  /** Per pool, the latest canary accepted within `recentMs` that is decided (ended, or overdue by `thresholdMs`). */
  async latestPerPool(nowMs: number, thresholdMs: number, recentMs: number, pool?: string): Promise<LatestCanary[]> {
    const res = await this.pool.query<LatestCanary>(
      `SELECT DISTINCT ON (pool) pool, job_id, outcome,
              CASE WHEN outcome = 'succeeded'
                   THEN extract(epoch FROM reported_at - accepted_at) * 1000 - $2::float8 END AS late_ms
         FROM canary_runs
        WHERE accepted_at > to_timestamp(($1::float8 - $3::float8) / 1000.0)
          AND (outcome IS NOT NULL OR accepted_at < to_timestamp(($1::float8 - $2::float8) / 1000.0))
          AND ($4::text IS NULL OR pool = $4)
        ORDER BY pool, accepted_at DESC`,
      [nowMs, thresholdMs, recentMs, pool ?? null],
    );
    return res.rows.map((r) => ({ ...r, late_ms: r.late_ms === null ? null : Number(r.late_ms) }));
  }
}
