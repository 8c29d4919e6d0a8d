'use strict';
// The database and queue key prefix `npm run up` uses: its own on a machine whose Redis and Postgres
// other people and other checkouts share. Derived from the user and from the var directory (the
// checkout's ./var by default), which holds what belongs to them: the API's journal and the agent's
// credential. DATABASE_URL and JR_QUEUE_PREFIX, when given, win.
const crypto = require('node:crypto');
const os = require('node:os');

const DEFAULT_SERVER = 'postgres://postgres@127.0.0.1:5432/';

/** The login name, or $USER, or "user" (a container may have no passwd entry for its uid). */
function currentUser(env = process.env) {
  try {
    return os.userInfo().username;
  } catch {
    return env.USER || env.LOGNAME || 'user';
  }
}

/** `<user>_<hash>`: lowercase letters, digits and `_` (safe in both names), at most 31 characters. */
function upTag(user, varDir) {
  const hash = crypto.createHash('sha256').update(varDir).digest('hex').slice(0, 6);
  let who = String(user)
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 24);
  if (!who) who = `u${crypto.createHash('sha256').update(String(user)).digest('hex').slice(0, 8)}`;
  return `${who}_${hash}`;
}

/**
 * { databaseUrl, database, queuePrefix, chosen }: `chosen` says which of the two came from the
 * environment (DATABASE_URL, JR_QUEUE_PREFIX) rather than from this checkout's own names.
 */
function upNames({ env = process.env, user = currentUser(env), varDir }) {
  const tag = upTag(user, varDir);
  const chosen = { database: Boolean(env.DATABASE_URL), queuePrefix: Boolean(env.JR_QUEUE_PREFIX) };
  const url = new URL(env.DATABASE_URL || DEFAULT_SERVER);
  if (!chosen.database) url.pathname = `/jobrunner_up_${tag}`;
  const database = decodeURIComponent(url.pathname.slice(1)) || 'jobrunner';
  url.pathname = `/${encodeURIComponent(database)}`;
  const queuePrefix = env.JR_QUEUE_PREFIX || `jrup-${tag.replace(/_/g, '-')}`;
  return { databaseUrl: url.toString(), database, queuePrefix, chosen };
}

module.exports = { upNames, upTag, currentUser };
