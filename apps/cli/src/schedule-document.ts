import { InvalidArgumentError } from 'commander';
import { LIMITS, parseDurationMs, parseJobSpec } from '@jr/contracts';
import { UsageError } from './cli-error';
import { documentFromCommand, documentFromFile, type JobDocument, type JobFlags } from './job-document';

/** The overlap and catch-up policies in the API's spelling (apps/api/src/schedules/schedule-spec.ts). */
export const OVERLAP_POLICIES = ['skip', 'buffer_one', 'allow', 'cancel_previous'] as const;
export const CATCHUP_POLICIES = ['none', 'latest', 'all'] as const;
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];
export type CatchupPolicy = (typeof CATCHUP_POLICIES)[number];

/** Longest schedule name the API takes, in characters. */
const MAX_NAME_LENGTH = 128;

/** `jr schedule create` flags that shape the schedule (the job's are JobFlags). */
export interface ScheduleFlags {
  name?: string;
  cron?: string;
  rrule?: string;
  timezone?: string;
  overlap?: OverlapPolicy;
  catchup?: CatchupPolicy;
  catchupWindow?: string;
  paused?: boolean;
}

/** Where the parts of the document come from: files already parsed, the command after `--`, the flags. */
export interface ScheduleSources {
  /** `-f schedule.yaml`: the whole schedule document. */
  file?: unknown;
  /** `--job-file job.yaml`: the job, as `jr submit -f` takes it. */
  jobFile?: unknown;
  command: readonly string[];
  flags: ScheduleFlags;
  jobFlags: JobFlags;
}

export type ScheduleDocument = Record<string, unknown>;

/**
 * The schedule document of `POST /v1/schedules`: the file's (if any) with the flags laid over it
 * (scalars replace, `--cron`/`--rrule` replace either trigger, catch-up merges), the job from the file,
 * `--job-file` or the command, with the job flags laid over it as `jr submit` does.
 */
export function buildScheduleDocument(src: ScheduleSources): ScheduleDocument {
  if (src.file !== undefined && !isPlainObject(src.file))
    throw new UsageError('the schedule file must hold a mapping (name, cron or rrule, job, …) at the top level');
  const base: ScheduleDocument = src.file === undefined ? {} : { ...src.file };
  checkTrigger(src.flags, base);
  const doc = applyScheduleFlags(base, src.flags);
  if (doc.name === undefined)
    throw new UsageError('a schedule needs a name: jr schedule create NAME … (or name: in the schedule file)');
  return { ...doc, job: jobOf(base.job, src) };
}

/** Exactly one trigger: --cron or --rrule, or the file's when neither flag is given. */
function checkTrigger(flags: ScheduleFlags, file: ScheduleDocument): void {
  if (flags.cron !== undefined && flags.rrule !== undefined)
    throw new UsageError('give either --cron or --rrule, not both');
  const fromFile = file.cron !== undefined || file.rrule !== undefined;
  if (flags.cron === undefined && flags.rrule === undefined && !fromFile)
    throw new UsageError('a schedule needs --cron "EXPR" or --rrule "TEXT" (or cron:/rrule: in -f schedule.yaml)');
}

function applyScheduleFlags(doc: ScheduleDocument, flags: ScheduleFlags): ScheduleDocument {
  const out: ScheduleDocument = { ...doc };
  if (flags.name !== undefined) out.name = flags.name;
  if (flags.cron !== undefined) {
    delete out.rrule;
    out.cron = flags.cron;
  }
  if (flags.rrule !== undefined) {
    delete out.cron;
    out.rrule = flags.rrule;
  }
  if (flags.timezone !== undefined) out.timezone = flags.timezone;
  if (flags.overlap !== undefined) out.overlap = flags.overlap;
  if (flags.catchup !== undefined || flags.catchupWindow !== undefined) out.catchup = catchupOf(out.catchup, flags);
  if (flags.paused) out.paused = true;
  return out;
}

/** `catchup: {policy, window}`: the flags over the file's; a window alone needs a policy to apply to. */
function catchupOf(base: unknown, flags: ScheduleFlags): unknown {
  if (base !== undefined && !isPlainObject(base)) return base; // the API names the bad field
  const out: Record<string, unknown> = { ...(base ?? {}) };
  if (flags.catchup !== undefined) out.policy = flags.catchup;
  if (flags.catchupWindow !== undefined) out.window = flags.catchupWindow;
  if (out.policy === undefined)
    throw new UsageError('--catchup-window needs --catchup latest or all (the policy the window is for)');
  return out;
}

/** The job: from exactly one of the schedule file, --job-file and the command after `--`. */
function jobOf(fileJob: unknown, src: ScheduleSources): JobDocument {
  const given = [fileJob !== undefined, src.jobFile !== undefined, src.command.length > 0].filter(Boolean).length;
  if (given > 1)
    throw new UsageError('give the job once: in the schedule file (job:), with --job-file, or as a command after --');
  if (fileJob !== undefined) {
    if (!isPlainObject(fileJob)) throw new UsageError('job: in the schedule file must be a mapping (steps, pool, …)');
    return documentFromFile(fileJob, src.jobFlags);
  }
  if (src.jobFile !== undefined) return documentFromFile(src.jobFile, src.jobFlags);
  if (src.command.length === 0 && src.jobFlags.shell === undefined)
    throw new UsageError(
      'no job to run: give a command after --, --shell "string", --job-file job.yaml, or job: in -f',
    );
  return documentFromCommand(src.command, src.jobFlags);
}

/**
 * The document as the request body, once its job passes the contract's own check (issues named
 * `job.<path>` as the API names them) and it is within the API's body limit. The rest (cron, rrule,
 * time zone, exclusions) is the API's to judge: it answers with every problem by path.
 */
export function validateScheduleDocument(doc: ScheduleDocument): string {
  const parsed = parseJobSpec(doc.job);
  if (!parsed.ok) {
    const issues = parsed.issues.map((i) => `  ${i.path === '(root)' ? 'job' : `job.${i.path}`}: ${i.message}`);
    throw new UsageError("the schedule's job is not valid:", issues);
  }
  const body = JSON.stringify(doc);
  const bytes = Buffer.byteLength(body);
  if (bytes > LIMITS.maxBodyBytes)
    throw new UsageError(
      `the schedule is ${bytes} bytes as JSON; the API takes at most ${LIMITS.maxBodyBytes / 1024} KiB`,
    );
  return body;
}

/** A schedule name or id as an argument: 1-128 characters, no control characters. */
export function parseScheduleRef(value: string): string {
  // eslint-disable-next-line no-control-regex
  if ([...value].length < 1 || [...value].length > MAX_NAME_LENGTH || /[\x00-\x1f\x7f-\x9f]/.test(value))
    throw new InvalidArgumentError(`expected a schedule id or name (1 to ${MAX_NAME_LENGTH} printable characters).`);
  return value;
}

/** --catchup-window: a positive duration such as 6h or 2d (the API checks its range). */
export function parseCatchupWindow(value: string): string {
  const ms = parseDurationMs(value);
  if (ms === undefined || ms <= 0) throw new InvalidArgumentError('expected a duration such as 30m, 6h or 2d.');
  return value.trim();
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}
