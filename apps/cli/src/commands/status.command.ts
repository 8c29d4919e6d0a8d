import type { Command } from 'commander';
import type { AttemptAnswer, JobAnswer } from '../api-schemas';
import type { Context, SetExit } from '../context';
import { EXIT } from '../exit-codes';
import { parseId } from '../options';
import { age, between, clean, formatLabels, formatTable, printJson, timestamp } from '../output';

export function registerStatus(program: Command, ctx: Context, setExit: SetExit): void {
  program
    .command('status')
    .description("a job's state, attempts, exit code and timings (exit 4 if the id is unknown)")
    .argument('<id>', 'job id', parseId)
    .option('--json', 'print the job as one JSON document')
    .action(async (id: string, opts: { json?: boolean }) => {
      const job = await ctx.api().getJob(id);
      if (opts.json) printJson(ctx.io, job);
      else ctx.io.stdout.write(renderJob(job, ctx.clock.now()));
      setExit(EXIT.OK);
    });
}

export function renderJob(job: JobAnswer, now: number): string {
  const ended = job.state === 'succeeded' || job.state === 'failed' || job.state === 'cancelled' || job.state === 'timed_out';
  const fields: Array<[string, string]> = [
    ['id', clean(job.id)],
    ['name', clean(job.name)],
    ['state', `${clean(job.state)}${job.reason ? ` (${clean(job.reason)})` : ''}`],
    ['exit code', job.exitCode === null ? '-' : String(job.exitCode)],
    ['pool', clean(job.pool)],
    ['labels', clean(formatLabels(job.labels), 200)],
    ['created', `${timestamp(job.createdAt)} (${age(job.createdAt, now)})`],
    ['updated', `${timestamp(job.updatedAt)} (${age(job.updatedAt, now)})`],
  ];
  if (ended) fields.push(['took', between(job.createdAt, job.updatedAt)]);
  const head = fields.map(([k, v]) => `${`${k}:`.padEnd(11)}${v}`).join('\n') + '\n';
  if (job.attempts.length === 0) return `${head}attempts:  none yet\n`;
  return `${head}attempts:\n${indent(formatTable(['#', 'AGENT', 'STATE', 'EXIT', 'STARTED', 'ENDED', 'DURATION'], job.attempts.map(attemptRow)))}`;
}

function attemptRow(a: AttemptAnswer): string[] {
  const state = `${clean(a.state)}${a.reason ? ` (${clean(a.reason)})` : ''}`;
  return [String(a.n), clean(a.agentId), state, a.exitCode === null ? '-' : String(a.exitCode), timestamp(a.startedAt), timestamp(a.endedAt), between(a.startedAt, a.endedAt)];
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => (l === '' ? l : `  ${l}`))
    .join('\n');
}
