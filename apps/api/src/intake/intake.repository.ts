import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import type { NormalizedJob } from '@jr/contracts';
import { PG_POOL } from '../database/database.module';
import type { RecordActor } from './intake-record';

/**
 * The audit row of each job row a statement creates, written by that same statement (a data-modifying
 * CTE over `ins`): an acknowledged job is never in Postgres without its audit row, and a replay that
 * inserts no job row writes no second audit row. Parameters: $1 ids, $2 actor ids, $3 actor names,
 * $4 addresses, $5 times, $6 pools, in the batch's order.
 */
function auditSubmitted(first: number, outcome: string, detail: string): string {
  const p = (i: number): string => `$${first + i}`;
  return `aud AS (
    INSERT INTO audit_log (at, actor, actor_name, action, target, address, outcome, detail)
    SELECT a.at, a.actor, a.actor_name, 'jobs.submit', ins.id, a.address, '${outcome}', ${detail}
    FROM ins JOIN unnest(${p(0)}::text[], ${p(1)}::text[], ${p(2)}::text[], ${p(3)}::text[], ${p(4)}::timestamptz[], ${p(5)}::text[])
      AS a(id, actor, actor_name, address, at, pool) ON a.id = ins.id)`;
}

function auditParams(jobs: NewJob[]): unknown[] {
  return [
    jobs.map((j) => j.id),
    jobs.map((j) => j.actor?.id ?? 'unknown'),
    jobs.map((j) => j.actor?.name ?? null),
    jobs.map((j) => j.actor?.address ?? null),
    jobs.map((j) => j.at),
    jobs.map((j) => j.job.pool),
  ];
}

export interface NewJob {
  id: string;
  job: NormalizedJob;
  idempotencyKey: string | null;
  requestHash: string;
  /** Sealed secrets by name (jobs.secrets), or null. */
  secrets: Record<string, string> | null;
  at: Date;
  /** The relay span's W3C context, stored on the row (jobs.trace) for every later enqueue. */
  trace: Record<string, string> | null;
  /** The submitter, for the audit row (null: a record journaled before the audit log existed). */
  actor: RecordActor | null;
}

/** A job row the relay created: its BullMQ job for `rounds` is still to be added. */
export interface CreatedJob {
  id: string;
  pool: string;
  labels: Record<string, string>;
  rounds: number;
  trace: Record<string, string> | null;
}

export type SubmissionOutcome =
  | { kind: 'created'; job: CreatedJob }
  /** A replay: the row (or alias) was written before, nothing to do. */
  | { kind: 'exists'; id: string }
  /** Its Idempotency-Key names an existing job with the same body: the id becomes an alias of it. */
  | { kind: 'aliased'; id: string; jobId: string }
  /** Its key names a job with another body; it was acknowledged, so it runs as a job of its own without the key. */
  | { kind: 'unkeyed'; job: CreatedJob; keyHolder: string };

/** Applies journaled submissions to Postgres in batches; every write is idempotent on the job id. */
@Injectable()
export class IntakeRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  /** One multi-row insert for the batch, then one look-up for the rows that were not inserted. */
  async apply(jobs: NewJob[]): Promise<SubmissionOutcome[]> {
    if (jobs.length === 0) return [];
    const res = await this.pool.query<{ id: string; rounds: number }>(
      `WITH ins AS (
         INSERT INTO jobs (id, name, state, pool, labels, spec, idempotency_key, request_hash, retries, created_at, updated_at, trace, secrets)
         SELECT r.id, r.name, 'queued', r.pool, r.labels, r.spec, r.key, r.hash, r.retries, r.at, r.at, r.trace, r.secrets
         FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::jsonb[], $6::text[], $7::text[], $8::int[], $9::timestamptz[], $10::jsonb[], $11::jsonb[])
           AS r(id, name, pool, labels, spec, key, hash, retries, at, trace, secrets)
         ON CONFLICT DO NOTHING RETURNING id, rounds),
       ${auditSubmitted(12, 'accepted', "jsonb_build_object('pool', a.pool)")}
       SELECT id, rounds FROM ins`,
      [
        jobs.map((j) => j.id),
        jobs.map((j) => j.job.name),
        jobs.map((j) => j.job.pool),
        jobs.map((j) => JSON.stringify(j.job.labels)),
        jobs.map((j) => JSON.stringify(j.job)),
        jobs.map((j) => j.idempotencyKey),
        jobs.map((j) => j.requestHash),
        jobs.map((j) => j.job.retries),
        jobs.map((j) => j.at),
        jobs.map((j) => (j.trace ? JSON.stringify(j.trace) : null)),
        jobs.map((j) => (j.secrets ? JSON.stringify(j.secrets) : null)),
        ...auditParams(jobs),
      ],
    );
    const inserted = new Map(res.rows.map((r) => [r.id, r.rounds]));
    const rest = jobs.filter((j) => !inserted.has(j.id));
    const known = rest.length === 0 ? new Set<string>() : await this.existingIds(rest.map((j) => j.id));
    const out: SubmissionOutcome[] = [];
    for (const j of jobs) {
      const rounds = inserted.get(j.id);
      if (rounds !== undefined) out.push({ kind: 'created', job: created(j, rounds) });
      else if (known.has(j.id)) out.push({ kind: 'exists', id: j.id });
      else out.push(await this.resolveKeyConflict(j));
    }
    return out;
  }

  private async existingIds(ids: string[]): Promise<Set<string>> {
    const res = await this.pool.query<{ id: string }>(
      'SELECT id FROM jobs WHERE id = ANY($1) UNION ALL SELECT id FROM job_aliases WHERE id = ANY($1)',
      [ids],
    );
    return new Set(res.rows.map((r) => r.id));
  }

  /** The insert found the key taken (a replica or an earlier submission while Postgres was down). */
  private async resolveKeyConflict(j: NewJob): Promise<SubmissionOutcome> {
    const holder = await this.pool.query<{ id: string; request_hash: string }>(
      'SELECT id, request_hash FROM jobs WHERE idempotency_key = $1',
      [j.idempotencyKey],
    );
    const other = holder.rows[0];
    if (other && other.request_hash === j.requestHash) {
      await this.pool.query(
        `WITH ins AS (INSERT INTO job_aliases (id, job_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING id),
         ${auditSubmitted(4, 'accepted', "jsonb_build_object('pool', a.pool, 'aliasOf', $2::text)")}
         SELECT id FROM ins`,
        [j.id, other.id, j.at, ...auditParams([j])],
      );
      return { kind: 'aliased', id: j.id, jobId: other.id };
    }
    const res = await this.pool.query<{ rounds: number }>(
      `WITH ins AS (
         INSERT INTO jobs (id, name, state, pool, labels, spec, idempotency_key, request_hash, retries, created_at, updated_at, trace, secrets)
         VALUES ($1, $2, 'queued', $3, $4, $5, NULL, $6, $7, $8, $8, $9, $10) ON CONFLICT DO NOTHING RETURNING id, rounds),
       ${auditSubmitted(11, 'accepted', "jsonb_build_object('pool', a.pool, 'idempotencyKeyDropped', true)")}
       SELECT rounds FROM ins`,
      [
        j.id,
        j.job.name,
        j.job.pool,
        JSON.stringify(j.job.labels),
        JSON.stringify(j.job),
        j.requestHash,
        j.job.retries,
        j.at,
        j.trace ? JSON.stringify(j.trace) : null,
        j.secrets ? JSON.stringify(j.secrets) : null,
        ...auditParams([j]),
      ],
    );
    const rounds = res.rows[0]?.rounds;
    if (rounds === undefined) return { kind: 'exists', id: j.id };
    return { kind: 'unkeyed', job: created(j, rounds), keyHolder: other?.id ?? '(gone)' };
  }
}

function created(j: NewJob, rounds: number): CreatedJob {
  return { id: j.id, pool: j.job.pool, labels: j.job.labels, rounds, trace: j.trace };
}
