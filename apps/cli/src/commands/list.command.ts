import type { Command } from 'commander';
import type { JobState } from '@jr/contracts';
import type { Context, SetExit } from '../context';
import { EXIT } from '../exit-codes';
import { parseLimit, parsePool, parseState } from '../options';
import { age, clean, formatTable, printJson } from '../output';

interface ListOptions {
  state?: JobState;
  pool?: string;
  limit?: number;
  json?: boolean;
}

export function registerList(program: Command, ctx: Context, setExit: SetExit): void {
  program
    .command('list')
    .description('recent jobs, newest first')
    .option('--state <state>', 'only jobs in this state', parseState)
    .option('--pool <pool>', 'only jobs of this pool', parsePool)
    .option('--limit <n>', 'at most this many (1-500)', parseLimit)
    .option('--json', 'print the page as one JSON document')
    .action(async (opts: ListOptions) => {
      const page = await ctx.api().listJobs({ state: opts.state, pool: opts.pool, limit: opts.limit });
      if (opts.json) {
        printJson(ctx.io, page);
      } else if (page.items.length === 0) {
        ctx.io.stderr.write('no jobs\n');
      } else {
        const now = ctx.clock.now();
        const rows = page.items.map((j) => [clean(j.id), clean(j.name, 40), clean(j.state), clean(j.pool), age(j.createdAt, now)]);
        ctx.io.stdout.write(formatTable(['ID', 'NAME', 'STATE', 'POOL', 'AGE'], rows));
      }
      setExit(EXIT.OK);
    });
}
