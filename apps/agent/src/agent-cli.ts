import { startAgent, type AgentHandle } from './agent';
import { formatConfigIssues, parseAgentConfig } from './config/agent-config';
import { isAgentStopError } from './errors';
import { createLogger, flushLogger } from './logger';

export interface CliIo {
  stderr: { write(line: string): unknown };
  /** Where SIGTERM/SIGINT come from (the process, or a test's emitter). */
  signals: { on(signal: 'SIGTERM' | 'SIGINT', handler: () => void): unknown; off(signal: 'SIGTERM' | 'SIGINT', handler: () => void): unknown };
}

/**
 * `jr-agent`: parse the environment (bad config: one line, exit 2), start, run until a signal
 * (first: graceful stop, second: cancel at once) or a fatal error. Resolves with the exit code.
 */
export async function runAgentCli(env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  const parsed = parseAgentConfig(env);
  if (!parsed.ok) {
    io.stderr.write(`${formatConfigIssues(parsed.issues)}\n`);
    return 2;
  }
  const logger = createLogger(parsed.config.logLevel);
  const starting = new AbortController();
  let handle: AgentHandle | undefined;
  let signals = 0;
  const onSignal = (): void => {
    signals += 1;
    if (!handle) starting.abort(new Error('signal'));
    else void (signals === 1 ? handle.stop() : handle.stopNow());
  };
  io.signals.on('SIGTERM', onSignal);
  io.signals.on('SIGINT', onSignal);
  try {
    handle = await startAgent(parsed.config, { logger, signal: starting.signal });
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
    io.signals.off('SIGTERM', onSignal);
    io.signals.off('SIGINT', onSignal);
    await flushLogger(logger);
  }
}
