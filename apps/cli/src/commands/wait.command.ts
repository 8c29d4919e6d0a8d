import type { Command } from 'commander';
import type { Context, SetExit } from '../context';
import { waitForJob, type WaitOptions } from '../job-waiter';
import { parseDurationFlag, parseId } from '../options';
import { printJson } from '../output';
import { createProgress } from '../progress';

export function registerWait(program: Command, ctx: Context, setExit: SetExit): void {
  program
    .command('wait')
    .description('block until the job ends and exit with its outcome (0 succeeded, 1 failed, 2 cancelled, 3 timed out, 6 gave up after its attempts, 7 this wait timed out)')
    .argument('<id>', 'job id', parseId)
    .option('--timeout <duration>', 'stop waiting after this long (exit 7)', parseDurationFlag)
    .option('--json', 'print the final job as one JSON document')
    .action(async (id: string, opts: { timeout?: number; json?: boolean }) => {
      setExit(await runWait(ctx, id, { timeoutMs: opts.timeout }, opts.json ?? false));
    });
}

/** Shared by `jr wait` and `jr submit --wait`. */
export async function runWait(ctx: Context, id: string, options: WaitOptions, json: boolean): Promise<number> {
  const api = ctx.api();
  const progress = createProgress(ctx.io.stderr, id, () => ctx.clock.now());
  const result = await waitForJob(api, id, options, progress, ctx.clock);
  if (json && result.job) printJson(ctx.io, result.job);
  return result.code;
}
