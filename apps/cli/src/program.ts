import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { registerAgents } from './commands/agents.command';
import { registerAudit } from './commands/audit.command';
import { registerCancel } from './commands/cancel.command';
import { registerCompletion } from './commands/completion.command';
import { addEnrollTokenCommands } from './commands/enroll-tokens.command';
import { parseContextName, registerConfig } from './commands/config.command';
import { registerKeys } from './commands/keys.command';
import { registerList } from './commands/list.command';
import { registerLogs } from './commands/logs.command';
import { registerRetry } from './commands/retry.command';
import { registerSchedule } from './commands/schedule.command';
import { registerIncidents, registerSlo } from './commands/slo.command';
import { registerStatus } from './commands/status.command';
import { registerSubmit } from './commands/submit.command';
import { registerTokens } from './commands/tokens.command';
import { registerWait } from './commands/wait.command';
import { isCliError } from './cli-error';
import { createContext, type Context, type SetExit } from './context';
import { EXIT } from './exit-codes';
import { addExamples } from './examples';
import { parseApiUrl, parseToken } from './options';
import type { Io } from './output';
import { realClock, type Clock } from './timing';

/** The `jr` program for one invocation (commander keeps state: build a fresh one per run). */
export function buildProgram(ctx: Context, setExit: SetExit): Command {
  const program = new Command('jr')
    .description('jobrunner CLI: submit jobs, follow them, manage agents')
    .version(version(), '-V, --version')
    .enablePositionalOptions()
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.io.stdout.write(s),
      writeErr: (s) => ctx.io.stderr.write(s),
      outputError: (s, write) => write(printable(s)),
    })
    .configureHelp({ showGlobalOptions: true })
    .addHelpText(
      'after',
      '\nEnvironment: JR_API_URL (default http://127.0.0.1:8080), JR_TOKEN (or JR_ADMIN_TOKEN), JR_REQUEST_TIMEOUT (30s),\n' +
        'JR_CONFIG (config file; default $XDG_CONFIG_HOME/jr/config.yaml or ~/.config/jr/config.yaml), NO_COLOR, FORCE_COLOR,\n' +
        'JR_JOB_SIGNING_KEY (Ed25519 key file: jr submit signs jobs).\n' +
        'Precedence: --api-url/--token > --context NAME > JR_API_URL/JR_TOKEN > the current context > defaults.\n' +
        'Exit codes: 0 ok, 1 failed, 2 cancelled, 3 timed out, 4 unknown id, 5 already ended, 6 gave up,\n' +
        '7 wait timed out, 64 usage, 69 API unreachable, 70 unusable API answer, 77 auth refused.',
    );
  registerSubmit(program, ctx, setExit);
  registerStatus(program, ctx, setExit);
  registerList(program, ctx, setExit);
  registerLogs(program, ctx, setExit);
  registerWait(program, ctx, setExit);
  registerRetry(program, ctx, setExit);
  registerCancel(program, ctx, setExit);
  registerAgents(program, ctx, setExit);
  registerSchedule(program, ctx, setExit);
  addEnrollTokenCommands(registerTokens(program, ctx, setExit), ctx, setExit);
  registerAudit(program, ctx, setExit);
  registerSlo(program, ctx, setExit);
  registerIncidents(program, ctx, setExit);
  registerConfig(program, ctx, setExit);
  registerKeys(program, ctx, setExit);
  registerCompletion(program, ctx, setExit);
  addConnectionOptions(program, ctx);
  addExamples(program);
  return program;
}

/**
 * `--api-url`, `--token` and `--context` for every command: shown once under "Global Options", accepted
 * before or after the command name (kubectl-style), the later one winning.
 */
function addConnectionOptions(program: Command, ctx: Context): void {
  const options = (): Option[] => [
    new Option('--api-url <url>', 'the API to talk to (beats JR_API_URL and the context)').argParser(parseApiUrl),
    new Option(
      '--token <token>',
      'API token (beats JR_TOKEN and the context; other users can see it in ps: prefer JR_TOKEN or a tokenFile)',
    ).argParser(parseToken),
    new Option('--context <name>', 'use this context of the config file (jr config get-contexts)').argParser(
      parseContextName,
    ),
  ];
  for (const o of options()) program.addOption(o);
  const visit = (cmd: Command): void => {
    for (const o of options()) if (!cmd.options.some((known) => known.long === o.long)) cmd.addOption(o.hideHelp());
    cmd.commands.forEach(visit);
  };
  program.commands.forEach(visit);
  program.hook('preAction', (_program, action) => {
    const o = action.optsWithGlobals<{ apiUrl?: string; token?: string; context?: string }>();
    ctx.flags = { apiUrl: o.apiUrl, token: o.token, context: o.context };
  });
}

/** Runs `jr` with `argv` (without node and script) and resolves to its exit code. Never throws. */
export async function run(argv: readonly string[], io: Io, clock: Clock = realClock): Promise<number> {
  let code: number = EXIT.OK;
  const ctx = createContext(io, clock);
  try {
    await buildProgram(ctx, (c) => (code = c)).parseAsync([...argv], { from: 'user' });
    return code;
  } catch (err) {
    return report(err, io);
  }
}

function report(err: unknown, io: Io): number {
  if (err instanceof CommanderError) {
    // commander has printed its message (or the help/version) already
    return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
  }
  if (isCliError(err)) {
    io.stderr.write(`jr: ${printable(err.message)}\n`);
    for (const line of err.details) io.stderr.write(`${printable(line)}\n`);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  io.stderr.write(`jr: internal error: ${printable(message)}\n`);
  return EXIT.BAD_ANSWER;
}

/** Messages echo user input; keep control characters (but newlines) off the terminal. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x09\x0b-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}
