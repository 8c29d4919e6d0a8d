import { InvalidArgumentError } from 'commander';
import { isJobState, LIMITS, parseDurationMs, POOL_RE, type JobState } from '@jr/contracts';
import { tokenSchema } from './config-schemas';
import { parseApiUrls } from './endpoints';

export type Pair = readonly [key: string, value: string];

// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\x00-\x1f\x7f]/;
const ENV_KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `k=v` for --label: the key is required, the value may be empty; no control characters anywhere. */
export function parseLabel(value: string): Pair {
  const [key, val] = splitPair(value, 'label');
  if (CONTROL_RE.test(val)) throw new InvalidArgumentError('label values cannot contain control characters.');
  return [key, val];
}

/** `K=V` for --env: K is a shell-style name; V may hold anything but NUL (newlines are fine). */
export function parseEnv(value: string): Pair {
  const [key, val] = splitPair(value, 'env');
  if (!ENV_KEY_RE.test(key))
    throw new InvalidArgumentError('env names are letters, digits and _, not starting with a digit.');
  if (val.includes('\0')) throw new InvalidArgumentError('env values cannot contain NUL.');
  return [key, val];
}

function splitPair(value: string, what: string): [string, string] {
  const eq = value.indexOf('=');
  if (eq === -1) throw new InvalidArgumentError(`expected ${what === 'env' ? 'K=V' : 'k=v'}.`);
  const key = value.slice(0, eq);
  if (key === '') throw new InvalidArgumentError(`the ${what} name before '=' is empty.`);
  if (CONTROL_RE.test(key) || /\s/.test(key))
    throw new InvalidArgumentError(`${what} names cannot contain spaces or control characters.`);
  return [key, value.slice(eq + 1)];
}

/** Repeated pair options accumulate in order; a later key wins when the document is built. */
export function collect(parse: (v: string) => Pair) {
  return (value: string, previous: readonly Pair[] | undefined): Pair[] => [...(previous ?? []), parse(value)];
}

/** A positive duration (`90s`, `5m`, `1h`, `250ms` or seconds); returns it in milliseconds. */
export function parseDurationFlag(value: string): number {
  const ms = parseDurationMs(value);
  if (ms === undefined || ms <= 0 || ms > LIMITS.maxTimeoutMs) {
    throw new InvalidArgumentError('expected a duration such as 90s, 5m or 1h (at most 7d).');
  }
  return ms;
}

/** The job's --timeout: validated like any duration, sent as the user wrote it. */
export function parseTimeoutFlag(value: string): string {
  parseDurationFlag(value);
  return value.trim();
}

export function parseRetries(value: string): number {
  return parseIntInRange(value, 0, LIMITS.maxRetries);
}

export function parseLimit(value: string): number {
  return parseIntInRange(value, 1, 500);
}

function parseIntInRange(value: string, min: number, max: number): number {
  if (!/^\d{1,6}$/.test(value.trim())) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}.`);
  const n = Number(value.trim());
  if (n < min || n > max) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}.`);
  return n;
}

export function parseState(value: string): JobState {
  if (!isJobState(value))
    throw new InvalidArgumentError('expected one of queued, leased, running, succeeded, failed, cancelled, timed_out.');
  return value;
}

export function parsePool(value: string): string {
  if (!POOL_RE.test(value)) throw new InvalidArgumentError('pools are lowercase letters, digits, _ . - (at most 63).');
  return value;
}

/** Idempotency keys travel in a header: printable ASCII only, bounded. */
export function parseIdempotencyKey(value: string): string {
  if (!/^[\x21-\x7e]+$/.test(value) || value.length > LIMITS.maxIdempotencyKeyLength) {
    throw new InvalidArgumentError(
      `expected 1 to ${LIMITS.maxIdempotencyKeyLength} printable characters without spaces.`,
    );
  }
  return value;
}

/** Job and agent ids go into URL paths: refuse the empty, the huge and the unprintable early. */
export function parseId(value: string): string {
  if (!/^[\x21-\x7e]{1,128}$/.test(value)) throw new InvalidArgumentError('not an id.');
  return value;
}

/** A `nextCursor` from a previous page: opaque to us, but it travels in a query string. */
export function parseCursor(value: string): string {
  if (!/^[\x21-\x7e]{1,512}$/.test(value))
    throw new InvalidArgumentError('not a cursor (use the one a previous page printed after "more: --cursor").');
  return value;
}

/** --api-url: an http(s) URL, or a comma-separated list of them (primary first). */
export function parseApiUrl(value: string): string {
  const parsed = parseApiUrls(value);
  if (!parsed.ok)
    throw new InvalidArgumentError(`expected an http(s) URL or a comma-separated list of them: ${parsed.message}.`);
  return value;
}

/** --token: printable ASCII without spaces (it becomes a header); never echoed back. */
export function parseToken(value: string): string {
  const parsed = tokenSchema.safeParse(value);
  if (!parsed.success || parsed.data === undefined)
    throw new InvalidArgumentError('expected printable ASCII without spaces (at most 4096 characters).');
  return parsed.data;
}
