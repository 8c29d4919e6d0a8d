import type { Command } from 'commander';
import type { Context, SetExit } from '../context';
import { bodyChunks, unreachable } from '../api-client';
import { EXIT } from '../exit-codes';
import { LogFollower } from '../log-follower';
import { parseId } from '../options';
import { say, writeAll } from '../output';

export function registerLogs(program: Command, ctx: Context, setExit: SetExit): void {
  program
    .command('logs')
    .description(
      "print the job's output, with a line '--- step N/M: NAME ---' where each step begins (--raw: the output only); with -f keep following it until the job ends",
    )
    .argument('<id>', 'job id', parseId)
    .option('-f, --follow', 'stream new output until the job ends (reconnects if the stream drops)')
    .option('--raw', 'only the output, without the "--- step N/M: NAME ---" line before each step')
    .action(async (id: string, opts: { follow?: boolean; raw?: boolean }) => {
      const api = ctx.api();
      const markers = !opts.raw;
      if (opts.follow)
        await new LogFollower(api, ctx.io.stdout, (line) => say(ctx.io, line), ctx.clock, { markers }).follow(id);
      else await printLogs(ctx, id, markers);
      setExit(EXIT.OK);
    });
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
