import type { Distribution, Incident } from '@jr/contracts';

/**
 * The arithmetic of `jr slo`, pure. Availability is computed both ways the talk gives:
 * - uptime ÷ (uptime + downtime), with downtime the union of outage incidents in the window (two at once
 *   are one period of downtime);
 * - MTBF ÷ (MTBF + MTTR), with MTBF = uptime ÷ outages (operating time per failure) and MTTR their mean.
 * MTTR and MTBF are also given as distributions (nearest-rank p50 and p90, max, mean): a mean alone hides
 * the one long outage among short ones (the VOID report's point about MTTR).
 */

export interface Interval {
  startMs: number;
  endMs: number;
}

/** Union of intervals: sorted, overlapping and touching ones merged. */
export function mergeIntervals(intervals: readonly Interval[]): Interval[] {
  const sorted = [...intervals].filter((i) => i.endMs > i.startMs).sort((a, b) => a.startMs - b.startMs);
  const out: Interval[] = [];
  for (const i of sorted) {
    const last = out[out.length - 1];
    if (last && i.startMs <= last.endMs) last.endMs = Math.max(last.endMs, i.endMs);
    else out.push({ ...i });
  }
  return out;
}

/** An incident's interval clipped to the window; an open one lasts until `toMs`. */
function clipped(i: Incident, fromMs: number, toMs: number): Interval {
  const end = i.endedAt === null ? toMs : Date.parse(i.endedAt);
  return { startMs: Math.max(fromMs, Date.parse(i.startedAt)), endMs: Math.min(toMs, end) };
}

/** The periods of downtime in [from, to]: outage incidents, clipped and merged. */
export function outageIntervals(incidents: readonly Incident[], fromMs: number, toMs: number): Interval[] {
  return mergeIntervals(incidents.filter((i) => i.outage).map((i) => clipped(i, fromMs, toMs)));
}

/** Nearest-rank percentiles (the smallest value with at least p % of the values at or below it). */
export function distribution(valuesMs: readonly number[]): Distribution | null {
  if (valuesMs.length === 0) return null;
  const sorted = [...valuesMs].sort((a, b) => a - b);
  const rank = (p: number): number => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] as number;
  return {
    count: sorted.length,
    p50Ms: rank(50),
    p90Ms: rank(90),
    maxMs: sorted[sorted.length - 1] as number,
    meanMs: sorted.reduce((a, b) => a + b, 0) / sorted.length,
  };
}

export interface AvailabilityFigures {
  availability: number;
  availabilityFromMtbf: number | null;
  uptimeMs: number;
  downtimeMs: number;
  mtbf: Distribution | null;
  mttr: Distribution | null;
}

/**
 * Both availabilities, MTBF and MTTR. An outage still going on at `toMs` is downtime but not yet a repair:
 * it counts in `downtimeMs`, not in MTTR. MTBF's distribution is of the up-times between two outages
 * (null with fewer than two); the MTBF of the second availability is uptime ÷ outages.
 */
export function availabilityFigures(incidents: readonly Incident[], fromMs: number, toMs: number): AvailabilityFigures {
  const windowMs = Math.max(0, toMs - fromMs);
  const outages = outageIntervals(incidents, fromMs, toMs);
  const downtimeMs = outages.reduce((n, o) => n + (o.endMs - o.startMs), 0);
  const uptimeMs = windowMs - downtimeMs;
  const repaired = outages.filter((o) => o.endMs < toMs || endedAt(incidents, o));
  const mttr = distribution(repaired.map((o) => o.endMs - o.startMs));
  const gaps = outages.slice(1).map((o, i) => o.startMs - (outages[i] as Interval).endMs);
  const meanBetween = outages.length > 0 ? uptimeMs / outages.length : null;
  return {
    availability: windowMs === 0 ? 1 : uptimeMs / windowMs,
    availabilityFromMtbf:
      mttr && meanBetween !== null && meanBetween + mttr.meanMs > 0 ? meanBetween / (meanBetween + mttr.meanMs) : null,
    uptimeMs,
    downtimeMs,
    mtbf: distribution(gaps),
    mttr,
  };
}

/** An outage ending exactly at the window's end is repaired when an incident in it ended then. */
function endedAt(incidents: readonly Incident[], o: Interval): boolean {
  return incidents.some((i) => i.outage && i.endedAt !== null && Date.parse(i.endedAt) === o.endMs);
}

export interface ObjectiveFigures {
  attainment: number | null;
  budgetRemaining: number | null;
  burnRate: number | null;
  met: boolean | null;
}

const EPSILON = 1e-12;

/** Attainment, burn rate and budget of one objective; all null without events. */
export function objectiveFigures(target: number, good: number, total: number): ObjectiveFigures {
  if (total <= 0) return { attainment: null, budgetRemaining: null, burnRate: null, met: null };
  const attainment = good / total;
  const burnRate = (1 - attainment) / (1 - target);
  return { attainment, budgetRemaining: 1 - burnRate, burnRate, met: attainment + EPSILON >= target };
}

/** Downtime per dependency (`dependency_down` incidents by scope), clipped to the window and merged. */
export function dependencyDowntime(incidents: readonly Incident[], fromMs: number, toMs: number): Map<string, number> {
  const by = new Map<string, Interval[]>();
  for (const i of incidents) {
    if (i.cause !== 'dependency_down') continue;
    by.set(i.scope, [...(by.get(i.scope) ?? []), clipped(i, fromMs, toMs)]);
  }
  return new Map(
    [...by].map(([scope, list]) => [scope, mergeIntervals(list).reduce((n, o) => n + o.endMs - o.startMs, 0)]),
  );
}

/**
 * The theoretical availability: the product of the dependencies' own (30 dependencies of 99.99 % each
 * give 0.9999^30 ≈ 99.7 %), each beside what was measured of it (1 − its downtime ÷ the window), null
 * for one jr does not probe.
 */
export function theoreticalAvailability(
  deps: ReadonlyArray<{ name: string; availability: number }>,
  measuredDowntimeMs: ReadonlyMap<string, number>,
  windowMs: number,
  probed: ReadonlySet<string> = PROBED,
): {
  availability: number | null;
  dependencies: Array<{ name: string; availability: number; measured: number | null }>;
} {
  return {
    availability: deps.length === 0 ? null : deps.reduce((p, d) => p * d.availability, 1),
    dependencies: deps.map((d) => ({
      name: d.name,
      availability: d.availability,
      measured:
        probed.has(d.name) || measuredDowntimeMs.has(d.name)
          ? 1 - (measuredDowntimeMs.get(d.name) ?? 0) / windowMs
          : null,
    })),
  };
}

/** Dependencies whose downtime jr records itself (dependency_down incidents). */
const PROBED: ReadonlySet<string> = new Set(['postgres', 'redis']);

/** Start times of `count` equal buckets covering [from, to). */
export function bucketStarts(fromMs: number, toMs: number, count = 30): number[] {
  const size = (toMs - fromMs) / count;
  return Array.from({ length: count }, (_, i) => Math.round(fromMs + i * size));
}

/** The budget left after each bucket, from the window's start (running totals); null before any event. */
export function cumulativeBudget(
  target: number,
  series: ReadonlyArray<{ good: number; total: number }>,
): Array<number | null> {
  let good = 0;
  let total = 0;
  return series.map((s) => {
    good += s.good;
    total += s.total;
    return objectiveFigures(target, good, total).budgetRemaining;
  });
}
