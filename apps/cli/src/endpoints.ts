import { z } from 'zod';
import { apiUrlSchema } from './config-schemas';

/** At most this many endpoints in one list (a typo such as a pasted file must not become thousands of tries). */
export const MAX_ENDPOINTS = 16;

/**
 * `JR_API_URL` / `--api-url` / a context's `apiUrl`: one http(s) URL or a comma-separated list of them,
 * primary first (the contract's "Replicas and failover"). Returns the normalised base URLs (path ending
 * in '/', no query or fragment), or the problem naming the bad entry.
 */
export function parseApiUrls(value: string): { ok: true; urls: URL[] } | { ok: false; message: string } {
  const entries = value.split(',').map((e) => e.trim());
  if (entries.length > MAX_ENDPOINTS)
    return { ok: false, message: `at most ${MAX_ENDPOINTS} URLs (got ${entries.length})` };
  const urls: URL[] = [];
  for (const [i, entry] of entries.entries()) {
    // a single value is not echoed (as before lists existed); a list's entry is, without any user:password@
    const which = entries.length > 1 ? `entry ${i + 1} ${JSON.stringify(redacted(entry))}: ` : '';
    if (entry === '') return { ok: false, message: `${which}empty (a stray comma?)` };
    if (!apiUrlSchema.safeParse(entry).success)
      return { ok: false, message: `${which}must be an http(s) URL, e.g. https://127.0.0.1:8080` };
    const url = baseUrl(entry);
    if (urls.some((u) => u.href === url.href)) return { ok: false, message: `${which}listed twice` };
    urls.push(url);
  }
  return { ok: true, urls };
}

function redacted(entry: string): string {
  return entry.replace(/^([^:/]*:\/\/)[^@/]*@/, '$1…@').slice(0, 200);
}

/** A string that parseApiUrls takes (flags, variables and the config file alike). */
export const apiUrlListSchema = z.string().superRefine((v, ctx) => {
  const parsed = parseApiUrls(v);
  if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.message });
});

/** The URL as a base for routes: its path ends in '/', query and fragment dropped. */
export function baseUrl(value: string): URL {
  const url = new URL(value);
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  url.search = '';
  url.hash = '';
  return url;
}

/**
 * Which endpoint of the list a request tries next. A run starts with the primary (the first); an
 * endpoint that failed is left for the next one in list order, and the one that answered last is where
 * the next request starts (a run does not go back to a dead primary for every request).
 */
export class EndpointSelector {
  private current = 0;

  constructor(readonly urls: readonly URL[]) {
    if (urls.length === 0) throw new RangeError('no API endpoints');
  }

  /** The endpoints in the order one round of tries visits them: the current one, then the rest in list order after it. */
  round(): number[] {
    return this.urls.map((_, i) => (this.current + i) % this.urls.length);
  }

  /** `index` answered: later requests start there. */
  answered(index: number): void {
    this.current = index;
  }

  url(index: number): URL {
    const url = this.urls[index];
    if (url === undefined) throw new RangeError(`no endpoint ${index}`);
    return url;
  }
}

/**
 * A request that failed before an answer may go to the next endpoint when it cannot have been applied
 * (the connection was refused or never made: nothing was sent) or when repeating it is harmless (a
 * read, or a submit with its Idempotency-Key: the API answers the same job). A timeout or a dropped
 * connection of any other write may have been applied, so it is not sent elsewhere.
 */
export function mayFailOver(failure: { notSent: boolean }, request: { idempotent: boolean }): boolean {
  return failure.notSent || request.idempotent;
}

/** OS error codes of a connection that was never established: the request was not sent. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
]);

export function notSentCode(code: string | undefined): boolean {
  return code !== undefined && NOT_SENT_CODES.has(code);
}
