/**
 * Errors that mean "a dependency is unreachable or restarting" (retry later), as opposed to a bad
 * statement or bad data (retrying the same thing cannot help). Node socket codes, PostgreSQL SQLSTATE
 * classes 08 (connection), 57P (operator intervention: shutdown, crash), 53 (insufficient resources),
 * and the messages pg and ioredis use for a connection that went away.
 */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
const SQLSTATE_TRANSIENT = /^(08|57P|53)/;
const MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Connection is closed|connect ECONNREFUSED|Stream isn't writeable|Client has encountered a connection error|the database system is (starting up|shutting down|in recovery mode|not accepting connections)|is not currently accepting connections/i;

export function isDependencyDown(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (SOCKET_CODES.has(code) || SQLSTATE_TRANSIENT.test(code))) return true;
  return typeof message === 'string' && MESSAGES.test(message);
}
