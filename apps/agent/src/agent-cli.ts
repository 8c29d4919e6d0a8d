import * as path from 'node:path';
import { startTelemetry, type Telemetry } from '@jr/telemetry';
import { startAgent, type AgentHandle } from './agent';
import { formatConfigIssues, parseAgentConfig, type AgentConfig } from './config/agent-config';
import { runControlCommand } from './control/control-command';
import { runStatusCommand } from './control/status-command';
import { isAgentStopError } from './errors';
import { createLogger, flushLogger } from './logger';
import { AGENT_VERSION } from './version';

export type AgentSignal = 'SIGTERM' | 'SIGINT' | 'SIGQUIT' | 'SIGUSR2';

export interface CliIo {
  stdout?: { write(text: string): unknown };
  stderr: { write(line: string): unknown };
  /** Where signals come from (the process, or a test's emitter). */
  signals: {
    on(signal: AgentSignal, handler: () => void): unknown;
    off(signal: AgentSignal, handler: () => void): unknown;
  };
  /** False when the caller (a test) has started telemetry itself; default: the daemon starts it. */
  startTelemetry?: boolean;
}

const USAGE = `usage: jr-agent                       run the agent (configured by JR_* environment variables)
       jr-agent status [--json]       is the agent healthy? exit 0 healthy, 1 degraded, 69 no agent running
       jr-agent reporting enable      lift a reporting suspension (the breaker is open): the outbox drains
       jr-agent reporting status      breaker state, outbox depth and age, heartbeat counters
       jr-agent --version
Signals: SIGTERM/SIGINT stop gracefully (a second one cancels at once), SIGQUIT cancels at once,
SIGUSR2 does what \`jr-agent reporting enable\` does.
`;

/** EX_USAGE, as the CLI. */
const EXIT_USAGE = 64;

/**
 * `jr-agent [reporting enable|status]`. Without arguments: parse the environment (bad config: one
 * line, exit 2), start, run until a signal or a fatal error. Resolves with the exit code.
 */
export async function runAgentCli(env: NodeJS.ProcessEnv, io: CliIo, argv: string[] = []): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  if (argv.length === 0) return runDaemon(env, io);
  const [first, second, ...rest] = argv;
  if (first === '--help' || first === '-h' || first === 'help') return (stdout.write(USAGE), 0);
  if (first === '--version') return (stdout.write(`jr-agent ${AGENT_VERSION}\n`), 0);
  const dataDir = path.resolve(env.JR_DATA_DIR || './var/agent');
  if (first === 'status' && rest.length === 0 && (second === undefined || second === '--json')) {
    return runStatusCommand(dataDir, { json: second === '--json', stdout, stderr: io.stderr });
  }
  if (first === 'reporting' && (second === 'enable' || second === 'status') && rest.every((a) => a === '--json')) {
    return runControlCommand(dataDir, second, { json: rest.length > 0, stdout, stderr: io.stderr });
  }
  io.stderr.write(`jr-agent: unknown arguments: ${argv.join(' ')}\n${USAGE}`);
  return EXIT_USAGE;
}

async function runDaemon(env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  const parsed = parseAgentConfig(env);
  if (!parsed.ok) {
    io.stderr.write(`${formatConfigIssues(parsed.issues)}\n`);
    return 2;
  }
  // Tracing first (before anything could create a span), configured by the OTEL_* variables.
  const telemetry: Telemetry | undefined =
    io.startTelemetry === false
      ? undefined
      : startTelemetry({ serviceName: 'jr-agent', serviceVersion: AGENT_VERSION });
  try {
    return await runConfigured(parsed.config, io);
  } finally {
    await telemetry?.shutdown();
  }
}

async function runConfigured(config: AgentConfig, io: CliIo): Promise<number> {
  const logger = createLogger(config.logLevel);
  const starting = new AbortController();
  let handle: AgentHandle | undefined;
  let stops = 0;
  let enableWhenStarted = false;
  const onStop = (immediate: boolean) => (): void => {
    stops += 1;
    if (!handle) starting.abort(new Error('signal'));
    else void (stops === 1 && !immediate ? handle.stop() : handle.stopNow());
  };
  const handlers: Array<[AgentSignal, () => void]> = [
    ['SIGTERM', onStop(false)],
    ['SIGINT', onStop(false)],
    ['SIGQUIT', onStop(true)],
    ['SIGUSR2', () => (handle ? void handle.enableReporting('signal') : (enableWhenStarted = true))],
  ];
  for (const [signal, handler] of handlers) io.signals.on(signal, handler);
  try {
    handle = await startAgent(config, { logger, signal: starting.signal });
    if (enableWhenStarted) void handle.enableReporting('signal');
    const exit = await handle.done;
    if (exit.code !== 0) io.stderr.write(`jr-agent: ${exit.reason}\n`);
    return exit.code;
  } catch (err) {
    if (starting.signal.aborted && !isAgentStopError(err)) return 0;
    const message = err instanceof Error ? err.message : String(err);
    logger.error({ err }, message);
    io.stderr.write(`jr-agent: ${message}\n`);
    return isAgentStopError(err) ? err.exitCode : 1;
  } finally {
    for (const [signal, handler] of handlers) io.signals.off(signal, handler);
    await flushLogger(logger);
  }
}
