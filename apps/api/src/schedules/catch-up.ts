import { fireTimesBetween } from './fire-times';
import type { ScheduleSpec } from './schedule-spec';

/**
 * Which fire times to turn into jobs now, after a tick or after downtime. A Kubernetes CronJob gives up
 * after 100 missed runs; here every fire time since the last materialized one is accounted for: made into
 * a job, or reported missed (the CLI lists those). The catch-up policy picks the ones made:
 *  - none: only the latest fire, and only when it is due within CATCHUP_GRACE_MS of now;
 *  - latest: the latest fire within the window;
 *  - all: every fire within the window, the latest MAX_CATCHUP_FIRES of them at most (`capped` says so).
 * The window is never shorter than the grace, so a late tick does not lose a fire. The caller records
 * `nowMs` (or the last fire made) as the new lastFireAt whatever is made: the past is then settled.
 * A paused schedule is the caller's concern (it moves lastFireAt to the resume time).
 */

/** How late a fire may be taken up under `none`, and the shortest window of the others. */
export const CATCHUP_GRACE_MS = 60_000;
/** Most fires `all` makes at once. */
export const MAX_CATCHUP_FIRES = 1_000;
/** Most missed fire times listed; the rest are counted. */
export const MAX_LISTED_MISSED = 100;
/** Counting missed fire times stops here (`missedOmittedExact` is then false). */
export const MAX_COUNTED_MISSED = 10_000;

/** The arguments: all instants as epoch ms. */
export interface CatchUpInput {
  spec: ScheduleSpec;
  /** The last fire time already materialized, or the schedule's creation time. */
  lastFireAtMs: number;
  nowMs: number;
}

/** What to do with the fire times in (lastFireAt, now]. */
export interface CatchUpPlan {
  /** Fire times to make jobs for now, ascending. */
  fires: number[];
  /** The latest missed fire times (at most MAX_LISTED_MISSED), ascending. */
  missed: number[];
  /** Missed fire times older than those listed. */
  missedOmitted: number;
  /** False when counting stopped at MAX_COUNTED_MISSED (there are at least that many more). */
  missedOmittedExact: boolean;
  /** True when `all` had more fires in its window than MAX_CATCHUP_FIRES: the oldest were missed. */
  capped: boolean;
}

/** The plan for the fire times in (lastFireAtMs, nowMs] under the schedule's catch-up policy. */
export function firesToMake({ spec, lastFireAtMs, nowMs }: CatchUpInput): CatchUpPlan {
  const empty: CatchUpPlan = { fires: [], missed: [], missedOmitted: 0, missedOmittedExact: true, capped: false };
  if (!(nowMs > lastFireAtMs)) return empty;
  const { policy, windowMs } = spec.catchup;
  const most = policy === 'all' ? MAX_CATCHUP_FIRES : 1;
  const windowStart = nowMs - (policy === 'none' ? CATCHUP_GRACE_MS : Math.max(windowMs, CATCHUP_GRACE_MS));
  // the latest fire times: the ones made are always the newest, so the rest are missed
  const latest = latestFireTimes(spec, lastFireAtMs, nowMs, most + 1 + MAX_LISTED_MISSED);
  const eligible = latest.filter((t) => t >= windowStart);
  const fires = eligible.slice(-most);
  const missedAll = latest.slice(0, latest.length - fires.length);
  const missed = missedAll.slice(-MAX_LISTED_MISSED);
  const older =
    latest.length === most + 1 + MAX_LISTED_MISSED ? countBetween(spec, lastFireAtMs, (latest[0] as number) - 1) : 0;
  return {
    fires,
    missed,
    missedOmitted: missedAll.length - missed.length + older,
    missedOmittedExact: older < MAX_COUNTED_MISSED,
    capped: eligible.length > fires.length,
  };
}

/** The latest `n` fire times in (fromMs, toMs], ascending: windows back from toMs, each four times longer. */
export function latestFireTimes(spec: ScheduleSpec, fromMs: number, toMs: number, n: number): number[] {
  const cap = 4 * n + 1_000;
  let span = 60_000;
  let fewer = toMs; // a start known to leave fewer than n
  for (;;) {
    const start = Math.max(fromMs, toMs - span);
    const times = fireTimesBetween(spec, start, toMs, cap);
    if (times.length >= cap) return bisectLatest(spec, { crowded: start, fewer, toMs, n, cap });
    if (times.length >= n || start === fromMs) return times.slice(-n);
    fewer = start;
    span *= 4;
  }
}

/** Narrows a start between one with too many fire times to list and one with fewer than n. */
function bisectLatest(
  spec: ScheduleSpec,
  w: { crowded: number; fewer: number; toMs: number; n: number; cap: number },
): number[] {
  let { crowded, fewer } = w;
  for (;;) {
    const mid = Math.floor((crowded + fewer) / 2);
    const times = fireTimesBetween(spec, mid, w.toMs, w.cap);
    if (times.length >= w.cap) crowded = mid;
    else if (times.length >= w.n || fewer - crowded <= 1) return times.slice(-w.n);
    else fewer = mid;
  }
}

function countBetween(spec: ScheduleSpec, fromMs: number, toMs: number): number {
  return fireTimesBetween(spec, fromMs, toMs, MAX_COUNTED_MISSED).length;
}
