import type { Command } from 'commander';
import type { Context, SetExit } from '../context';
import { EXIT } from '../exit-codes';
import { parseId } from '../options';
import { clean, say } from '../output';

export function registerCancel(program: Command, ctx: Context, setExit: SetExit): void {
  program
    .command('cancel')
    .description('cancel a queued or running job (exit 4 unknown id, 5 already ended)')
    .argument('<id>', 'job id', parseId)
    .action(async (id: string) => {
      const { state } = await ctx.api().cancel(id);
      say(ctx.io, `cancel requested for ${clean(id)}${state ? ` (now ${clean(state)})` : ''}`);
      setExit(EXIT.OK);
    });
}
