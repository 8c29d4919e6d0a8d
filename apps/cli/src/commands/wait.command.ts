import type { Command } from 'commander';
import type { JobAnswer } from '../api-schemas';
import { isCliError } from '../cli-error';
import type { Context, SetExit } from '../context';
import { EXIT } from '../exit-codes';
import { waitForJob, type WaitOptions } from '../job-waiter';
import { LogFollower } from '../log-follower';
import { parseDurationFlag, parseId } from '../options';
import { clean, printJson, say } from '../output';
import { createProgress, silentProgress, type Progress } from '../progress';

export interface WaitMode {
  /** One JSON document on stdout (the final job), no output. */
  json: boolean;
  /** Nothing but errors. */
  quiet: boolean;
  /** Known to be a fleet job (submitted with targets): no output to follow, even before the API shows its targets. */
  fleet?: boolean;
}

export function registerWait(program: Command, ctx: Context, setExit: SetExit): void {
  program
    .command('wait')
    .description(
      'block until the job ends, printing its output (stdout) and then its outcome (stderr); exit with the outcome ' +
        '(a fleet job: no output, its progress on a TTY: done/total, failures, batch) ' +
        '(0 succeeded, 1 failed, 2 cancelled, 3 timed out, 6 gave up after its attempts, 7 this wait timed out, 130 Ctrl-C: the job goes on)',
    )
    .argument('<id>', 'job id', parseId)
    .option('--timeout <duration>', 'stop waiting after this long (exit 7)', parseDurationFlag)
    .option('--json', 'print the final job as one JSON document (and not the output)')
    .option('-q, --quiet', 'wait silently: no output, no progress, only the exit code')
    .action(async (id: string, opts: { timeout?: number; json?: boolean; quiet?: boolean }) => {
      setExit(
        await runWait(ctx, id, { timeoutMs: opts.timeout }, { json: opts.json ?? false, quiet: opts.quiet ?? false }),
      );
    });
}

/**
 * Shared by `jr wait`, `jr submit --wait` and `jr retry --wait`: the job's output as it runs, then its outcome.
 * A fleet job has no output of its own (each target's run has its own: jr logs ID --target NAME): only progress.
 */
export async function runWait(ctx: Context, id: string, options: WaitOptions, mode: WaitMode): Promise<number> {
  const api = ctx.api();
  const progress = mode.quiet ? silentProgress : createProgress(ctx.io.stderr, id, () => ctx.clock.now());
  const stopOutput = new AbortController();
  let printing = Promise.resolve();
  const onVisible = (job: JobAnswer): void => {
    if (!mode.json && !mode.quiet && !mode.fleet && !job.targets)
      printing = printOutput(ctx, id, options, progress, stopOutput.signal);
  };
  let unsubscribe = (): void => undefined;
  const interrupted = new Promise<'interrupted'>((resolve) => {
    if (ctx.io.onInterrupt) unsubscribe = ctx.io.onInterrupt(() => resolve('interrupted'));
  });
  try {
    const result = await Promise.race([
      waitForJob(api, id, { ...options, onVisible, settle: () => printing }, progress, ctx.clock),
      interrupted,
    ]);
    stopOutput.abort();
    if (result === 'interrupted') return stoppedWaiting(ctx, id, progress);
    if (mode.json && result.job) printJson(ctx.io, result.job);
    return result.code;
  } finally {
    stopOutput.abort();
    unsubscribe();
  }
}

/** The steps' output (raw, no markers), in order and once each; a failure to show it does not end the wait. */
async function printOutput(
  ctx: Context,
  id: string,
  options: WaitOptions,
  progress: Progress,
  signal: AbortSignal,
): Promise<void> {
  const notify = (line: string): void => progress.note(line);
  const follower = new LogFollower(ctx.api(), progress.beside(ctx.io.stdout), notify, ctx.clock, {
    markers: false,
    announceEnd: false,
    signal,
    notFoundGraceMs: options.notFoundGraceMs ?? 0,
  });
  await follower.follow(id).catch((err: unknown) => {
    if (!signal.aborted) progress.note(`cannot show the job's output: ${isCliError(err) ? err.message : String(err)}`);
  });
}

function stoppedWaiting(ctx: Context, id: string, progress: Progress): number {
  progress.stop();
  say(ctx.io, `stopped waiting; job ${clean(id)} goes on (jr cancel ${clean(id)} stops it)`);
  return EXIT.INTERRUPTED;
}
