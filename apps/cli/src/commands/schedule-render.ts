import { formatDurationMs } from '@jr/contracts';
import type { JobAnswer } from '../api-schemas';
import { age, clean, formatTable, timestamp } from '../output';
import type { ScheduleAnswer } from '../schedules-api';

/** What a missed fire's reason means, for the reasons the contract names (others are shown as they came). */
const MISSED_REASONS: Record<string, string> = {
  downtime: 'downtime (the catch-up policy passed it over)',
  overlap: 'overlap (a job of the schedule was still running)',
};

/** `jr schedule list`: one row per schedule. */
export function renderSchedules(items: readonly ScheduleAnswer[], now: number): string {
  const rows = items.map((s) => [
    clean(s.name, 40),
    clean(s.id),
    clean(when(s), 40),
    clean(s.timezone, 40),
    s.nextFireAt ? `${relative(s.nextFireAt, now)} (${timestamp(s.nextFireAt)})` : '-',
    age(s.lastFireAt, now),
    s.paused ? 'paused' : 'active',
    String(s.activeJobs.length),
  ]);
  return formatTable(['NAME', 'ID', 'WHEN', 'TZ', 'NEXT', 'LAST', 'STATE', 'ACTIVE'], rows);
}

/** `jr schedule show`: every field, then the fire times, the missed ones, and the recent jobs. */
export function renderSchedule(s: ScheduleAnswer, recentJobs: readonly JobAnswer[], now: number): string {
  const fields: Array<[string, string]> = [
    ['name', clean(s.name, 200)],
    ['id', clean(s.id)],
    ['state', s.paused ? 'paused' : 'active'],
    [s.cron ? 'cron' : 'rrule', clean(oneLine(s.cron ?? s.rrule ?? '-'), 300)],
    ['timezone', clean(s.timezone)],
    ['exclusions', s.exclusions?.length ? clean(s.exclusions, 300) : 'none'],
    ['overlap', clean(s.overlap)],
    ['catch-up', s.catchup ? `${clean(s.catchup.policy)}, window ${clean(window(s.catchup.window))}` : '-'],
    ['dst', s.dst ? `repeated times: ${clean(s.dst.ambiguous)}, skipped times: ${clean(s.dst.gap)}` : '-'],
    ['job', jobSummary(s.job)],
    ['created', timestamp(s.createdAt)],
    ['updated', timestamp(s.updatedAt)],
    ['last fire', s.lastFireAt ? `${timestamp(s.lastFireAt)} (${age(s.lastFireAt, now)})` : 'never'],
    ['buffered', s.bufferedFireAt ? `${timestamp(s.bufferedFireAt)} (runs when the running job ends)` : 'none'],
    ['active jobs', s.activeJobs.length ? s.activeJobs.map((j) => clean(j)).join(', ') : 'none'],
  ];
  const head = fields.map(([k, v]) => `${`${k}:`.padEnd(13)}${v}`).join('\n') + '\n';
  return head + nextFires(s, now) + missedFires(s) + recent(recentJobs, now);
}

function nextFires(s: ScheduleAnswer, now: number): string {
  if (s.paused) return 'next fires: none while paused\n';
  if (s.nextFireTimes.length === 0) return 'next fires: none (the rule has no more)\n';
  return `next fires:\n${s.nextFireTimes.map((t) => `  ${timestamp(t)}  ${relative(t, now)}\n`).join('')}`;
}

function missedFires(s: ScheduleAnswer): string {
  const older = s.missedOmitted > 0 ? `  ${s.missedOmitted} older not listed\n` : '';
  if (s.missed.length === 0) return older ? `missed:\n${older}` : 'missed:     none\n';
  const rows = s.missed.map((m) => [timestamp(m.fireTime), clean(MISSED_REASONS[m.reason] ?? m.reason)]);
  return `missed:\n${indent(formatTable(['FIRE TIME', 'REASON'], rows))}${older}`;
}

function recent(jobs: readonly JobAnswer[], now: number): string {
  if (jobs.length === 0) return 'recent jobs: none yet\n';
  const rows = jobs.map((j) => [
    clean(j.id),
    clean(j.state),
    j.exitCode === null ? '-' : String(j.exitCode),
    timestamp(j.fireTime),
    age(j.createdAt, now),
  ]);
  return `recent jobs:\n${indent(formatTable(['ID', 'STATE', 'EXIT', 'FIRE TIME', 'CREATED'], rows))}`;
}

/** The rule, short: the cron expression, or the RRULE line of a recurrence without its `RRULE:`. */
function when(s: ScheduleAnswer): string {
  if (s.cron) return s.cron;
  if (!s.rrule) return '-';
  const lines = s.rrule.split(/\r?\n/).map((l) => l.trim());
  const rule = lines.find((l) => /^RRULE:/i.test(l)) ?? lines.find((l) => !/^DTSTART/i.test(l)) ?? lines[0] ?? '';
  return rule.replace(/^RRULE:/i, '');
}

/** `pool linux, 2 steps: make build …, secrets A, B`, from the job the API normalised (read defensively). */
function jobSummary(job: Record<string, unknown> | undefined): string {
  if (!job) return '-';
  const steps = Array.isArray(job.steps) ? (job.steps as unknown[]) : [];
  const first = steps[0] as { run?: unknown } | undefined;
  const run = Array.isArray(first?.run) ? first.run.map(String).join(' ') : first?.run;
  const parts = [
    `pool ${clean(job.pool)}`,
    `${steps.length} step${steps.length === 1 ? '' : 's'}${run === undefined ? '' : `: ${clean(run, 60)}`}`,
  ];
  if (typeof job.name === 'string' && job.name !== '') parts.unshift(clean(job.name, 60));
  if (Array.isArray(job.secrets) && job.secrets.length) parts.push(`secrets ${clean(job.secrets.join(', '), 100)}`);
  return parts.join(', ');
}

/** "in 3h0m0s" or "5m0s ago" from an ISO timestamp; "-" when unreadable. */
export function relative(iso: string, now: number): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '-';
  return t >= now ? `in ${formatDurationMs(t - now)}` : `${formatDurationMs(now - t)} ago`;
}

function window(value: string | number | undefined): string {
  if (value === undefined) return '-';
  return typeof value === 'number' ? formatDurationMs(value * 1_000) : value;
}

function oneLine(text: string): string {
  return text.replace(/\s*\r?\n\s*/g, ' ');
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => (l === '' ? l : `  ${l}`))
    .join('\n');
}
