import { Frequency, RRule } from 'rrule';
import { neverFiresReason, optionsOf } from './rrule-guards';
import { readRuleValue, type RuleOptions } from './rrule-options';
import { zoneClock } from './zone-clock';

/**
 * RFC 5545 recurrence text (DTSTART, RRULE, EXRULE, EXDATE, RDATE lines), parsed and expanded by rrule on
 * floating wall-clock times. rrule's own TZID support converts through the host's time zone (its results
 * change with `TZ`) and reads `…Z` as local time, so zones are handled here: every date is turned into a
 * floating time of the schedule's zone, and zone-clock.ts maps the floating occurrences back to instants.
 */

/** Longest recurrence text accepted. */
export const MAX_RRULE_LENGTH = 32 * 1024;
/** Most RRULE lines, and most EXRULE lines. */
export const MAX_RULE_LINES = 8;
/** Most RDATE values, and most EXDATE values. */
export const MAX_RRULE_DATES = 1_000;

/** One RRULE or EXRULE: its parts, and its start and UNTIL as floating times. */
export interface CompiledRule {
  options: RuleOptions;
  dtstart: number;
  until: number | null;
}

/** A validated recurrence: rule parts with floating starts, and dates as floating ms. */
export interface CompiledRrule {
  rules: CompiledRule[];
  exrules: CompiledRule[];
  /** RDATEs and the occurrences of COUNT rules (computed once: at most MAX_RRULE_COUNT each), sorted. */
  dates: number[];
  exdates: number[];
  /** True when every rule is sub-daily without BYHOUR: a repeated hour at fall-back is a real hour and fires. */
  realTime: boolean;
}

/** Start of a rule without DTSTART: a fixed Monday midnight, so results never depend on when it was parsed. */
const DEFAULT_DTSTART = Date.UTC(2000, 0, 3);
const DATE_TIME_RE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(Z?)$/;

interface Line {
  name: string;
  tzid: string | undefined;
  value: string;
}

/** The TZID of the DTSTART line, if it has one (the schedule's zone when none is given). */
export function dtstartZone(text: string): string | undefined {
  return /^DTSTART;TZID=([^:;]+):/im.exec(text)?.[1];
}

/** Parses `text` for a schedule in `zone` (already validated), or says what is wrong with it. */
export function compileRrule(
  text: string,
  zone: string,
): { ok: true; rrule: CompiledRrule } | { ok: false; message: string } {
  try {
    return { ok: true, rrule: compile(text, zone) };
  } catch (err) {
    return { ok: false, message: err instanceof Error ? err.message : String(err) };
  }
}

function compile(text: string, zone: string): CompiledRrule {
  if (text.length > MAX_RRULE_LENGTH) throw new Error(`at most ${MAX_RRULE_LENGTH} characters`);
  const lines = splitLines(text);
  const starts = lines.filter((l) => l.name === 'DTSTART');
  if (starts.length > 1) throw new Error('at most one DTSTART line');
  const dtstart = starts[0] ? floatingOf(starts[0].value, starts[0].tzid, zone, 'DTSTART') : DEFAULT_DTSTART;
  const rules = rulesOf(lines, 'RRULE', { dtstart, zone, explicitStart: starts.length > 0 });
  if (rules.length === 0) throw new Error('an RRULE line is needed (RRULE:FREQ=…)');
  const exrules = rulesOf(lines, 'EXRULE', { dtstart, zone, explicitStart: starts.length > 0 });
  const datesOf = (name: string): number[] =>
    lines
      .filter((l) => l.name === name)
      .flatMap((l) => l.value.split(',').map((v) => floatingOf(v, l.tzid, zone, name)));
  const rdates = datesOf('RDATE');
  const exdates = datesOf('EXDATE');
  if (rdates.length > MAX_RRULE_DATES || exdates.length > MAX_RRULE_DATES) {
    throw new Error(`at most ${MAX_RRULE_DATES} RDATE and ${MAX_RRULE_DATES} EXDATE values`);
  }
  const counted = rules.filter((r) => r.options.count !== null);
  const realTime = rules.every((r) => r.options.freq >= Frequency.HOURLY && r.options.byhour === null);
  return {
    rules: rules.filter((r) => r.options.count === null),
    exrules,
    dates: [...rdates, ...counted.flatMap(occurrencesOfCounted)].sort((a, b) => a - b),
    exdates,
    realTime,
  };
}

function splitLines(text: string): Line[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .map((raw) => {
      const line = /^FREQ=/i.test(raw) ? `RRULE:${raw}` : raw;
      const match = /^([A-Za-z-]+)((?:;[^:;]+)*):(.*)$/.exec(line);
      if (!match) throw new Error(`not a recurrence line: ${line.slice(0, 60)}`);
      const name = (match[1] as string).toUpperCase();
      if (!['DTSTART', 'RRULE', 'EXRULE', 'EXDATE', 'RDATE'].includes(name)) {
        throw new Error(`unsupported line ${name} (DTSTART, RRULE, EXRULE, EXDATE and RDATE are)`);
      }
      return { name, tzid: paramTzid(name, match[2] as string), value: match[3] as string };
    });
}

/** The TZID parameter of a line; VALUE=DATE-TIME is allowed too, anything else is refused. */
function paramTzid(name: string, params: string): string | undefined {
  let tzid: string | undefined;
  for (const param of params.split(';').filter(Boolean)) {
    const [key, value = ''] = param.split('=');
    if (key?.toUpperCase() === 'TZID' && ['DTSTART', 'EXDATE', 'RDATE'].includes(name)) tzid = value;
    else if (param.toUpperCase() !== 'VALUE=DATE-TIME') {
      throw new Error(`${name}: unsupported parameter ${param} (dates are date-times like 20260105T090000)`);
    }
  }
  return tzid;
}

/** A DATE-TIME value as a floating time of `zone`: `…Z` is UTC, a TZID must be the schedule's zone. */
function floatingOf(value: string, tzid: string | undefined, zone: string, what: string): number {
  const m = DATE_TIME_RE.exec(value.trim());
  if (!m) throw new Error(`${what}: ${value.slice(0, 40)} is not a date-time like 20260105T090000 or 20260105T140000Z`);
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  // Date.UTC reads years 0-99 as 1900-1999; recurrences before the epoch are of no use to a scheduler
  if (year < 1970) throw new Error(`${what}: ${value} is before 1970`);
  const fields = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(fields);
  if (check.getUTCDate() !== day || check.getUTCMonth() !== month - 1 || hour > 23 || minute > 59 || second > 59) {
    throw new Error(`${what}: ${value} is not a real date and time`);
  }
  if (m[7] === 'Z') {
    if (tzid) throw new Error(`${what}: a UTC time (…Z) cannot also have a TZID`);
    return zoneClock(zone).floating(fields);
  }
  if (tzid !== undefined && tzid !== zone)
    throw new Error(`${what}: TZID=${tzid} differs from the schedule's timezone ${zone}`);
  return fields;
}

function rulesOf(
  lines: Line[],
  name: 'RRULE' | 'EXRULE',
  at: { dtstart: number; zone: string; explicitStart: boolean },
): CompiledRule[] {
  const found = lines.filter((l) => l.name === name);
  if (found.length > MAX_RULE_LINES) throw new Error(`at most ${MAX_RULE_LINES} ${name} lines`);
  return found.map((line) => {
    const { until, rest } = splitUntil(line.value);
    const read = readRuleValue(rest);
    if (!read.ok) throw new Error(`${name}: ${read.message}`);
    const { count } = read.options;
    if (count !== null && until !== undefined)
      throw new Error(`${name}: COUNT and UNTIL cannot both be given (RFC 5545)`);
    if (count !== null && !at.explicitStart) throw new Error(`${name}: COUNT needs a DTSTART line to count from`);
    const why = neverFiresReason(read.options, at.dtstart);
    if (why) throw new Error(`${name} never fires: ${why}`);
    const untilF = until === undefined ? null : floatingOf(until, undefined, at.zone, 'UNTIL');
    return { options: read.options, dtstart: at.dtstart, until: untilF };
  });
}

/** UNTIL is read here, not by rrule (which would take `…Z` as a floating time). */
function splitUntil(value: string): { until: string | undefined; rest: string } {
  const parts = value.split(';');
  const untilPart = parts.find((p) => /^UNTIL=/i.test(p));
  if (!untilPart) return { until: undefined, rest: value };
  return { until: untilPart.slice('UNTIL='.length), rest: parts.filter((p) => p !== untilPart).join(';') };
}

/** The rule as rrule builds it, on floating times. */
export function toRRule(rule: CompiledRule, dtstart = rule.dtstart): RRule {
  const until = rule.until === null ? null : new Date(rule.until);
  return new RRule({ ...optionsOf(rule.options), dtstart: new Date(dtstart), until }, true);
}

function occurrencesOfCounted(rule: CompiledRule): number[] {
  return toRRule(rule)
    .all()
    .map((d) => d.getTime());
}
