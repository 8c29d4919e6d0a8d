import { fireTimesBetween } from './fire-times';
import { parseScheduleSpec, type ScheduleSpec } from './schedule-spec';

/** Shared by the schedule specs: a schedule from a few fields, and fire times as ISO text. */
export function testSchedule(fields: Record<string, unknown>): ScheduleSpec {
  const result = parseScheduleSpec({ name: 'test', job: { steps: [{ run: 'echo tick' }] }, ...fields });
  if (!result.ok) throw new Error(`invalid test schedule: ${JSON.stringify(result.issues)}`);
  return result.spec;
}
export const at = (iso: string): number => Date.parse(iso);
export const isoList = (times: number[]): string[] => times.map((t) => new Date(t).toISOString().replace('.000Z', 'Z'));

export const HOUR = 3_600_000;

export function between(fields: Record<string, unknown>, from: string, to: string, limit = 1_000): string[] {
  return isoList(fireTimesBetween(testSchedule(fields), at(from), at(to), limit));
}

/** Every gap between consecutive fire times, in hours. */
export function gapsInHours(times: number[]): number[] {
  return times.slice(1).map((t, i) => (t - (times[i] as number)) / HOUR);
}
