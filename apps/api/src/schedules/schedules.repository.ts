import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { type MissedFire } from '@jr/contracts';
import { PG_POOL } from '../database/database.module';
import { withTransaction, type Tx } from '../database/transaction';
import { holdsFence, type Fence } from '../leadership/fence-sql';
import type { ScheduleRow } from './schedule-row';
import type { ScheduleSpec } from './schedule-spec';

export interface NewSchedule {
  id: string;
  spec: ScheduleSpec;
  requestHash: string;
  secrets: Record<string, string> | null;
  createdBy: string;
  at: Date;
  nextFireAt: Date | null;
}

export type CreateOutcome = { kind: 'created' } | { kind: 'exists'; id: string; sameDocument: boolean };

/** Statuses of jobs a schedule still has running (overlap policies look at these). */
const ACTIVE = `state IN ('queued', 'leased', 'running')`;
/** Most missed fire times a view lists. */
const MISSED_SHOWN = 20;

/** A live schedule by id or by name. */
const FIND = `SELECT * FROM schedules WHERE deleted_at IS NULL AND (id = $1 OR name = $1) ORDER BY id = $1 DESC LIMIT 1`;

/** Schedules and their decided fire times in Postgres (the fire transaction: ScheduleFiresRepository). */
@Injectable()
export class SchedulesRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  /** A live schedule holding the name already answers instead (the same document: an idempotent retry). */
  async create(s: NewSchedule): Promise<CreateOutcome> {
    const res = await this.pool.query(
      `INSERT INTO schedules (id, name, spec, request_hash, secrets, paused, settled_until, next_fire_at, created_by, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $7, $7)
       ON CONFLICT (name) WHERE deleted_at IS NULL DO NOTHING`,
      [
        s.id,
        s.spec.name,
        JSON.stringify(s.spec),
        s.requestHash,
        s.secrets ? JSON.stringify(s.secrets) : null,
        s.spec.paused,
        s.at,
        s.nextFireAt,
        s.createdBy,
      ],
    );
    if (res.rowCount === 1) return { kind: 'created' };
    const held = await this.pool.query<{ id: string; request_hash: string }>(
      'SELECT id, request_hash FROM schedules WHERE deleted_at IS NULL AND name = $1',
      [s.spec.name],
    );
    const row = held.rows[0];
    if (!row) return this.create(s); // deleted meanwhile: the name is free again
    return { kind: 'exists', id: row.id, sameDocument: row.request_hash === s.requestHash };
  }

  async find(idOrName: string): Promise<ScheduleRow | undefined> {
    return (await this.pool.query<ScheduleRow>(FIND, [idOrName])).rows[0];
  }

  async list(pool: string | null): Promise<ScheduleRow[]> {
    const res = await this.pool.query<ScheduleRow>(
      `SELECT * FROM schedules WHERE deleted_at IS NULL AND ($1::text IS NULL OR spec->'job'->>'pool' = $1) ORDER BY name`,
      [pool],
    );
    return res.rows;
  }

  /** The latest missed fire times of each schedule, oldest first. */
  async missed(ids: string[]): Promise<Map<string, MissedFire[]>> {
    const res = await this.pool.query<{ schedule_id: string; fire_time: Date; reason: MissedFire['reason'] }>(
      `SELECT f.schedule_id, f.fire_time, f.reason FROM unnest($1::text[]) AS s(id), LATERAL (
         SELECT * FROM schedule_fires f WHERE f.schedule_id = s.id AND f.outcome = 'missed'
         ORDER BY f.fire_time DESC LIMIT ${MISSED_SHOWN}) f ORDER BY f.fire_time`,
      [ids],
    );
    const out = new Map<string, MissedFire[]>(ids.map((id) => [id, []]));
    for (const r of res.rows) out.get(r.schedule_id)?.push({ fireTime: r.fire_time.toISOString(), reason: r.reason });
    return out;
  }

  /** Each schedule's jobs not yet terminal, oldest first. */
  async activeJobs(ids: string[]): Promise<Map<string, string[]>> {
    const res = await this.pool.query<{ schedule_id: string; id: string }>(
      `SELECT schedule_id, id FROM jobs WHERE schedule_id = ANY($1) AND ${ACTIVE} ORDER BY id`,
      [ids],
    );
    const out = new Map<string, string[]>(ids.map((id) => [id, []]));
    for (const r of res.rows) out.get(r.schedule_id)?.push(r.id);
    return out;
  }

  /**
   * Pause, or resume from `at` (the fire times while paused are not made and not listed as missed; a
   * fire waiting under buffer_one is dropped on pause).
   */
  async setPaused(id: string, paused: boolean, at: Date, nextFireAt: Date | null): Promise<ScheduleRow | undefined> {
    const res = await this.pool.query<ScheduleRow>(
      `UPDATE schedules SET paused = $2, updated_at = $3,
         settled_until = CASE WHEN $2 THEN settled_until ELSE greatest(settled_until, $3) END,
         next_fire_at = CASE WHEN $2 THEN NULL ELSE $4::timestamptz END,
         buffered_fire_at = CASE WHEN $2 THEN NULL ELSE buffered_fire_at END
       WHERE id = $1 AND deleted_at IS NULL RETURNING *`,
      [id, paused, at, nextFireAt],
    );
    return res.rows[0];
  }

  /** Soft delete: the jobs it made keep their scheduleId; the name is free for a new schedule. */
  async delete(id: string, at: Date): Promise<boolean> {
    const res = await this.pool.query(
      'UPDATE schedules SET deleted_at = $2, updated_at = $2, next_fire_at = NULL WHERE id = $1 AND deleted_at IS NULL',
      [id, at],
    );
    return res.rowCount === 1;
  }

  /** Ids of live, unpaused schedules a pass could act on now (a fire due, or a buffered fire waiting). */
  async due(now: Date, limit: number): Promise<string[]> {
    const res = await this.pool.query<{ id: string }>(
      `SELECT id FROM schedules WHERE deleted_at IS NULL AND NOT paused
         AND (next_fire_at <= $1 OR buffered_fire_at IS NOT NULL) ORDER BY next_fire_at NULLS LAST LIMIT $2`,
      [now, limit],
    );
    return res.rows.map((r) => r.id);
  }

  /**
   * Runs `fn` on the schedule row locked for this transaction (FOR UPDATE: passes, triggers and pauses of
   * one schedule take turns); with a fence, only while the fence's epoch is still the leader's. Undefined:
   * the schedule is gone, or the fence is lost.
   */
  async locked<T>(
    id: string,
    fence: Fence | null,
    fn: (tx: Tx, row: ScheduleRow, active: string[]) => Promise<T>,
  ): Promise<T | undefined> {
    return withTransaction(this.pool, async (tx) => {
      if (fence && !(await holdsFence(tx, fence))) return undefined;
      const res = await tx.query<ScheduleRow>(
        'SELECT * FROM schedules WHERE id = $1 AND deleted_at IS NULL FOR UPDATE',
        [id],
      );
      const row = res.rows[0];
      if (!row) return undefined;
      const active = await tx.query<{ id: string }>(
        `SELECT id FROM jobs WHERE schedule_id = $1 AND ${ACTIVE} ORDER BY id`,
        [id],
      );
      return fn(
        tx,
        row,
        active.rows.map((r) => r.id),
      );
    });
  }
}
