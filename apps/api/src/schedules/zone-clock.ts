import { IANAZone } from 'luxon';

/**
 * Wall-clock arithmetic in one IANA zone, on "floating" times: a floating time is a number of ms whose UTC
 * fields (as `new Date(f).toISOString()` shows them) are the zone's local date and time. Cron and RRULE are
 * evaluated on floating times, where no day is 23 or 25 hours long; this class maps them back to instants,
 * saying which local times a DST transition repeats or skips. Offsets come from luxon (the platform's tzdata).
 */

const SECOND = 1_000;
const HOUR = 3_600_000;
/** Every offset in tzdata lies within UTC−12…UTC+14: one hour of margin each side. */
const LOWEST_OFFSET = -13 * HOUR;
const HIGHEST_OFFSET = 15 * HOUR;

/** How one floating time exists in the zone: once, twice (fall-back) or not at all (spring-forward). */
export type LocalTime =
  | { kind: 'single'; instant: number }
  | { kind: 'repeated'; first: number; second: number }
  | { kind: 'skipped'; gapEnd: number };

/** Offsets of one zone, sampled on the hour and cached: transitions never come two within an hour. */
export class ZoneClock {
  private readonly zone: IANAZone;
  private readonly onTheHour = new Map<number, number>();

  constructor(readonly name: string) {
    this.zone = IANAZone.create(name);
    if (!this.zone.isValid) throw new RangeError(`unknown time zone: ${name}`);
  }

  /** The zone's offset from UTC at instant `t`, in ms. */
  offsetAt(t: number): number {
    const hour = Math.floor(t / HOUR) * HOUR;
    const before = this.sample(hour);
    return before === this.sample(hour + HOUR) ? before : this.exactOffset(t);
  }

  /** The floating time (local wall clock) of instant `t`. */
  floating(t: number): number {
    return t + this.offsetAt(t);
  }

  /** The local date (YYYY-MM-DD) of instant `t`. */
  localDate(t: number): string {
    return new Date(this.floating(t)).toISOString().slice(0, 10);
  }

  /** Where the floating time `f` is in real time. */
  locate(f: number): LocalTime {
    const offsets = this.offsetsBetween(f - HIGHEST_OFFSET, f - LOWEST_OFFSET);
    const hits = [...new Set(offsets.map((o) => f - o))].filter((t) => this.floating(t) === f).sort((a, b) => a - b);
    const [first, second] = hits;
    if (first !== undefined && second !== undefined) return { kind: 'repeated', first, second };
    if (first !== undefined) return { kind: 'single', instant: first };
    return { kind: 'skipped', gapEnd: this.gapEnd(f, Math.min(...offsets), Math.max(...offsets)) };
  }

  /** The lowest and highest offsets in force at some instant of [from, to]. */
  offsetRange(from: number, to: number): { lowest: number; highest: number } {
    const offsets = [...this.offsetsBetween(from, to), this.offsetAt(from), this.offsetAt(to)];
    return { lowest: Math.min(...offsets), highest: Math.max(...offsets) };
  }

  /** The distinct offsets sampled on each hour of [from, to] (and the hours around it). */
  private offsetsBetween(from: number, to: number): number[] {
    const seen = new Set<number>();
    for (let hour = Math.floor(from / HOUR) * HOUR; hour <= to + HOUR; hour += HOUR) seen.add(this.sample(hour));
    return [...seen];
  }

  /** The first instant after the gap that skips `f`: the transition, found by bisection between the offsets. */
  private gapEnd(f: number, lowest: number, highest: number): number {
    let before = f - highest; // floating(before) <= f
    let after = f - lowest; // floating(after) > f, as f itself does not exist
    while (after - before > 1) {
      const mid = Math.floor((before + after) / 2);
      if (this.floating(mid) > f) after = mid;
      else before = mid;
    }
    return Math.ceil(after / SECOND) * SECOND;
  }

  private sample(hour: number): number {
    let offset = this.onTheHour.get(hour);
    if (offset === undefined) {
      if (this.onTheHour.size >= 200_000) this.onTheHour.clear();
      offset = this.exactOffset(hour);
      this.onTheHour.set(hour, offset);
    }
    return offset;
  }

  private exactOffset(t: number): number {
    return this.zone.offset(t) * 60_000;
  }
}

const clocks = new Map<string, ZoneClock>();

/** A shared clock for `zone` (its cache survives between calls; bounded to a few hundred zones). */
export function zoneClock(zone: string): ZoneClock {
  let clock = clocks.get(zone);
  if (!clock) {
    if (clocks.size >= 512) clocks.clear();
    clock = new ZoneClock(zone);
    clocks.set(zone, clock);
  }
  return clock;
}
