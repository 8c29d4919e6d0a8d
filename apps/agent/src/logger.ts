import { LOG_REDACT, traceLogMixin } from '@jr/telemetry';
import pino, { type Logger } from 'pino';
import type { LogLevel } from './config/agent-config';

/**
 * JSON lines on stdout, each with the trace_id/span_id of the active span (an attempt's lines share
 * its job's trace id). The destination is asynchronous: a slow stdout must never block the
 * heartbeat's event loop. Call `flushLogger` before exiting. Credentials, tokens and secrets are
 * redacted wherever they sit in a line (LOG_REDACT).
 */
export function createLogger(level: LogLevel): Logger {
  const options = {
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin: traceLogMixin,
    redact: { paths: [...LOG_REDACT.paths], censor: LOG_REDACT.censor },
  };
  return pino(options, pino.destination({ dest: 1, sync: false }));
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
