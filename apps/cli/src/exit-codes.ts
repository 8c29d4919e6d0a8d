import type { JobReason, JobState } from '@jr/contracts';

/**
 * The exit codes of the contract's CLI table. Scripts branch on these numbers: never change one.
 * 70 is our addition (sysexits EX_SOFTWARE) for an API answer we cannot use (5xx, malformed body),
 * so that such a failure is never mistaken for "the job failed" (1).
 */
export const EXIT = {
  OK: 0,
  FAILED: 1,
  CANCELLED: 2,
  TIMED_OUT: 3,
  UNKNOWN_ID: 4,
  ALREADY_TERMINAL: 5,
  GAVE_UP: 6,
  WAIT_TIMED_OUT: 7,
  USAGE: 64,
  UNREACHABLE: 69,
  BAD_ANSWER: 70,
  AUTH_REFUSED: 77,
  /** Ctrl-C during a wait (128 + SIGINT, as shells report it); the job goes on. */
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * The outcome code of a job (for `--wait` and `jr wait`), or undefined while it is not terminal. `reason` may be
 * one a newer API added: only `attempts_exhausted` changes the code, any other failed reason is 1.
 */
export function exitCodeForJob(state: JobState, reason: JobReason | (string & {}) | null): ExitCode | undefined {
  switch (state) {
    case 'succeeded':
      return EXIT.OK;
    case 'failed':
      return reason === 'attempts_exhausted' ? EXIT.GAVE_UP : EXIT.FAILED;
    case 'cancelled':
      return EXIT.CANCELLED;
    case 'timed_out':
      return EXIT.TIMED_OUT;
    case 'queued':
    case 'leased':
    case 'running':
      return undefined;
  }
}

/** The default meaning of an HTTP error status; commands may narrow it (e.g. 409 on submit). */
export function exitCodeForStatus(status: number): ExitCode {
  if (status === 401 || status === 403) return EXIT.AUTH_REFUSED;
  if (status === 404) return EXIT.UNKNOWN_ID;
  if (status === 409) return EXIT.ALREADY_TERMINAL;
  if (status === 429 || status === 502 || status === 503 || status === 504) return EXIT.UNREACHABLE;
  if (status >= 400 && status < 500) return EXIT.USAGE;
  return EXIT.BAD_ANSWER;
}

/** Statuses worth asking again: the server said "later" or a proxy could not reach it. */
export function isTransientStatus(status: number): boolean {
  return status === 429 || status === 500 || status === 502 || status === 503 || status === 504;
}
