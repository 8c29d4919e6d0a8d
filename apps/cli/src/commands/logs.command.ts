import { InvalidArgumentError, type Command } from 'commander';
import { isTerminal } from '@jr/contracts';
import type { TargetAnswer } from '../api-schemas';
import type { Context, SetExit } from '../context';
import { bodyChunks, unreachable } from '../api-client';
import { CliError, UsageError } from '../cli-error';
import { EXIT } from '../exit-codes';
import { FLEET_POLL_MS } from '../job-waiter';
import type { JobsApi } from '../jobs-api';
import { LogFollower } from '../log-follower';
import { parseId } from '../options';
import { clean, say, writeAll } from '../output';

interface LogsOptions {
  follow?: boolean;
  raw?: boolean;
  target?: string;
}

/** A target's run was just made: the API may take a moment to show it. */
const RUN_GRACE_MS = 30_000;

export function registerLogs(program: Command, ctx: Context, setExit: SetExit): void {
  program
    .command('logs')
    .description(
      "print the job's output, with a line '--- step N/M: NAME ---' where each step begins (--raw: the output only); with -f keep following it until the job ends; " +
        "of a fleet job, one target's run: --target NAME|AGENT_ID",
    )
    .argument('<id>', 'job id', parseId)
    .option('-f, --follow', 'stream new output until the job ends (reconnects if the stream drops)')
    .option('--raw', 'only the output, without the "--- step N/M: NAME ---" line before each step')
    .option(
      '--target <name|id>',
      "fleet job: the output of this target's run, by agent name or id (with -f: waits for it to start)",
      parseTargetRef,
    )
    .action(async (id: string, opts: LogsOptions) => {
      const runId = await runToShow(ctx, id, opts);
      if (runId !== undefined) await showLogs(ctx, runId, opts, runId !== id);
      setExit(EXIT.OK);
    });
}

function parseTargetRef(value: string): string {
  // eslint-disable-next-line no-control-regex
  if (value.trim() === '' || value.length > 200 || /[\x00-\x1f\x7f]/.test(value))
    throw new InvalidArgumentError('expected an agent name or id (a_…).');
  return value;
}

async function showLogs(ctx: Context, runId: string, opts: LogsOptions, justStarted: boolean): Promise<void> {
  const api = ctx.api();
  const markers = !opts.raw;
  if (!opts.follow) return printLogs(ctx, runId, markers);
  const options = { markers, notFoundGraceMs: justStarted ? RUN_GRACE_MS : 0 };
  await new LogFollower(api, ctx.io.stdout, (line) => say(ctx.io, line), ctx.clock, options).follow(runId);
}

/**
 * The job whose logs to show: `id` itself, or with --target the run of that target of fleet job `id`;
 * undefined when the target has no run (yet) and there is nothing to show.
 */
async function runToShow(ctx: Context, id: string, opts: LogsOptions): Promise<string | undefined> {
  const api = ctx.api();
  const job = await api.getJob(id);
  if (opts.target === undefined) {
    if (job.targets)
      throw new UsageError(`a fleet job has one log per target: --target NAME (jr status ${clean(id)} lists them)`);
    return id;
  }
  if (!job.targets)
    throw new UsageError(`job ${clean(id)} is not a fleet job: --target picks one target of a fleet job`);
  const target = await findTarget(api, id, opts.target);
  if (target.jobId !== null) return target.jobId;
  const what = `target ${clean(opts.target, 200)} has not started (state ${clean(target.state)})`;
  if (!opts.follow || isTerminal(job.state) || endedWithoutRun(target)) {
    say(ctx.io, what);
    return undefined;
  }
  say(ctx.io, `${what}; waiting for it to start`);
  return waitForRun(ctx, id, opts.target);
}

/** The target by agent id, else by name; a name two agents share must be given as an id. */
export async function findTarget(api: JobsApi, id: string, ref: string): Promise<TargetAnswer> {
  const targets = await api.allTargets(id);
  const byId = targets.find((t) => t.agentId === ref);
  if (byId) return byId;
  const named = targets.filter((t) => t.name === ref);
  if (named.length > 1)
    throw new UsageError(
      `${named.length} targets of job ${clean(id)} are named ${clean(ref, 200)}: give the agent id (${named
        .slice(0, 5)
        .map((t) => clean(t.agentId))
        .join(', ')}${named.length > 5 ? ', …' : ''})`,
    );
  const [only] = named;
  if (!only) throw new CliError(EXIT.UNKNOWN_ID, `no target ${clean(ref, 200)} in job ${clean(id)}`);
  return only;
}

function endedWithoutRun(target: TargetAnswer): boolean {
  return target.jobId === null && !['pending', 'running'].includes(target.state);
}

/**
 * Polls the fleet job until the target has a run; the targets are read again only when the fleet's
 * counts moved (a target that starts moves them), so a large fleet is not paged through every second.
 */
async function waitForRun(ctx: Context, id: string, ref: string): Promise<string | undefined> {
  const api = ctx.api();
  let seen = '';
  for (;;) {
    await ctx.clock.sleep(FLEET_POLL_MS);
    const job = await api.getJob(id);
    const now = JSON.stringify(job.targets ?? null);
    if (now === seen && !isTerminal(job.state)) continue;
    seen = now;
    const target = await findTarget(api, id, ref);
    if (target.jobId !== null) return target.jobId;
    if (endedWithoutRun(target) || isTerminal(job.state)) {
      say(ctx.io, `target ${clean(ref, 200)} ended without running (state ${clean(target.state)})`);
      return undefined;
    }
  }
}

/** The text as it came, byte for byte. */
async function printLogs(ctx: Context, id: string, markers: boolean): Promise<void> {
  const api = ctx.api();
  const response = await api.logs(id, markers);
  try {
    for await (const chunk of bodyChunks(response)) await writeAll(ctx.io.stdout, chunk);
  } catch (err) {
    throw unreachable(err, api.http.baseUrl, 'the connection dropped while reading the logs');
  }
}
