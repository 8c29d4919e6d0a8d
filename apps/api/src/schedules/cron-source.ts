import { CronExpressionParser } from 'cron-parser';

/**
 * Cron expressions, parsed and matched by cron-parser on floating wall-clock times (zone 'UTC', which has no
 * DST): mapping those to instants, and so every DST rule, is done by zone-clock.ts, not by cron-parser.
 */

/** Longest cron expression accepted. */
export const MAX_CRON_LENGTH = 256;

/** What the walk does after a visit: go on (undefined), stop, or go on after the given floating time. */
export type WalkStep = undefined | 'stop' | number;
/** Called with each floating time, in increasing order. */
export type Visit = (floating: number) => WalkStep;

/** A validated cron expression. */
export interface CompiledCron {
  /** The expression, fields separated by one space. */
  expression: string;
  /** True when the hour field is `*` (every hour): the repeated hour of a fall-back is a real hour and fires. */
  realTime: boolean;
}

/** A date the expression is first tried from: any fixed one, so validation does not depend on a clock. */
const PROBE_FROM = Date.UTC(2000, 0, 1);

/** Parses `text` as a 5-field (m h dom mon dow) or 6-field (s m h dom mon dow) cron expression. */
export function compileCron(text: string): { ok: true; cron: CompiledCron } | { ok: false; message: string } {
  const fields = text.trim().split(/\s+/);
  const shapeIssue = cronShapeIssue(text, fields);
  if (shapeIssue) return { ok: false, message: shapeIssue };
  const expression = fields.join(' ');
  try {
    const parsed = CronExpressionParser.parse(expression, { currentDate: new Date(PROBE_FROM), tz: 'UTC' });
    parsed.next(); // throws when no date matches (e.g. `0 0 31 2,4 *`)
    return { ok: true, cron: { expression, realTime: parsed.fields.hour.values.length === 24 } };
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return { ok: false, message: `not a valid cron expression (${why})` };
  }
}

function cronShapeIssue(text: string, fields: string[]): string | undefined {
  if (text.length > MAX_CRON_LENGTH) return `at most ${MAX_CRON_LENGTH} characters`;
  if (text.trim().startsWith('@')) return 'macros such as @daily are not accepted: write the fields (0 0 * * *)';
  if (fields.length !== 5 && fields.length !== 6) {
    return `a cron expression has 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first; this one has ${fields.length}`;
  }
  const hashed = fields.some((field) => field.split(',').some((part) => /^H($|[/(])/i.test(part)));
  if (hashed) return 'H (hashed) values are not accepted: give the minute, hour … explicitly';
  return undefined;
}

/**
 * Visits the floating times matching `expression` in (fromF, toF], in order. The expression must have been
 * accepted by compileCron.
 */
export function walkCron(expression: string, fromF: number, toF: number, visit: Visit): void {
  const times = CronExpressionParser.parse(expression, { currentDate: new Date(fromF), tz: 'UTC' });
  for (;;) {
    let floating: number;
    try {
      floating = times.next().getTime();
    } catch {
      return; // no further match
    }
    if (floating > toF) return;
    const step = visit(floating);
    if (step === 'stop') return;
    if (typeof step === 'number' && step > floating) times.reset(new Date(step));
  }
}
