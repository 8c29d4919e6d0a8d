import { DateTime } from 'luxon';
import { z } from 'zod';
import type { ZoneClock } from './zone-clock';

/**
 * Exclusions: whole local days of the schedule's zone (`2026-12-25`) or ranges of time
 * (`{from, to}`, ISO date-times with Z or an offset, or local to the schedule's zone without one).
 * A fire time in an excluded day or in [from, to) does not fire.
 */

/** Most exclusions one schedule may carry. */
export const MAX_EXCLUSIONS = 1_000;

/** A parsed exclusion: a local day, or a half-open range of instants. */
export type Exclusion = { kind: 'day'; date: string } | { kind: 'range'; fromMs: number; toMs: number };

const day = z.iso.date({ error: 'a day exclusion is a date YYYY-MM-DD' });
const dateTime = z.iso.datetime({
  offset: true,
  local: true,
  error: 'from and to are ISO date-times (2026-12-24T18:00:00Z, …+01:00, or local to the schedule)',
});
const range = z.strictObject({ from: dateTime, to: dateTime });
const exclusion = z.union([day, range], {
  error: 'an exclusion is a date YYYY-MM-DD or {from, to} with ISO date-times',
});

/** The input shape; the length is checked before any entry is. */
export const exclusionsInputSchema = z
  .array(z.unknown(), { error: 'exclusions is a list' })
  .max(MAX_EXCLUSIONS, `at most ${MAX_EXCLUSIONS} exclusions`)
  .pipe(z.array(exclusion));

/** Resolves the input exclusions in `zone`; a range must end after it starts. */
export function parseExclusions(
  input: z.output<typeof exclusionsInputSchema>,
  zone: string,
): { exclusions: Exclusion[] } | { issues: Array<{ path: string; message: string }> } {
  const exclusions: Exclusion[] = [];
  const issues: Array<{ path: string; message: string }> = [];
  input.forEach((entry, i) => {
    if (typeof entry === 'string') {
      exclusions.push({ kind: 'day', date: entry });
      return;
    }
    const fromMs = DateTime.fromISO(entry.from, { zone }).toMillis();
    const toMs = DateTime.fromISO(entry.to, { zone }).toMillis();
    if (!Number.isFinite(fromMs) || !Number.isFinite(toMs)) {
      issues.push({ path: `exclusions.${i}`, message: 'from and to must be real date-times' });
    } else if (toMs <= fromMs) {
      issues.push({ path: `exclusions.${i}`, message: 'to must be after from' });
    } else {
      exclusions.push({ kind: 'range', fromMs, toMs });
    }
  });
  return issues.length > 0 ? { issues } : { exclusions };
}

/** Exclusions ready for many look-ups. */
export class ExclusionSet {
  private readonly days: Set<string>;
  private readonly ranges: Array<{ fromMs: number; toMs: number }>;

  constructor(
    exclusions: Exclusion[],
    private readonly clock: ZoneClock,
  ) {
    this.days = new Set(exclusions.flatMap((e) => (e.kind === 'day' ? [e.date] : [])));
    this.ranges = exclusions.flatMap((e) => (e.kind === 'range' ? [e] : []));
  }

  /** The excluded span [fromMs, toMs) holding instant `t` (the union of those that do), or undefined. */
  spanAt(t: number): { fromMs: number; toMs: number } | undefined {
    let span: { fromMs: number; toMs: number } | undefined;
    const widen = (fromMs: number, toMs: number): void => {
      span = span ? { fromMs: Math.min(span.fromMs, fromMs), toMs: Math.max(span.toMs, toMs) } : { fromMs, toMs };
    };
    for (const r of this.ranges) if (t >= r.fromMs && t < r.toMs) widen(r.fromMs, r.toMs);
    if (this.days.size > 0) {
      const date = this.clock.localDate(t);
      if (this.days.has(date)) widen(this.startOfDay(date, 0), this.startOfDay(date, 1));
    }
    return span;
  }

  /** The first instant of the local day `days` after `date`. */
  private startOfDay(date: string, days: number): number {
    const local = this.clock.locate(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000);
    if (local.kind === 'single') return local.instant;
    return local.kind === 'repeated' ? local.first : local.gapEnd;
  }
}
