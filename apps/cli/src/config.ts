import { z } from 'zod';
import { parseDurationMs } from '@jr/contracts';
import { UsageError } from './cli-error';

export interface CliConfig {
  /** Base URL of the API, always ending in '/'. */
  apiUrl: URL;
  /** Bearer token; undefined sends no Authorization header (the API then answers 401). */
  token: string | undefined;
  /** Deadline for one request (for a log stream: until its headers arrive). */
  requestTimeoutMs: number;
}

const blankToUndefined = (v: unknown): unknown => (typeof v === 'string' && v.trim() === '' ? undefined : v);

const TOKEN_RE = /^[\x21-\x7e]{1,4096}$/;
const token = z.preprocess(blankToUndefined, z.string().regex(TOKEN_RE, 'must be printable ASCII without spaces (at most 4096 characters)').optional());

const schema = z.object({
  JR_API_URL: z.preprocess(
    blankToUndefined,
    z.url({ protocol: /^https?$/, error: 'must be an http(s) URL, e.g. http://127.0.0.1:8080' }).default('http://127.0.0.1:8080'),
  ),
  JR_TOKEN: token,
  // The contract lists JR_ADMIN_TOKEN as used by the CLI too: it is the fallback when JR_TOKEN is unset.
  JR_ADMIN_TOKEN: token,
  JR_REQUEST_TIMEOUT: z.preprocess(
    blankToUndefined,
    z
      .string()
      .default('30s')
      .transform((v, ctx) => {
        const ms = parseDurationMs(v);
        if (ms === undefined || ms <= 0) {
          ctx.addIssue({ code: 'custom', message: 'must be a duration such as 30s or 2m' });
          return z.NEVER;
        }
        return ms;
      }),
  ),
});

/** Parses the CLI's environment once; a bad value is a usage error naming every bad variable. */
export function parseConfig(env: Record<string, string | undefined>): CliConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const bad = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new UsageError(`bad configuration: ${bad.join('; ')}`);
  }
  const c = parsed.data;
  const apiUrl = new URL(c.JR_API_URL);
  if (!apiUrl.pathname.endsWith('/')) apiUrl.pathname += '/';
  apiUrl.search = '';
  apiUrl.hash = '';
  return { apiUrl, token: c.JR_TOKEN ?? c.JR_ADMIN_TOKEN, requestTimeoutMs: c.JR_REQUEST_TIMEOUT };
}
