import { Frequency, RRule, type Options } from 'rrule';
import type { RuleOptions } from './rrule-options';

/**
 * Rules that rrule would evaluate for ever, refused before they are stored. rrule's iterator stops only on
 * an occurrence (past the window or UNTIL) or in the year 9999, and its sub-daily stepping has no exit
 * when no hour/minute/second of the BY lists can be reached (FREQ=HOURLY;INTERVAL=24;BYHOUR=5 from 03:00).
 * So a rule is accepted only when (1) its time of day can be reached, (2) a BYSETPOS can select something
 * and (3) it fires within ten years of its start: a cheap probe, as the start is first moved, by a whole
 * number of 400-year Gregorian cycles that keeps the rule's own period, close to the year 9999.
 */

const DAY_SECONDS = 86_400;
const PROBE_YEARS = 10;
/** The latest year a probe starts in: an impossible rule then scans at most ~400 years before 9999. */
const PROBE_TARGET_YEAR = 9_999 - PROBE_YEARS - 2;
/** 400 Gregorian years (146,097 days, a whole number of weeks) in units of each frequency. */
const CYCLE_UNITS: Record<Frequency, number> = {
  [Frequency.YEARLY]: 400,
  [Frequency.MONTHLY]: 4_800,
  [Frequency.WEEKLY]: 20_871,
  [Frequency.DAILY]: 146_097,
  [Frequency.HOURLY]: 146_097 * 24,
  [Frequency.MINUTELY]: 146_097 * 1_440,
  [Frequency.SECONDLY]: 146_097 * DAY_SECONDS,
};
const SUB_DAILY_UNIT_SECONDS: Partial<Record<Frequency, number>> = {
  [Frequency.HOURLY]: 3_600,
  [Frequency.MINUTELY]: 60,
  [Frequency.SECONDLY]: 1,
};

/** Why the rule (starting at the floating time `dtstart`) cannot be evaluated safely, or undefined. */
export function neverFiresReason(rule: RuleOptions, dtstart: number): string | undefined {
  const dayFilters = dayFiltersOf(rule);
  if ((rule.freq === Frequency.MINUTELY || rule.freq === Frequency.SECONDLY) && dayFilters.length > 0) {
    // rrule steps over a filtered day with one jump of hours that can miss every BYHOUR for ever
    // (jkbrzt/rrule #468, #622: the API's event loop would never come back), and a dense rule behind a
    // sparse day filter expands whole months at once
    return `FREQ=${rule.freq === Frequency.MINUTELY ? 'MINUTELY' : 'SECONDLY'} with ${dayFilters.join(', ')} cannot be evaluated safely: use FREQ=HOURLY or DAILY with BYMINUTE/BYSECOND, or a cron expression`;
  }
  const unit = SUB_DAILY_UNIT_SECONDS[rule.freq];
  if (unit !== undefined && !timeOfDayReachable(rule, dtstart, unit)) {
    return `with INTERVAL=${rule.interval} from ${isoBasic(dtstart)}, no time in BYHOUR/BYMINUTE/BYSECOND is ever reached`;
  }
  if (!setposSelectable(rule)) return 'no BYSETPOS position exists in a period of this rule';
  // numbered weekdays (1MO) count within the rule's own period: only the full probe reads them right
  const numbered = rule.byweekday?.some((d) => d.n !== undefined && d.n !== null) ?? false;
  if (!numbered && !firesWithin(dayPatternProbe(rule, dtstart))) {
    return `its days (BYMONTH, BYMONTHDAY, BYYEARDAY, BYDAY) do not occur within ${PROBE_YEARS} years`;
  }
  if (unit !== undefined) return undefined; // a sub-daily rule steps through every day
  return firesWithin(fullProbe(rule, dtstart))
    ? undefined
    : `it does not fire within ${PROBE_YEARS} years of its start`;
}

/** The sub-daily counter visits the times of day ≡ its start (mod gcd(step, 1 day)): is one of them allowed? */
function timeOfDayReachable(rule: RuleOptions, dtstart: number, unit: number): boolean {
  const slots = DAY_SECONDS / unit;
  const start = Math.floor(((((dtstart / 1_000) % DAY_SECONDS) + DAY_SECONDS) % DAY_SECONDS) / unit);
  const stride = gcd(rule.interval, slots);
  for (let slot = start % stride; slot < slots; slot += stride) {
    const seconds = slot * unit;
    const ok =
      allows(rule.byhour, Math.floor(seconds / 3_600)) &&
      (unit > 60 || allows(rule.byminute, Math.floor(seconds / 60) % 60)) &&
      (unit > 1 || allows(rule.bysecond, seconds % 60));
    if (ok) return true;
  }
  return false;
}

/** Most days in one period of each frequency (a sub-daily period lies within a day). */
const PERIOD_DAYS: Partial<Record<Frequency, number>> = {
  [Frequency.YEARLY]: 366,
  [Frequency.MONTHLY]: 31,
  [Frequency.WEEKLY]: 7,
  [Frequency.DAILY]: 1,
};

/** BYSETPOS picks among a period's occurrences: at most its days × the times of day (BYHOUR × … below FREQ). */
function setposSelectable(rule: RuleOptions): boolean {
  if (rule.bysetpos === null) return true;
  const below = (freq: Frequency, list: number[] | null): number => (rule.freq < freq ? (list?.length ?? 1) : 1);
  const times =
    below(Frequency.HOURLY, rule.byhour) *
    below(Frequency.MINUTELY, rule.byminute) *
    below(Frequency.SECONDLY, rule.bysecond);
  const most = (PERIOD_DAYS[rule.freq] ?? 1) * times;
  return rule.bysetpos.some((pos) => Math.abs(pos) <= most);
}

/** The rule's day filters as a yearly rule at midnight, its start moved near the year 9999 by 400-year cycles. */
function dayPatternProbe(rule: RuleOptions, dtstart: number): { rule: RRule; from: Date } {
  const year = new Date(dtstart).getUTCFullYear();
  const from = new Date(Date.UTC(year + cyclesTowardTarget(year, 1), 0, 1));
  const options: Partial<Options> = {
    freq: Frequency.YEARLY,
    dtstart: from,
    bymonth: rule.bymonth,
    bymonthday: rule.bymonthday,
    byyearday: rule.byyearday,
    byweekno: rule.byweekno,
    byweekday: rule.byweekday,
    byhour: 0,
    byminute: 0,
    bysecond: 0,
  };
  return { rule: new RRule(options, true), from };
}

/** The rule itself without COUNT, its start moved by whole 400-year cycles that are also whole periods. */
function fullProbe(rule: RuleOptions, dtstart: number): { rule: RRule; from: Date } {
  const start = new Date(dtstart);
  const year = start.getUTCFullYear();
  const cyclesPerStep = rule.interval / gcd(rule.interval, CYCLE_UNITS[rule.freq]);
  const shifted = new Date(dtstart);
  shifted.setUTCFullYear(year + cyclesTowardTarget(year, cyclesPerStep));
  return { rule: new RRule({ ...optionsOf(rule), count: null, until: null, dtstart: shifted }, true), from: shifted };
}

function firesWithin({ rule, from }: { rule: RRule; from: Date }): boolean {
  const first = rule.after(from, true);
  if (first === null) return false;
  const limit = new Date(from);
  limit.setUTCFullYear(limit.getUTCFullYear() + PROBE_YEARS);
  return first.getTime() <= limit.getTime();
}

/** Years to add to `year`: a multiple of 400 × cyclesPerStep, as far as it stays below PROBE_TARGET_YEAR. */
function cyclesTowardTarget(year: number, cyclesPerStep: number): number {
  const step = 400 * cyclesPerStep;
  return year >= PROBE_TARGET_YEAR ? 0 : Math.floor((PROBE_TARGET_YEAR - year) / step) * step;
}

/** The rule's parts as rrule's Options. */
export function optionsOf(rule: RuleOptions): Partial<Options> {
  return { ...rule, tzid: null };
}

function allows(list: number[] | null, value: number): boolean {
  return list === null || list.includes(value);
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function isoBasic(floating: number): string {
  return new Date(floating).toISOString().slice(0, 19);
}

/** The BY parts that pick days (not times of day) a rule carries. */
function dayFiltersOf(rule: RuleOptions): string[] {
  const parts: Array<[string, readonly unknown[] | null]> = [
    ['BYMONTH', rule.bymonth],
    ['BYMONTHDAY', rule.bymonthday],
    ['BYYEARDAY', rule.byyearday],
    ['BYWEEKNO', rule.byweekno],
    ['BYDAY', rule.byweekday],
  ];
  return parts.filter(([, v]) => v !== null && v.length > 0).map(([k]) => k);
}
