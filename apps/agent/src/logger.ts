import pino, { type Logger } from 'pino';
import type { LogLevel } from './config/agent-config';

/**
 * JSON lines on stdout. The destination is asynchronous: a slow stdout must never block the
 * heartbeat's event loop. Call `flushLogger` before exiting.
 */
export function createLogger(level: LogLevel): Logger {
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 1, sync: false }));
}

export function flushLogger(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    try {
      logger.flush(() => resolve());
    } catch {
      resolve();
    }
  });
}
