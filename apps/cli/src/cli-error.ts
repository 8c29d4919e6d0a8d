import { EXIT, type ExitCode } from './exit-codes';

/**
 * An expected failure: printed as `jr: <message>` (plus `details`, one per line) and turned into
 * `exitCode`, never a stack trace.
 */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
    readonly details: readonly string[] = [],
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export class UsageError extends CliError {
  constructor(message: string, details: readonly string[] = []) {
    super(EXIT.USAGE, message, details);
    this.name = 'UsageError';
  }
}

/** The API could not be reached at all (refused, reset, DNS, timeout). */
export class UnreachableError extends CliError {
  constructor(message: string) {
    super(EXIT.UNREACHABLE, message);
    this.name = 'UnreachableError';
  }
}

export interface ProblemLike {
  title?: string;
  detail?: string;
  errors?: Array<{ path: string; message: string }>;
}

/** The API answered with an error status. */
export class ApiError extends CliError {
  constructor(
    exitCode: ExitCode,
    message: string,
    readonly status: number,
    readonly problem: ProblemLike | undefined,
    details: readonly string[] = [],
  ) {
    super(exitCode, message, details);
    this.name = 'ApiError';
  }
}

export function isCliError(err: unknown): err is CliError {
  return err instanceof CliError;
}
