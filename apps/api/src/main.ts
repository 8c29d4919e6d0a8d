import { Command, CommanderError } from 'commander';
import { journalReplay } from './replay/replay-command';
import { REPLAY_EXIT } from './replay/replay-report';
import { serve } from './serve';
import { API_VERSION } from './version';

/**
 * `jr-api` (apps/api/bin/jr-api.js): without a command it is the server, configured by the environment
 * alone, exactly as before commands existed; `jr-api journal replay --data-dir DIR` applies a data
 * directory's journals (a dead replica's volume) to PostgreSQL. `jr-api --help` lists the commands.
 */
function program(): Command {
  const root = new Command('jr-api')
    .description('jobrunner API: the REST + gRPC server (no command, configured by JR_* variables), and its tools')
    .version(API_VERSION, '-V, --version')
    .exitOverride()
    .configureOutput({ outputError: (s, write) => write(`jr-api: ${s.replace(/^error: /, '')}`) })
    .addHelpText(
      'after',
      '\nWithout a command: the server (every JR_* variable: docs/contract.md).\n' +
        "  jr-api journal replay --data-dir DIR [--json]   apply a stopped replica's journals to PostgreSQL",
    )
    .action(() => serve());
  const journal = root.command('journal').description("a data directory's journals");
  journal
    .command('replay')
    .description(
      "apply a stopped replica's journals (DIR/intake, DIR/results) to the PostgreSQL of DATABASE_URL and queue " +
        'its jobs in REDIS_URL/JR_QUEUE_PREFIX; refused while a live process holds DIR',
    )
    .requiredOption('--data-dir <dir>', "the replica's JR_DATA_DIR (its volume, mounted here)")
    .option('--json', 'print the summary as one JSON document')
    .addHelpText(
      'after',
      '\nExit codes: 0 replayed, 1 failed, 2 bad configuration, 64 usage (bad argument, DIR not a jr-api data dir),\n' +
        '65 a journal is damaged, 69 PostgreSQL unreachable (nothing lost: run it again), 75 DIR in use by a live process.',
    )
    .action(async (o: { dataDir: string; json?: boolean }) => {
      const code = await journalReplay({ dataDir: o.dataDir, json: o.json === true }, process.env, process);
      process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
    });
  return root;
}

program()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : REPLAY_EXIT.USAGE);
    process.stderr.write(`jr-api: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
