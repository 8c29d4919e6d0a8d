/**
 * Errors that mean "a dependency is unreachable, restarting or cannot take writes right now" (retry
 * later, keep order), as opposed to bad data (retrying the same record cannot help). Node socket codes;
 * PostgreSQL SQLSTATE classes 08 (connection exception), 25 (invalid transaction state: 25006 is what a
 * hot standby or a read-only database answers to a write), 40 (transaction rollback: serialization
 * failure, deadlock), 53 (insufficient resources: disk full, too many connections), 57 (operator
 * intervention: shutdown, crash, cancel); and the messages pg and ioredis use for a connection that
 * went away. None of these is ever bad data.
 */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
const SQLSTATE_TRANSIENT = /^(08|25|40|53|57)[0-9A-Z]{3}$/;
const MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Connection is closed|connect ECONNREFUSED|Stream isn't writeable|Client has encountered a connection error|the database system is (starting up|shutting down|in recovery mode|not accepting connections)|is not currently accepting connections|cannot execute \w+ in a read-only transaction/i;
/** SQLSTATE classes 22 (data exception: bad text, encoding, out-of-range values) and 23 (integrity constraint violation). */
const SQLSTATE_BAD_DATA = /^(22|23)[0-9A-Z]{3}$/;

export function isDependencyDown(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (SOCKET_CODES.has(code) || SQLSTATE_TRANSIENT.test(code))) return true;
  return typeof message === 'string' && MESSAGES.test(message);
}

/** A hot standby (or a database set read-only) refused a write: 25006, read_only_sql_transaction. */
export function isReadOnlyServer(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '25006';
}

/**
 * Postgres refused the data itself (or the record was found malformed before it got there): the
 * same record will be refused again, so the relay quarantines it at once instead of retrying it.
 */
export function isBadData(err: unknown): boolean {
  if (typeof err !== 'object' || err === null || isDependencyDown(err)) return false;
  const { code, name } = err as { code?: unknown; name?: unknown };
  return (typeof code === 'string' && SQLSTATE_BAD_DATA.test(code)) || name === BadRecordError.name;
}

/** A journal record that decodes but cannot be applied as it stands (thrown by a relay's apply step). */
export class BadRecordError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadRecordError';
  }
}
