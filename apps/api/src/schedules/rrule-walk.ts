import { Frequency, RRuleSet } from 'rrule';
import type { Visit } from './cron-source';
import { toRRule, type CompiledRule, type CompiledRrule } from './rrule-source';

/**
 * Visiting the occurrences of a compiled recurrence in order. rrule expands every rule from its DTSTART on
 * each query, so a minutely rule that started a year ago would cost half a million steps per call: each
 * rule without COUNT is started instead at the last whole period before the window (same occurrences in
 * the window, as floating time has no DST). Windows grow ×4 from an hour, so a dense rule is never
 * expanded far past what the caller needs and a sparse one needs few calls.
 */

const HOUR = 3_600_000;
const UNIT_MS: Partial<Record<Frequency, number>> = {
  [Frequency.WEEKLY]: 7 * 24 * HOUR,
  [Frequency.DAILY]: 24 * HOUR,
  [Frequency.HOURLY]: HOUR,
  [Frequency.MINUTELY]: 60_000,
  [Frequency.SECONDLY]: 1_000,
};

/**
 * Steps rrule may take on behalf of one walk (each rule and exrule iterates its own periods in every
 * window): about 1-2 s of rrule's work at most (some 7 µs a step here). A walk that needs more (an EXRULE cancelling its RRULE, which leaves
 * every window empty up to the end of time) stops with RruleTooCostly rather than block the event loop.
 */
export const MAX_WALK_STEPS = 250_000;

export class RruleTooCostly extends Error {
  constructor() {
    super(`finding its fire times takes more than ${MAX_WALK_STEPS} steps (does an EXRULE exclude most of the RRULE?)`);
    this.name = 'RruleTooCostly';
  }
}

/** Visits the floating occurrences of `rrule` in (fromF, toF], in order. */
export function walkRrule(rrule: CompiledRrule, fromF: number, toF: number, visit: Visit): void {
  let start = fromF;
  let span = HOUR;
  let steps = 0;
  const perMs = stepsPerMs(rrule);
  while (start < toF) {
    const end = Math.min(toF, start + span);
    steps += (end - start) * perMs;
    if (steps > MAX_WALK_STEPS) throw new RruleTooCostly();
    let jump: number | undefined;
    for (const floating of occurrencesIn(rrule, start, end)) {
      const step = visit(floating);
      if (step === 'stop') return;
      if (typeof step === 'number' && step > floating) {
        jump = step;
        break;
      }
    }
    if (jump === undefined) {
      start = end;
      span *= 4;
    } else {
      start = jump;
      span = HOUR;
    }
  }
}

/** The occurrences in (after, until], sorted. */
function occurrencesIn(rrule: CompiledRrule, after: number, until: number): number[] {
  const set = new RRuleSet(true);
  for (const rule of rrule.rules) set.rrule(toRRule(rule, startBefore(rule, after)));
  for (const rule of rrule.exrules) set.exrule(toRRule(rule, startBefore(rule, after)));
  for (const date of inRange(rrule.dates, after, until)) set.rdate(new Date(date));
  for (const date of inRange(rrule.exdates, after, until)) set.exdate(new Date(date));
  return set
    .between(new Date(after), new Date(until), true)
    .map((d) => d.getTime())
    .filter((f) => f > after);
}

/** The rule's start moved forward by whole periods to at least one period before `windowStart`. */
function startBefore(rule: CompiledRule, windowStart: number): number {
  const unit = UNIT_MS[rule.options.freq];
  if (unit === undefined || rule.options.count !== null) return rule.dtstart;
  const period = unit * rule.options.interval;
  const periods = Math.floor((windowStart - rule.dtstart) / period) - 1;
  return periods > 0 ? rule.dtstart + periods * period : rule.dtstart;
}

function inRange(dates: number[], after: number, until: number): number[] {
  return dates.filter((d) => d > after && d <= until);
}

/** How many periods rrule walks per millisecond of window, over every rule and exrule (dates are free). */
function stepsPerMs(rrule: CompiledRrule): number {
  let per = 0;
  for (const rule of [...rrule.rules, ...rrule.exrules]) {
    const unit = UNIT_MS[rule.options.freq] ?? 28 * 24 * HOUR;
    per += 1 / (unit * rule.options.interval);
  }
  return per;
}
