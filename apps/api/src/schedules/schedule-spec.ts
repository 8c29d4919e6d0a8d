import {
  parseDurationMs,
  parseJobSpec,
  printable,
  SCHEDULE_ID_RE,
  unstorableStrings,
  type NormalizedJob,
} from '@jr/contracts';
import { IANAZone } from 'luxon';
import { z } from 'zod';
import { compileCron } from './cron-source';
import { nextFireTimes } from './fire-times';
import { RruleTooCostly } from './rrule-walk';
import { parseExclusions, type Exclusion, exclusionsInputSchema } from './exclusions';
import { compileRrule, dtstartZone } from './rrule-source';

/**
 * The schedule document of `POST /v1/schedules`: when it fires (a cron expression or an RFC 5545 recurrence
 * in an IANA time zone, less exclusions), what happens at overlaps, after downtime and at DST transitions,
 * and the job each fire makes. parseScheduleSpec is the one way in; the result is what fire-times.ts,
 * catch-up.ts and overlap.ts read.
 */

/** The overlap policies, in the contract's spelling. */
export const OVERLAP_POLICIES = ['skip', 'buffer_one', 'allow', 'cancel_previous'] as const;
/** The catch-up policies, in the contract's spelling. */
export const CATCHUP_POLICIES = ['none', 'latest', 'all'] as const;
/** Overlap policy: what a fire does while an earlier job of the schedule still runs. */
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];
/** Catch-up policy: which fire times missed while the API was down become jobs when it is back. */
export type CatchupPolicy = (typeof CATCHUP_POLICIES)[number];

/** Longest catch-up window. */
export const MAX_CATCHUP_WINDOW_MS = 31 * 86_400_000;
/** The catch-up window when none is given (with the default policy, latest). */
export const DEFAULT_CATCHUP_WINDOW_MS = 24 * 3_600_000;
/** Longest schedule name, in characters (code points). */
export const MAX_SCHEDULE_NAME_LENGTH = 128;

/**
 * How local times that DST repeats (fall-back) or skips (spring-forward) fire. A schedule that fires every
 * hour (cron hour `*`, sub-daily RRULE without BYHOUR) runs on real time: both repeated hours fire.
 */
export interface DstPolicy {
  /** A repeated wall-clock time fires at its first occurrence only, or at both. */
  ambiguous: 'first' | 'both';
  /** A skipped wall-clock time does not fire, or fires at the first instant after the gap. */
  gap: 'skip' | 'shift';
}

/** When a schedule fires: exactly one of a cron expression (5 or 6 fields) or a recurrence text. */
export type Trigger = { kind: 'cron'; cron: string } | { kind: 'rrule'; rrule: string };

/** A parsed schedule, defaults applied. */
export interface ScheduleSpec {
  name: string;
  trigger: Trigger;
  /** Canonical IANA name; the zone cron is read in and RRULE dates without a zone belong to. */
  timezone: string;
  exclusions: Exclusion[];
  overlap: OverlapPolicy;
  catchup: { policy: CatchupPolicy; windowMs: number };
  dst: DstPolicy;
  paused: boolean;
  job: NormalizedJob;
}

/** A problem with the document, by dotted path. */
export interface ScheduleSpecIssue {
  path: string;
  message: string;
}

/** `secrets`: the job's secret values by name, in memory only (as parseJobSpec returns them). */
export type ScheduleSpecResult =
  { ok: true; spec: ScheduleSpec; secrets: Record<string, string> } | { ok: false; issues: ScheduleSpecIssue[] };

const ZONE_RE = /^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/;

const name = z
  .string({ error: 'name is required' })
  .refine((s) => [...s].length >= 1 && [...s].length <= MAX_SCHEDULE_NAME_LENGTH, {
    message: `name: 1 to ${MAX_SCHEDULE_NAME_LENGTH} characters`,
    abort: true,
  })
  .refine((s) => !/[\p{Cc}\p{Zl}\p{Zp}\u202a-\u202e\u2066-\u2069]/u.test(s), {
    message: 'name: printable text only (no newlines, tabs, NUL or bidirectional overrides)',
  })
  .refine((s) => s.trim().length > 0, { message: 'name: not only spaces' })
  // a name shaped like an id would make /v1/schedules/:idOrName name two schedules
  .refine((s) => !SCHEDULE_ID_RE.test(s), { message: 'name: not shaped like a schedule id (s_ and 20 characters)' });

const catchupWindow = z.union([z.string().max(32), z.number()]).transform((value, ctx) => {
  const ms = parseDurationMs(value);
  if (ms === undefined || ms < 1_000 || ms > MAX_CATCHUP_WINDOW_MS) {
    ctx.addIssue({
      code: 'custom',
      message: `not a window between 1s and 31d (like 6h or 2d): ${JSON.stringify(value)}`,
    });
    return z.NEVER;
  }
  return ms;
});

const scheduleSchema = z.strictObject({
  name,
  cron: z.string().optional(),
  rrule: z.string().optional(),
  timezone: z.string().optional(),
  exclusions: exclusionsInputSchema.optional(),
  overlap: z.enum(OVERLAP_POLICIES, { error: `overlap is one of ${OVERLAP_POLICIES.join(', ')}` }).default('skip'),
  catchup: z
    .strictObject({
      policy: z.enum(CATCHUP_POLICIES, { error: `catchup.policy is one of ${CATCHUP_POLICIES.join(', ')}` }),
      window: catchupWindow.optional(),
    })
    .optional(),
  dst: z
    .strictObject({
      ambiguous: z.enum(['first', 'both'], { error: 'dst.ambiguous is first or both' }).default('first'),
      gap: z.enum(['skip', 'shift'], { error: 'dst.gap is skip or shift' }).default('shift'),
    })
    .default({ ambiguous: 'first', gap: 'shift' }),
  paused: z.boolean().default(false),
});

type ParsedInput = z.output<typeof scheduleSchema>;
/** Where and when a schedule fires. */
interface When {
  timezone: string;
  trigger: Trigger;
}

/** The fields that say when the schedule fires, as given (checked even when other fields are wrong). */
interface WhenInput {
  cron?: unknown;
  rrule?: unknown;
  timezone?: unknown;
}

/** Validates a schedule document: every problem at once, each with its path (the job's under `job.`). */
export function parseScheduleSpec(input: unknown): ScheduleSpecResult {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, issues: [{ path: '(root)', message: 'a schedule is an object' }] };
  }
  const { job, ...rest } = input as Record<string, unknown>;
  const unstorable = unstorableStrings(rest, [], 8);
  const named = new Set(unstorable.map((i) => i.path));
  const parsed = scheduleSchema.safeParse(rest); // the job is parseJobSpec's
  const when = resolveWhen(rest);
  const jobResult = job === undefined ? undefined : parseJobSpec(job);
  const issues: ScheduleSpecIssue[] = [
    ...unstorable,
    ...schemaIssues(parsed.error).filter((i) => !named.has(i.path)),
    ...('issue' in when && !named.has(when.issue.path) ? [when.issue] : []),
  ];
  if (job === undefined) issues.push({ path: 'job', message: 'job is required (the job each fire makes)' });
  if (jobResult && !jobResult.ok) issues.push(...jobResult.issues.map((i) => ({ ...i, path: jobPath(i.path) })));
  if (!parsed.success || !jobResult?.ok || !('trigger' in when) || issues.length > 0) {
    return { ok: false, issues: dedupe(issues) };
  }
  const exclusions = parseExclusions(parsed.data.exclusions ?? [], when.timezone);
  if ('issues' in exclusions) return { ok: false, issues: exclusions.issues };
  const spec = buildSpec(parsed.data, when, exclusions.exclusions, jobResult.job);
  const costly = costlyIssue(spec);
  if (costly) return { ok: false, issues: [costly] };
  return { ok: true, spec, secrets: jobResult.secrets };
}

/** A rule whose next fire time cannot be found within the walk's budget is refused, not stored. */
function costlyIssue(spec: ScheduleSpec): ScheduleSpecIssue | undefined {
  try {
    nextFireTimes(spec, Date.now(), 1);
    return undefined;
  } catch (err) {
    if (err instanceof RruleTooCostly) return { path: 'rrule', message: `cannot be evaluated: ${err.message}` };
    throw err;
  }
}

function buildSpec(data: ParsedInput, when: When, exclusions: Exclusion[], job: NormalizedJob): ScheduleSpec {
  return {
    name: data.name,
    trigger: when.trigger,
    timezone: when.timezone,
    exclusions,
    overlap: data.overlap,
    catchup: { policy: data.catchup?.policy ?? 'latest', windowMs: data.catchup?.window ?? DEFAULT_CATCHUP_WINDOW_MS },
    dst: data.dst,
    paused: data.paused,
    job,
  };
}

/** The zone and the trigger, from the raw fields (a field of the wrong type is left to the schema). */
function resolveWhen(raw: WhenInput): When | { issue: ScheduleSpecIssue } | { unchecked: true } {
  const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const [cron, rrule, timezone] = [text(raw.cron), text(raw.rrule), text(raw.timezone)];
  if (raw.cron !== undefined && raw.rrule !== undefined) {
    return { issue: { path: '(root)', message: 'give either cron or rrule, not both' } };
  }
  if (raw.cron === undefined && raw.rrule === undefined) {
    return { issue: { path: '(root)', message: 'a schedule needs cron (5 or 6 fields) or rrule (RFC 5545)' } };
  }
  if ((raw.timezone !== undefined && timezone === undefined) || (cron ?? rrule) === undefined) {
    return { unchecked: true }; // a field of the wrong type: the schema's issue says so
  }
  const zone = resolveZone(timezone, rrule);
  if ('issue' in zone) return zone;
  const trigger = resolveTrigger(cron, rrule, zone.timezone);
  return 'issue' in trigger ? trigger : { timezone: zone.timezone, trigger: trigger.trigger };
}

/** The schedule's zone: `timezone`, else the DTSTART's TZID, else UTC; in canonical spelling. */
function resolveZone(
  timezone: string | undefined,
  rrule: string | undefined,
): { timezone: string } | { issue: ScheduleSpecIssue } {
  const given = timezone ?? (rrule === undefined ? undefined : dtstartZone(rrule)) ?? 'UTC';
  const path = timezone === undefined ? 'rrule' : 'timezone';
  if (!ZONE_RE.test(given) || !IANAZone.isValidZone(given)) {
    const shown = JSON.stringify(printable(given, 64));
    return { issue: { path, message: `unknown time zone ${shown}: use an IANA name such as Europe/Berlin` } };
  }
  return { timezone: new Intl.DateTimeFormat('en-US', { timeZone: given }).resolvedOptions().timeZone };
}

function resolveTrigger(
  cron: string | undefined,
  rrule: string | undefined,
  timezone: string,
): { trigger: Trigger } | { issue: ScheduleSpecIssue } {
  if (cron !== undefined) {
    const compiled = compileCron(cron);
    if (!compiled.ok) return { issue: { path: 'cron', message: compiled.message } };
    return { trigger: { kind: 'cron', cron: compiled.cron.expression } };
  }
  const compiled = compileRrule(rrule ?? '', timezone);
  if (!compiled.ok) return { issue: { path: 'rrule', message: compiled.message } };
  return { trigger: { kind: 'rrule', rrule: (rrule ?? '').trim() } };
}

function schemaIssues(error: z.ZodError | undefined): ScheduleSpecIssue[] {
  return (error?.issues ?? []).flatMap((i) => {
    const path = i.path.map((p) => printable(String(p)));
    if (i.code === 'unrecognized_keys') {
      return i.keys.map((key) => ({ path: [...path, printable(key)].join('.'), message: 'unknown field' }));
    }
    return [{ path: path.join('.') || '(root)', message: i.message }];
  });
}

function jobPath(path: string): string {
  return path === '(root)' ? 'job' : `job.${path}`;
}

function dedupe(issues: ScheduleSpecIssue[]): ScheduleSpecIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.path}\u0000${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
