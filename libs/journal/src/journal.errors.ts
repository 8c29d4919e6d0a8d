/**
 * Journal errors carry a stable `code` (classify by `code`/`name`, not only `instanceof`: errors cross
 * process and module boundaries) and a `retryable` flag for the edges that map them.
 */

/** The journal cannot take this append: `maxTotalBytes` reached, or the disk said ENOSPC/EDQUOT. */
export class JournalFullError extends Error {
  readonly code = 'JOURNAL_FULL';
  readonly retryable = true;
  constructor(message = 'journal full', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'JournalFullError';
  }
}

/** The on-disk log is damaged in a way recovery must not paper over. Names the file and byte offset. */
export class JournalCorruptError extends Error {
  readonly code = 'JOURNAL_CORRUPT';
  readonly retryable = false;
  constructor(
    readonly file: string,
    readonly offset: number,
    reason: string,
  ) {
    super(`journal corrupt: ${file} at offset ${offset}: ${reason}`);
    this.name = 'JournalCorruptError';
  }
}

/** The journal was closed (or is closing); nothing more is accepted. */
export class JournalClosedError extends Error {
  readonly code = 'JOURNAL_CLOSED';
  readonly retryable = false;
  constructor(message = 'journal closed') {
    super(message);
    this.name = 'JournalClosedError';
  }
}

/**
 * Addition to the interface: the journal could not restore a consistent file after a failed write (the
 * truncation back to the batch start failed too). Every later append rejects with this until the
 * journal is closed and reopened, which runs recovery again.
 */
export class JournalFailedError extends Error {
  readonly code = 'JOURNAL_FAILED';
  readonly retryable = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'JournalFailedError';
  }
}

const NO_SPACE_CODES = new Set(['ENOSPC', 'EDQUOT']);

/** True for "the disk (or quota) is full" errors from node:fs. */
export function isNoSpaceError(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && NO_SPACE_CODES.has(code);
}

/** What an append learns when its batch failed: ENOSPC/EDQUOT become JournalFullError, the rest pass through. */
export function toAppendError(err: unknown): Error {
  if (isNoSpaceError(err)) return new JournalFullError(`journal full: ${describe(err)}`, { cause: err });
  return isErrorLike(err) ? err : new Error(describe(err));
}

/** Errors from another realm (node internals seen from a vm context) fail `instanceof Error`. */
function isErrorLike(err: unknown): err is Error {
  return (
    err instanceof Error ||
    (typeof err === 'object' && err !== null && typeof (err as { message?: unknown }).message === 'string')
  );
}

function describe(err: unknown): string {
  return isErrorLike(err) ? err.message : String(err);
}
