import { compiledTrigger } from './compiled-trigger';
import { ExclusionSet } from './exclusions';
import { RruleTooCostly } from './rrule-walk';
import type { DstPolicy, ScheduleSpec } from './schedule-spec';
import { zoneClock, type LocalTime, type ZoneClock } from './zone-clock';

/**
 * The fire times of a schedule, as epoch ms (whole seconds). The trigger is matched on the zone's wall
 * clock; each matching wall-clock time becomes the instants it denotes:
 *  - once, normally;
 *  - repeated at fall-back: its first occurrence (`dst.ambiguous: 'first'`) or both (`'both'`); a schedule
 *    that fires every hour (cron hour `*`, a sub-daily RRULE without BYHOUR) runs on real time and fires
 *    at both, as both are real hours (the rule of Vixie cron);
 *  - skipped at spring-forward: not at all (`dst.gap: 'skip'`) or at the first instant after the gap
 *    (`'shift'`; 02:30 on a 02:00→03:00 night fires at 03:00).
 * An instant is listed once however many wall-clock times lead to it, so no fire time is made twice.
 */

const HOUR = 3_600_000;
/** Longer than any offset change in tzdata: the margin between a window of instants and of wall-clock times. */
const MARGIN = 26 * HOUR;
/** How far nextFireTimes looks. */
export const MAX_LOOKAHEAD_MS = 50 * 366 * 24 * HOUR;

/** Fire instants t with afterMs < t <= untilMs, ascending, at most `limit`. */
export function fireTimesBetween(spec: ScheduleSpec, afterMs: number, untilMs: number, limit: number): number[] {
  if (!(untilMs > afterMs) || !(limit > 0)) return [];
  const clock = zoneClock(spec.timezone);
  const trigger = compiledTrigger(spec.trigger, spec.timezone);
  const exclusions = new ExclusionSet(spec.exclusions, clock);
  const found = new Set<number>();
  let toF = latestFloating(clock, untilMs);
  let bounded = false;
  trigger.walk(earliestFloating(clock, afterMs), toF, (floating) => {
    if (floating > toF) return 'stop';
    let skipTo: number | undefined;
    for (const t of instantsOf(clock.locate(floating), spec.dst, trigger.realTime)) {
      if (t <= afterMs || t > untilMs) continue;
      const excluded = exclusions.spanAt(t);
      if (!excluded) found.add(t);
      else if (excluded.fromMs <= floating - clock.offsetRange(floating - MARGIN, floating + MARGIN).highest) {
        // every later wall-clock time up to the exclusion's end denotes instants inside it
        skipTo = Math.max(skipTo ?? -Infinity, earliestFloating(clock, excluded.toMs - 1));
      }
    }
    if (!bounded && found.size >= limit) {
      bounded = true; // later wall-clock times can still denote earlier instants (fall-back), up to this bound
      toF = Math.min(toF, latestFloating(clock, [...found].sort((a, b) => a - b)[limit - 1] as number));
    }
    return skipTo;
  });
  return [...found].sort((a, b) => a - b).slice(0, limit);
}

/** The next `n` fire instants after `afterMs` (within MAX_LOOKAHEAD_MS), ascending. */
export function nextFireTimes(spec: ScheduleSpec, afterMs: number, n: number): number[] {
  return fireTimesBetween(spec, afterMs, afterMs + MAX_LOOKAHEAD_MS, n);
}

/**
 * nextFireTimes for views and bookkeeping: a rule that turned too costly to walk (RruleTooCostly; refused at
 * create, but a later instant may cost more) shows no next fire time instead of failing the request.
 */
export function nextFireTimesOrNone(spec: ScheduleSpec, afterMs: number, n: number): number[] {
  try {
    return nextFireTimes(spec, afterMs, n);
  } catch (err) {
    if (err instanceof RruleTooCostly) return [];
    throw err;
  }
}

/** The instants a wall-clock time stands for under the DST policy. */
export function instantsOf(local: LocalTime, dst: DstPolicy, realTime: boolean): number[] {
  switch (local.kind) {
    case 'single':
      return [local.instant];
    case 'repeated':
      return realTime || dst.ambiguous === 'both' ? [local.first, local.second] : [local.first];
    case 'skipped':
      return dst.gap === 'shift' ? [local.gapEnd] : [];
  }
}

/** A wall-clock time at or below which nothing denotes an instant after `t`. */
function earliestFloating(clock: ZoneClock, t: number): number {
  return t + clock.offsetRange(t, t + MARGIN).lowest;
}

/** A wall-clock time above which nothing denotes an instant at or before `t`. */
function latestFloating(clock: ZoneClock, t: number): number {
  return t + clock.offsetRange(t - MARGIN, t).highest;
}
