import * as path from 'node:path';
import { z } from 'zod';
import { parseFingerprint } from '@jr/pki';
import { parseDurationMs } from '@jr/contracts';
import { UsageError } from './cli-error';
import { blankToUndefined, tokenSchema } from './config-schemas';
import { apiUrlListSchema, baseUrl, parseApiUrls } from './endpoints';

export interface CliConfig {
  /** Base URL of the API (the primary: the first of `apiUrls`), always ending in '/'. */
  apiUrl: URL;
  /** Every endpoint of the API, primary first (JR_API_URL etc. may be a comma-separated list). */
  apiUrls: URL[];
  /** Bearer token; undefined sends no Authorization header (the API then answers 401). */
  token: string | undefined;
  /** Deadline for one request (for a log stream: until its headers arrive). */
  requestTimeoutMs: number;
  /** PEM bundle of CAs to trust for the API (JR_CA_FILE or the context's caFile; absolute). */
  caFile?: string;
  /** JR_API_CA_SHA256 (`sha256:<hex>`): trust the CA with this fingerprint that the API presents. */
  caPin?: string;
  /** JR_INSECURE=1: plain-text http is the default URL (with a warning). */
  insecure: boolean;
}

/** The global flags `--api-url`, `--token` and `--context`. */
export interface ConnectionFlags {
  apiUrl?: string;
  token?: string;
  context?: string;
}

/** A context of the config file, its token file already read and its paths absolute. */
export interface ContextSettings {
  name: string;
  /** Chosen with --context (beats the environment) rather than the file's currentContext (loses to it). */
  explicit: boolean;
  apiUrl?: string;
  token?: string;
  caFile?: string;
}

const DEFAULT_API_URL = 'https://127.0.0.1:8080';
const INSECURE_API_URL = 'http://127.0.0.1:8080';

const envSchema = z.object({
  JR_API_URL: z.preprocess(blankToUndefined, apiUrlListSchema.optional()),
  JR_TOKEN: tokenSchema,
  // The contract lists JR_ADMIN_TOKEN as used by the CLI too: it is the fallback when JR_TOKEN is unset.
  JR_ADMIN_TOKEN: tokenSchema,
  JR_CA_FILE: z.preprocess(blankToUndefined, z.string().max(4096).optional()),
  JR_API_CA_SHA256: z.preprocess(
    blankToUndefined,
    z
      .string()
      .max(256)
      .optional()
      .transform((v, ctx) => {
        if (v === undefined) return undefined;
        const pin = parseFingerprint(v);
        if (!pin)
          ctx.addIssue({
            code: 'custom',
            message: 'must be a SHA-256 fingerprint: sha256:<64 hex digits> (or AB:CD:… as openssl prints it)',
          });
        return pin;
      }),
  ),
  JR_INSECURE: z.preprocess(
    blankToUndefined,
    z
      .enum(['0', '1', 'true', 'false'], { error: 'must be 1 or 0' })
      .optional()
      .transform((v) => v === '1' || v === 'true'),
  ),
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

/** JR_JOB_SIGNING_KEY: a key file's path or the PEM itself (job-signing.ts reads and checks the key). */
export const signingEnvSchema = z.object({
  JR_JOB_SIGNING_KEY: z.preprocess(
    blankToUndefined,
    z
      .string()
      .trim()
      .max(64 * 1024)
      .optional(),
  ),
});

const flagSchema = z.object({
  '--api-url': z.preprocess(blankToUndefined, apiUrlListSchema.optional()),
  '--token': tokenSchema,
});

/**
 * The connection settings, each from the first source that has it:
 * `--api-url`/`--token` > `--context NAME` > JR_API_URL/JR_TOKEN (JR_ADMIN_TOKEN) > the file's currentContext > defaults.
 * A bad value is a usage error naming every bad variable or flag (never echoing a token).
 */
export function parseConfig(
  env: Record<string, string | undefined>,
  flags: ConnectionFlags = {},
  context?: ContextSettings,
): CliConfig {
  const parsedEnv = envSchema.safeParse(env);
  const parsedFlags = flagSchema.safeParse({ '--api-url': flags.apiUrl, '--token': flags.token });
  const bad = [...(parsedEnv.error?.issues ?? []), ...(parsedFlags.error?.issues ?? [])].map(
    (i) => `${i.path.join('.')}: ${i.message}`,
  );
  if (!parsedEnv.success || !parsedFlags.success || bad.length > 0)
    throw new UsageError(`bad configuration: ${bad.join('; ')}`);
  const e = parsedEnv.data;
  const f = parsedFlags.data;
  const caFromEnv = e.JR_CA_FILE !== undefined ? path.resolve(e.JR_CA_FILE) : undefined;
  const fromEnv = { apiUrl: e.JR_API_URL, token: e.JR_TOKEN ?? e.JR_ADMIN_TOKEN, caFile: caFromEnv };
  const [first, second] = context?.explicit ? [context, fromEnv] : [fromEnv, context];
  const fallbackUrl = e.JR_INSECURE ? INSECURE_API_URL : DEFAULT_API_URL;
  const listed = parseApiUrls(f['--api-url'] ?? first?.apiUrl ?? second?.apiUrl ?? fallbackUrl);
  // every source was checked by its schema; a context's list by the config file's
  const apiUrls = listed.ok ? listed.urls : [baseUrl(fallbackUrl)];
  const apiUrl = apiUrls[0] as URL;
  const token = f['--token'] ?? first?.token ?? second?.token;
  const caFile = first?.caFile ?? second?.caFile;
  return {
    apiUrl,
    apiUrls,
    token,
    requestTimeoutMs: e.JR_REQUEST_TIMEOUT,
    insecure: e.JR_INSECURE,
    ...(caFile ? { caFile } : {}),
    ...(e.JR_API_CA_SHA256 ? { caPin: e.JR_API_CA_SHA256 } : {}),
  };
}
