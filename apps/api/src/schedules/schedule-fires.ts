import type { Tx } from '../database/transaction';
import type { MissedFireTime } from './fire-decision';
import type { ScheduleRow } from './schedule-row';

/**
 * The writes of one decided pass, inside the schedule's locked transaction (SchedulesRepository.locked).
 * A fire time is a row of schedule_fires first (its primary key is the "one per fire time" guarantee;
 * a fire already there is not made again), then the job, carrying schedule_id and fire_time (unique too).
 */

/** A job a fire made: its BullMQ job is still to be added (the enqueue sweep adds it if that fails). */
export interface FiredJob {
  id: string;
  fireTimeMs: number;
  pool: string;
  labels: Record<string, string>;
  /** A fleet job: its targets' runs are queued by the fleet coordinator, not the job itself. */
  fleet: boolean;
}

export interface FireJobs {
  row: ScheduleRow;
  /** Fire time → the new job's id (and its secrets sealed to that id). */
  jobs: Array<{ fireTimeMs: number; id: string; secrets: Record<string, string> | null }>;
  manual: boolean;
  at: Date;
}

/** Records the fire times and inserts one queued job for each fire time not decided before. */
export async function insertFiredJobs(tx: Tx, f: FireJobs): Promise<FiredJob[]> {
  if (f.jobs.length === 0) return [];
  const fires = await tx.query<{ fire_time: Date }>(
    `INSERT INTO schedule_fires (schedule_id, fire_time, outcome, job_id, manual, decided_at)
     SELECT $1, r.t, 'job', r.job_id, $4, $5 FROM unnest($2::timestamptz[], $3::text[]) AS r(t, job_id)
     ON CONFLICT DO NOTHING RETURNING fire_time`,
    [f.row.id, f.jobs.map((j) => new Date(j.fireTimeMs)), f.jobs.map((j) => j.id), f.manual, f.at],
  );
  const taken = new Set(fires.rows.map((r) => r.fire_time.getTime()));
  const jobs = f.jobs.filter((j) => taken.has(j.fireTimeMs));
  if (jobs.length === 0) return [];
  const job = f.row.spec.job;
  await tx.query(
    `WITH ins AS (
       INSERT INTO jobs (id, name, state, pool, labels, spec, request_hash, retries, created_at, updated_at, secrets, schedule_id, fire_time)
       SELECT r.id, $2, 'queued', $3, $4, $5, $6, $7, $8, $8, r.secrets, $9, r.t
       FROM unnest($1::text[], $10::jsonb[], $11::timestamptz[]) AS r(id, secrets, t)
       ON CONFLICT DO NOTHING RETURNING id, fire_time)
     INSERT INTO audit_log (at, actor, actor_name, action, target, address, outcome, detail)
     SELECT $8, $12, $13, 'schedules.fire', ins.id, NULL, 'accepted',
       jsonb_build_object('schedule', $9::text, 'fireTime', ins.fire_time, 'manual', $14::boolean, 'pool', $3::text)
     FROM ins`,
    [
      jobs.map((j) => j.id),
      job.name,
      job.pool,
      JSON.stringify(job.labels),
      JSON.stringify(job),
      `schedule:${f.row.id}`,
      job.retries,
      f.at,
      f.row.id,
      jobs.map((j) => (j.secrets ? JSON.stringify(j.secrets) : null)),
      jobs.map((j) => new Date(j.fireTimeMs)),
      f.row.created_by,
      `schedule ${f.row.name}`,
      f.manual,
    ],
  );
  return jobs.map((j) => ({
    id: j.id,
    fireTimeMs: j.fireTimeMs,
    pool: job.pool,
    labels: job.labels,
    fleet: job.fleet !== undefined,
  }));
}

/** Missed fire times, listed (a fire time decided before keeps its first outcome). */
export async function insertMissedFires(tx: Tx, scheduleId: string, missed: MissedFireTime[], at: Date): Promise<void> {
  if (missed.length === 0) return;
  await tx.query(
    `INSERT INTO schedule_fires (schedule_id, fire_time, outcome, reason, decided_at)
     SELECT $1, r.t, 'missed', r.reason, $4 FROM unnest($2::timestamptz[], $3::text[]) AS r(t, reason)
     ON CONFLICT DO NOTHING`,
    [scheduleId, missed.map((m) => new Date(m.fireTimeMs)), missed.map((m) => m.reason), at],
  );
}

/** Where the schedule stands after a pass. */
export interface SettledState {
  settledUntilMs: number;
  nextFireAtMs: number | null;
  bufferedFireAtMs: number | null;
  missedOmitted: number;
  /** The latest fire time that made a job in this pass, if any. */
  lastFireAtMs: number | null;
}

export async function updateSettled(tx: Tx, id: string, s: SettledState, at: Date): Promise<void> {
  const date = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));
  await tx.query(
    `UPDATE schedules SET settled_until = $2, next_fire_at = $3, buffered_fire_at = $4,
       missed_omitted = missed_omitted + $5, last_fire_at = greatest(last_fire_at, $6), updated_at = $7
     WHERE id = $1`,
    [
      id,
      date(s.settledUntilMs),
      date(s.nextFireAtMs),
      date(s.bufferedFireAtMs),
      s.missedOmitted,
      date(s.lastFireAtMs),
      at,
    ],
  );
}

/** A manual trigger's job is a fire too: it moves last_fire_at, not the settled point. */
export async function markTriggered(tx: Tx, id: string, fireTime: Date, at: Date): Promise<void> {
  await tx.query('UPDATE schedules SET last_fire_at = greatest(last_fire_at, $2), updated_at = $3 WHERE id = $1', [
    id,
    fireTime,
    at,
  ]);
}
