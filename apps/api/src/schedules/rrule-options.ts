import { Frequency, RRule, Weekday, type Options } from 'rrule';

/**
 * Checks of one RRULE/EXRULE value as rrule's parser leaves it. The parser keeps what it cannot read
 * (`COUNT=abc`, `BYHOUR=25`, `INTERVAL=0`, an unknown weekday) and its iterator loops for ever on some of
 * them, so each part is checked here against RFC 5545 before a rule is built.
 */

/** Most occurrences a COUNT may ask for (a longer series can use UNTIL). */
export const MAX_RRULE_COUNT = 10_000;

/** A rule part as this module hands it on: lists as arrays, no zone (times are floating). */
export interface RuleOptions {
  freq: Frequency;
  interval: number;
  count: number | null;
  wkst: number | null;
  bysetpos: number[] | null;
  bymonth: number[] | null;
  bymonthday: number[] | null;
  byyearday: number[] | null;
  byweekno: number[] | null;
  byweekday: Weekday[] | null;
  byhour: number[] | null;
  byminute: number[] | null;
  bysecond: number[] | null;
}

const KNOWN = new Set([
  'freq',
  'interval',
  'count',
  'until',
  'wkst',
  'bysetpos',
  'bymonth',
  'bymonthday',
  'byyearday',
  'byweekno',
  'byweekday',
  'byhour',
  'byminute',
  'bysecond',
]);

type NumericPart =
  'bysetpos' | 'bymonth' | 'bymonthday' | 'byyearday' | 'byweekno' | 'byhour' | 'byminute' | 'bysecond';
/** [lowest, highest, whether 0 is allowed] of each numeric BY part. */
const RANGES: Record<NumericPart, [number, number, boolean]> = {
  bysecond: [0, 59, true],
  byminute: [0, 59, true],
  byhour: [0, 23, true],
  bymonth: [1, 12, true],
  bymonthday: [-31, 31, false],
  byyearday: [-366, 366, false],
  byweekno: [-53, 53, false],
  bysetpos: [-366, 366, false],
};

/** Longest INTERVAL of each frequency: a sub-daily rule steps at most one day, so it visits every day. */
const MAX_INTERVAL: Record<Frequency, number> = {
  [Frequency.YEARLY]: 1_000,
  [Frequency.MONTHLY]: 1_200,
  [Frequency.WEEKLY]: 520,
  [Frequency.DAILY]: 3_660,
  [Frequency.HOURLY]: 24,
  [Frequency.MINUTELY]: 1_440,
  [Frequency.SECONDLY]: 86_400,
};

/** Parses and checks one rule value (`FREQ=…;…`), or says what is wrong with it. */
export function readRuleValue(value: string): { ok: true; options: RuleOptions } | { ok: false; message: string } {
  let parsed: Partial<Options>;
  try {
    parsed = RRule.parseString(value);
  } catch (err) {
    return { ok: false, message: err instanceof Error ? err.message : String(err) };
  }
  const unknown = Object.keys(parsed).filter((key) => !KNOWN.has(key));
  if (unknown.length > 0) return { ok: false, message: `unsupported rule part ${unknown[0]?.toUpperCase()}` };
  const freq = parsed.freq;
  if (typeof freq !== 'number' || Frequency[freq] === undefined) {
    return { ok: false, message: 'FREQ is required: YEARLY, MONTHLY, WEEKLY, DAILY, HOURLY, MINUTELY or SECONDLY' };
  }
  const message =
    scalarIssue(parsed, freq) ?? numericIssue(parsed) ?? weekdayIssue(parsed, freq) ?? placementIssue(parsed, freq);
  if (message) return { ok: false, message };
  return { ok: true, options: normalize(parsed, freq) };
}

function scalarIssue(parsed: Partial<Options>, freq: Frequency): string | undefined {
  const interval = parsed.interval ?? 1;
  if (!isInteger(interval) || interval < 1 || interval > MAX_INTERVAL[freq]) {
    return `INTERVAL must be a whole number from 1 to ${MAX_INTERVAL[freq]} for FREQ=${Frequency[freq]}`;
  }
  const count = parsed.count;
  if (count !== undefined && count !== null && (!isInteger(count) || count < 1 || count > MAX_RRULE_COUNT)) {
    return `COUNT must be a whole number from 1 to ${MAX_RRULE_COUNT} (use UNTIL for longer series)`;
  }
  if (count != null && parsed.until != null) return 'COUNT and UNTIL cannot both be given (RFC 5545)';
  if (Object.hasOwn(parsed, 'wkst') && typeof parsed.wkst !== 'object')
    return 'WKST must be MO, TU, WE, TH, FR, SA or SU';
  return undefined;
}

function numericIssue(parsed: Partial<Options>): string | undefined {
  for (const [part, [lowest, highest, zeroAllowed]] of Object.entries(RANGES) as Array<
    [NumericPart, [number, number, boolean]]
  >) {
    const values = asList(parsed[part]);
    if (values === null) continue;
    const bad = values.find((v) => !isInteger(v) || v < lowest || v > highest || (!zeroAllowed && v === 0));
    if (bad !== undefined || values.length === 0) {
      const zero = zeroAllowed ? '' : ', not 0';
      return `${part.slice(2).toUpperCase()} values are whole numbers from ${lowest} to ${highest}${zero}: got ${String(bad)}`;
    }
  }
  return undefined;
}

function weekdayIssue(parsed: Partial<Options>, freq: Frequency): string | undefined {
  const days = asList(parsed.byweekday);
  if (days === null) return undefined;
  if (days.some((d) => !(d instanceof Weekday)))
    return 'BYDAY values are MO, TU, WE, TH, FR, SA, SU, optionally numbered (1MO, -1FR)';
  const numbered = (days as Weekday[]).filter((d) => d.n !== undefined && d.n !== null);
  if (numbered.length === 0) return undefined;
  const limit = freq === Frequency.MONTHLY ? 5 : freq === Frequency.YEARLY ? 53 : 0;
  if (limit === 0) return 'numbered BYDAY values (1MO, -1FR) only go with FREQ=MONTHLY or YEARLY';
  if (freq === Frequency.YEARLY && parsed.byweekno != null) return 'numbered BYDAY values cannot go with BYWEEKNO';
  const bad = numbered.find((d) => d.n === 0 || Math.abs(d.n as number) > limit);
  return bad ? `BYDAY numbers go from -${limit} to ${limit}, not 0, for FREQ=${Frequency[freq]}` : undefined;
}

/** RFC 5545 §3.3.10: which BY parts each frequency may use. */
function placementIssue(parsed: Partial<Options>, freq: Frequency): string | undefined {
  if (parsed.byweekno != null && freq !== Frequency.YEARLY) return 'BYWEEKNO only goes with FREQ=YEARLY';
  const daily = [Frequency.DAILY, Frequency.WEEKLY, Frequency.MONTHLY].includes(freq);
  if (parsed.byyearday != null && daily) return 'BYYEARDAY does not go with FREQ=DAILY, WEEKLY or MONTHLY';
  if (parsed.bymonthday != null && freq === Frequency.WEEKLY) return 'BYMONTHDAY does not go with FREQ=WEEKLY';
  return undefined;
}

function normalize(parsed: Partial<Options>, freq: Frequency): RuleOptions {
  const numbers = (part: NumericPart): number[] | null => asList(parsed[part]) as number[] | null;
  const wkst = parsed.wkst;
  return {
    freq,
    interval: parsed.interval ?? 1,
    count: parsed.count ?? null,
    wkst: wkst instanceof Weekday ? wkst.weekday : typeof wkst === 'number' ? wkst : null,
    bysetpos: numbers('bysetpos'),
    bymonth: numbers('bymonth'),
    bymonthday: numbers('bymonthday'),
    byyearday: numbers('byyearday'),
    byweekno: numbers('byweekno'),
    byweekday: asList(parsed.byweekday) as Weekday[] | null,
    byhour: numbers('byhour'),
    byminute: numbers('byminute'),
    bysecond: numbers('bysecond'),
  };
}

function asList(value: unknown): unknown[] | null {
  if (value === undefined || value === null) return null;
  return Array.isArray(value) ? (value as unknown[]) : [value];
}

function isInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value);
}
