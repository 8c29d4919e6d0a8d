import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import type { JobState } from '@jr/contracts';
import { PG_POOL } from '../database/database.module';
import { RESOLVE_ID } from './jobs.repository';
import type { LogEventRow } from './log-text';

export interface LogJob {
  id: string;
  state: JobState;
  /** Steps in the job's spec. */
  steps: number;
}

export interface LogPageQuery {
  after: { attempt: number; seq: number };
  /** Step starts too (for markers), or only log chunks. */
  markers: boolean;
  maxRows: number;
  /** The page stops before the row that would take it past this many bytes (it always has at least one row). */
  maxBytes: number;
}

/** Reads of a job's stored output (attempt_events), page by page in (attempt, seq) order. */
@Injectable()
export class JobLogsRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  /** `id` may be an alias; the answer carries the job's own id. */
  async job(id: string): Promise<LogJob | undefined> {
    const res = await this.pool.query<LogJob>(
      `SELECT j.id, j.state, CASE WHEN jsonb_typeof(j.spec->'steps') = 'array' THEN jsonb_array_length(j.spec->'steps') ELSE 0 END AS steps
       FROM jobs j WHERE j.id = ${RESOLVE_ID('$1')}`,
      [id],
    );
    return res.rows[0];
  }

  async state(id: string): Promise<JobState | undefined> {
    const res = await this.pool.query<{ state: JobState }>('SELECT state FROM jobs WHERE id = $1', [id]);
    return res.rows[0]?.state;
  }

  /**
   * The events after `after`, ordered by the numeric (attempt, seq) (the bug of old: ordering by seq as
   * text). The running byte sum bounds a page's memory; the data of rows past it is never read.
   */
  async page(jobId: string, q: LogPageQuery): Promise<LogEventRow[]> {
    const kinds = q.markers ? ['log', 'step_started'] : ['log'];
    const res = await this.pool.query<LogEventRow>(
      `SELECT attempt, seq, kind, step, detail, data
       FROM (SELECT attempt, seq, kind, step, detail, data,
                    sum(coalesce(octet_length(data), 0)) OVER (ORDER BY attempt, seq ROWS UNBOUNDED PRECEDING) - coalesce(octet_length(data), 0) AS bytes_before
             FROM attempt_events
             WHERE job_id = $1 AND kind = ANY($4::text[]) AND (attempt, seq) > ($2::int, $3::bigint)
             ORDER BY attempt, seq
             LIMIT $5) page
       WHERE bytes_before < $6
       ORDER BY attempt, seq`,
      [jobId, q.after.attempt, q.after.seq, kinds, q.maxRows, q.maxBytes],
    );
    return res.rows;
  }
}
