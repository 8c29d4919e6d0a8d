import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import type { SloIndicator } from '@jr/contracts';
import { PG_POOL } from '../database/database.module';

/** One bucket of an indicator: its index in the window and its events. */
export interface BucketCount {
  bucket: number;
  good: number;
  total: number;
}

export interface Window {
  fromMs: number;
  toMs: number;
  bucketMs: number;
  /** "Now" of the report: an event not yet decidable (a job younger than the threshold, not leased) waits. */
  nowMs: number;
}

/** The bucket of a timestamp column within the window ($1 from, $3 bucket length, in ms). */
const bucketOf = (column: string) => `floor((extract(epoch FROM ${column}) * 1000 - $1::float8) / $3::float8)::int`;

/**
 * The events of the built-in indicators, counted from the system of record itself (no Prometheus needed):
 * - submissions_accepted: good = jobs accepted through REST (not runs of a fleet job, not made by a
 *   schedule), bad = valid submissions refused (intake_refusals, every reason but invalid_input);
 * - pickup_latency: jobs (not fleet jobs themselves) whose first attempt was leased within the threshold
 *   of their acceptance; one not leased yet is bad once it is older than the threshold, and one
 *   cancelled before any lease is not counted;
 * - canary_success: canaries that succeeded within the threshold, of those that ended or are overdue.
 */
@Injectable()
export class SloRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  async counts(indicator: SloIndicator, w: Window): Promise<BucketCount[]> {
    switch (indicator.builtin) {
      case 'submissions_accepted':
        return this.submissions(w);
      case 'pickup_latency':
        return this.pickup(w, indicator.thresholdMs ?? 0, indicator.pool);
      case 'canary_success':
        return this.canaries(w, indicator.thresholdMs ?? 0, indicator.pool);
      case undefined:
        return []; // ratioMetric indicators live in Prometheus only
    }
  }

  private async submissions(w: Window): Promise<BucketCount[]> {
    const res = await this.pool.query<{ bucket: number; good: string; bad: string }>(
      `WITH accepted AS (
         SELECT ${bucketOf('created_at')} AS bucket, count(*) AS n FROM jobs
          WHERE created_at >= to_timestamp($1::float8 / 1000.0) AND created_at < to_timestamp($2::float8 / 1000.0)
            AND parent_id IS NULL AND schedule_id IS NULL
          GROUP BY 1),
       refused AS (
         SELECT ${bucketOf('minute')} AS bucket, sum(n) AS n FROM intake_refusals
          WHERE minute >= to_timestamp($1::float8 / 1000.0) AND minute < to_timestamp($2::float8 / 1000.0)
            AND reason <> 'invalid_input'
          GROUP BY 1)
       SELECT coalesce(a.bucket, r.bucket) AS bucket, coalesce(a.n, 0) AS good, coalesce(r.n, 0) AS bad
         FROM accepted a FULL JOIN refused r ON a.bucket = r.bucket`,
      [w.fromMs, w.toMs, w.bucketMs],
    );
    return res.rows.map((r) => ({ bucket: r.bucket, good: Number(r.good), total: Number(r.good) + Number(r.bad) }));
  }

  private async pickup(w: Window, thresholdMs: number, pool?: string): Promise<BucketCount[]> {
    const res = await this.pool.query<{ bucket: number; good: string; total: string }>(
      `SELECT ${bucketOf('j.created_at')} AS bucket,
              count(*) FILTER (WHERE f.first <= j.created_at + $4::float8 * interval '1 millisecond') AS good,
              count(*) AS total
         FROM jobs j
         LEFT JOIN LATERAL (SELECT min(leased_at) AS first FROM attempts t WHERE t.job_id = j.id) f ON true
        WHERE j.created_at >= to_timestamp($1::float8 / 1000.0) AND j.created_at < to_timestamp($2::float8 / 1000.0)
          AND NOT j.fleet AND ($6::text IS NULL OR j.pool = $6)
          AND (f.first IS NOT NULL
               OR (j.state <> 'cancelled' AND j.created_at < to_timestamp(($5::float8 - $4::float8) / 1000.0)))
        GROUP BY 1`,
      [w.fromMs, w.toMs, w.bucketMs, thresholdMs, w.nowMs, pool ?? null],
    );
    return res.rows.map((r) => ({ bucket: r.bucket, good: Number(r.good), total: Number(r.total) }));
  }

  private async canaries(w: Window, thresholdMs: number, pool?: string): Promise<BucketCount[]> {
    const res = await this.pool.query<{ bucket: number; good: string; total: string }>(
      `SELECT ${bucketOf('accepted_at')} AS bucket,
              count(*) FILTER (WHERE outcome = 'succeeded'
                               AND reported_at <= accepted_at + $4::float8 * interval '1 millisecond') AS good,
              count(*) AS total
         FROM canary_runs
        WHERE accepted_at >= to_timestamp($1::float8 / 1000.0) AND accepted_at < to_timestamp($2::float8 / 1000.0)
          AND ($6::text IS NULL OR pool = $6)
          AND (outcome IS NOT NULL OR accepted_at < to_timestamp(($5::float8 - $4::float8) / 1000.0))
        GROUP BY 1`,
      [w.fromMs, w.toMs, w.bucketMs, thresholdMs, w.nowMs, pool ?? null],
    );
    return res.rows.map((r) => ({ bucket: r.bucket, good: Number(r.good), total: Number(r.total) }));
  }

  /** Adds refused valid submissions to their minute (each replica flushes its own counts). */
  async addRefusals(rows: Array<{ minuteMs: number; reason: string; n: number }>, replica: string): Promise<void> {
    if (rows.length === 0) return;
    await this.pool.query(
      `INSERT INTO intake_refusals (minute, replica, reason, n)
       SELECT to_timestamp(m / 1000.0), $4, r, n FROM unnest($1::float8[], $2::text[], $3::int[]) AS u(m, r, n)
       ON CONFLICT (minute, replica, reason) DO UPDATE SET n = intake_refusals.n + EXCLUDED.n`,
      [rows.map((r) => r.minuteMs), rows.map((r) => r.reason), rows.map((r) => r.n), replica],
    );
  }
}
