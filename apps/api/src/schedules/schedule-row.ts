import { type MissedFire, type ScheduleView } from '@jr/contracts';
import { nextFireTimesOrNone } from './fire-times';
import type { ScheduleSpec } from './schedule-spec';

/** A `schedules` row as the repository reads it (migrations/014_schedules.sql). */
export interface ScheduleRow {
  id: string;
  name: string;
  spec: ScheduleSpec;
  request_hash: string;
  secrets: Record<string, string> | null;
  paused: boolean;
  settled_until: Date;
  last_fire_at: Date | null;
  next_fire_at: Date | null;
  buffered_fire_at: Date | null;
  missed_omitted: string | number;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

/** How many upcoming fire times a view lists. */
export const NEXT_FIRES_SHOWN = 5;

/** What a view needs besides the row. */
export interface ScheduleViewParts {
  missed: MissedFire[];
  activeJobs: string[];
}

export function toScheduleView(r: ScheduleRow, parts: ScheduleViewParts, nowMs: number): ScheduleView {
  const { spec } = r;
  const from = Math.max(r.settled_until.getTime(), nowMs);
  const next = r.paused ? [] : nextFireTimesOrNone(spec, from, NEXT_FIRES_SHOWN);
  const iso = (d: Date | null): string | null => d?.toISOString() ?? null;
  return {
    id: r.id,
    name: r.name,
    cron: spec.trigger.kind === 'cron' ? spec.trigger.cron : null,
    rrule: spec.trigger.kind === 'rrule' ? spec.trigger.rrule : null,
    timezone: spec.timezone,
    exclusions: spec.exclusions.map((e) =>
      e.kind === 'day' ? e.date : { from: new Date(e.fromMs).toISOString(), to: new Date(e.toMs).toISOString() },
    ),
    overlap: spec.overlap,
    catchup: { policy: spec.catchup.policy, window: wholeUnits(spec.catchup.windowMs) },
    dst: spec.dst,
    paused: r.paused,
    job: spec.job,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
    lastFireAt: iso(r.last_fire_at),
    nextFireAt: next[0] === undefined ? null : new Date(next[0]).toISOString(),
    nextFireTimes: next.map((t) => new Date(t).toISOString()),
    missed: parts.missed,
    missedOmitted: Number(r.missed_omitted),
    bufferedFireAt: iso(r.buffered_fire_at),
    activeJobs: parts.activeJobs,
  };
}

/** A duration as a document takes it back: `24h`, `90m`, `2d` (the largest unit that divides it). */
export function wholeUnits(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
  ] as const)
    if (ms % size === 0) return `${ms / size}${unit}`;
  return `${Math.round(ms / 1_000)}s`;
}
