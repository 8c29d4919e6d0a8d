import type { Command } from 'commander';
import { formatDurationMs, isTerminal } from '@jr/contracts';
import type { AttemptAnswer, JobAnswer, StepAnswer, TargetAnswer } from '../api-schemas';
import type { Colors } from '../colors';
import type { Context, SetExit } from '../context';
import { EXIT } from '../exit-codes';
import { fleetFields, renderTargets, runFields } from '../fleet-render';
import { parseId } from '../options';
import { age, between, clean, formatLabels, formatTable, printJson, timestamp } from '../output';

export function registerStatus(program: Command, ctx: Context, setExit: SetExit): void {
  program
    .command('status')
    .description(
      "a job's state, steps, attempts, exit code and timings; of a fleet job its targets by state and a table of them (exit 4 if the id is unknown)",
    )
    .argument('<id>', 'job id', parseId)
    .option('--json', 'print the job as one JSON document (a fleet job with its targets as targetList)')
    .action(async (id: string, opts: { json?: boolean }) => {
      const api = ctx.api();
      const job = await api.getJob(id);
      // every page of a fleet job's targets (the table shows the first MAX_TARGET_ROWS, --json all of them)
      const targetList = job.targets ? (job.targets.total > 0 ? await api.allTargets(id) : []) : undefined;
      if (opts.json) printJson(ctx.io, targetList ? { ...job, targetList } : job);
      else ctx.io.stdout.write(renderJob(job, ctx.clock.now(), ctx.colors, targetList));
      setExit(EXIT.OK);
    });
}

const plain: Colors = { enabled: false, state: (text) => text };

/** `targets`: a fleet job's targets (all pages), shown as a table in place of steps and attempts. */
export function renderJob(
  job: JobAnswer,
  now: number,
  colors: Colors = plain,
  targets?: readonly TargetAnswer[],
): string {
  const fields: Array<[string, string]> = [
    ['id', clean(job.id)],
    ['name', clean(job.name)],
    ...runFields(job),
    ['state', colors.state(`${clean(job.state)}${job.reason ? ` (${clean(job.reason)})` : ''}`, job.state)],
  ];
  if (job.waiting) fields.push(['waiting', clean(job.waiting.message, 300)]);
  if (job.reason === 'lost')
    fields.push([
      'note',
      'its agent vanished mid-attempt: the command may or may not have run (at most once: not re-run)',
    ]);
  if (job.failedStep) fields.push(['failed at', failedStepText(job)]);
  fields.push(
    ['exit code', job.exitCode === null ? '-' : String(job.exitCode)],
    ['pool', clean(job.pool)],
    ['labels', clean(formatLabels(job.labels), 200)],
    ...(job.spec?.secrets?.length ? [['secrets', clean(job.spec.secrets.join(', '), 300)] as [string, string]] : []),
    ...signedRow(job),
    ...(job.spec?.atMostOnce ? [['runs', 'at most once (a lost attempt is not run again)'] as [string, string]] : []),
    ['created', `${timestamp(job.createdAt)} (${age(job.createdAt, now)})`],
    ['updated', `${timestamp(job.updatedAt)} (${age(job.updatedAt, now)})`],
  );
  if (job.startedAt) fields.push(['started', timestamp(job.startedAt)]);
  if (job.endedAt) fields.push(['ended', timestamp(job.endedAt)]);
  if (job.durationMs !== null && job.durationMs >= 0) {
    fields.push(['run time', `${formatDurationMs(job.durationMs)}${isTerminal(job.state) ? '' : ' so far'}`]);
  }
  if (job.targets) fields.push(...fleetFields(job.targets));
  const head = fields.map(([k, v]) => `${`${k}:`.padEnd(11)}${v}`).join('\n') + '\n';
  // a fleet job runs nothing itself: its runs (one per target) have the steps and attempts
  if (job.targets) return head + renderTargets(job.id, targets ?? [], colors);
  return head + renderSteps(job.steps, colors) + renderAttempts(job.attempts, colors);
}

/** `signed: key 1a2b3c4d5e6f7a8b, until …` for a signed job; nothing for an unsigned one. */
function signedRow(job: JobAnswer): Array<[string, string]> {
  const s = job.spec?.signature;
  return s ? [['signed', `key ${clean(s.keyId, 32)}, valid until ${timestamp(s.notAfter)}`]] : [];
}

/** `step 2 "test" (exit code 2)`: the step the latest attempt stopped at, numbered from 1 as in the steps table. */
function failedStepText(job: JobAnswer): string {
  const failed = job.failedStep;
  if (!failed) return '-';
  const step = job.steps.find((s) => s.index === failed.index);
  const how = step ? (step.exitCode !== null ? `exit code ${step.exitCode}` : clean(step.state)) : undefined;
  return `step ${failed.index + 1} ${JSON.stringify(clean(failed.name))}${how ? ` (${how})` : ''}`;
}

function renderSteps(steps: readonly StepAnswer[], colors: Colors): string {
  if (steps.length === 0) return '';
  const rows = steps.map((s) => [
    String(s.index + 1),
    clean(s.name, 40),
    clean(s.state),
    s.exitCode === null ? '-' : String(s.exitCode),
    duration(s.durationMs),
  ]);
  const paint = (row: number, col: number, text: string): string =>
    col === 2 ? colors.state(text, steps[row]?.state ?? '') : text;
  return `steps:\n${indent(formatTable(['#', 'NAME', 'STATE', 'EXIT', 'DURATION'], rows, paint))}`;
}

function renderAttempts(attempts: readonly AttemptAnswer[], colors: Colors): string {
  if (attempts.length === 0) return 'attempts:  none yet\n';
  const paint = (row: number, col: number, text: string): string =>
    col === 2 ? colors.state(text, attempts[row]?.state ?? '') : text;
  return `attempts:\n${indent(formatTable(['#', 'AGENT', 'STATE', 'EXIT', 'STARTED', 'ENDED', 'DURATION'], attempts.map(attemptRow), paint))}`;
}

function attemptRow(a: AttemptAnswer): string[] {
  const state = `${clean(a.state)}${a.reason ? ` (${clean(a.reason)})` : ''}`;
  return [
    String(a.n),
    clean(a.agentId),
    state,
    a.exitCode === null ? '-' : String(a.exitCode),
    timestamp(a.startedAt),
    timestamp(a.endedAt),
    between(a.startedAt, a.endedAt),
  ];
}

/** A duration in milliseconds from the API, or "-" when absent (or not a sane number). */
export function duration(ms: number | null): string {
  return ms === null || !Number.isFinite(ms) || ms < 0 ? '-' : formatDurationMs(ms);
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => (l === '' ? l : `  ${l}`))
    .join('\n');
}
