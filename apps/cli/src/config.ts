import { z } from 'zod';
import { parseDurationMs } from '@jr/contracts';
import { UsageError } from './cli-error';
import { apiUrlSchema, blankToUndefined, tokenSchema } from './config-schemas';

export interface CliConfig {
  /** Base URL of the API, always ending in '/'. */
  apiUrl: URL;
  /** Bearer token; undefined sends no Authorization header (the API then answers 401). */
  token: string | undefined;
  /** Deadline for one request (for a log stream: until its headers arrive). */
  requestTimeoutMs: number;
  /** PEM bundle of CAs to trust for the API (from the context's caFile). */
  caFile?: string;
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

const DEFAULT_API_URL = 'http://127.0.0.1:8080';

const envSchema = z.object({
  JR_API_URL: z.preprocess(blankToUndefined, apiUrlSchema.optional()),
  JR_TOKEN: tokenSchema,
  // The contract lists JR_ADMIN_TOKEN as used by the CLI too: it is the fallback when JR_TOKEN is unset.
  JR_ADMIN_TOKEN: tokenSchema,
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
  '--api-url': z.preprocess(blankToUndefined, apiUrlSchema.optional()),
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
  const fromEnv = { apiUrl: e.JR_API_URL, token: e.JR_TOKEN ?? e.JR_ADMIN_TOKEN };
  const [first, second] = context?.explicit ? [context, fromEnv] : [fromEnv, context];
  const apiUrl = new URL(f['--api-url'] ?? first?.apiUrl ?? second?.apiUrl ?? DEFAULT_API_URL);
  if (!apiUrl.pathname.endsWith('/')) apiUrl.pathname += '/';
  apiUrl.search = '';
  apiUrl.hash = '';
  const token = f['--token'] ?? first?.token ?? second?.token;
  return {
    apiUrl,
    token,
    requestTimeoutMs: e.JR_REQUEST_TIMEOUT,
    ...(context?.caFile ? { caFile: context.caFile } : {}),
  };
}
