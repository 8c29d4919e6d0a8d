import pino from 'pino';
import type { LoggerService } from '@nestjs/common';
import { LOG_REDACT, traceLogMixin } from '@jr/telemetry';
import type { LogLevel } from '../config/app-config';

export type Logger = pino.Logger;
export const LOGGER = Symbol('Logger');

/**
 * JSON lines on stdout (`fd` 2: on stderr, for a command whose stdout is its answer); credentials,
 * tokens and secrets redacted wherever they sit in a line (LOG_REDACT).
 */
export function createLogger(level: LogLevel, fd: 1 | 2 = 1): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'jr-api' },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin: traceLogMixin,
    redact: { paths: [...LOG_REDACT.paths], censor: LOG_REDACT.censor },
  };
  return fd === 1 ? pino(options) : pino(options, pino.destination({ fd: 2, sync: true }));
}

/** Routes Nest's own messages into the same JSON log (its chatty bootstrap lines at debug). */
export class NestPinoLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}
  log(message: unknown, context?: string): void {
    this.logger.debug({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string): void {
    this.logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string): void {
    this.logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string): void {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string): void {
    this.logger.trace({ context }, String(message));
  }
}
