import { isIP } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { z } from 'zod';
import { POOL_RE, parseDurationMs, type VerifyKeys } from '@jr/contracts';
import { parseFingerprint } from '@jr/pki';
import { childEnvFrom, parseEnvAllow } from './child-env';
import { parseEndpointList } from './endpoint-list';
import {
  cidrsSchema,
  flagSchema,
  jobUsersSchema,
  pathSchema,
  type AllowedCidr,
  type JobUserSpec,
} from './isolation-config';
import { parseLabels } from './labels';
import { loadVerifyKeys } from './verify-keys';

/** The agent's configuration, parsed once from the environment at start-up. */
export interface AgentConfig {
  /** JR_API_GRPC as given (the endpoints joined by commas): shown in status, kept with the credential. */
  apiAddress: string;
  /** JR_API_GRPC: the API endpoints, primary first (one at a time; see api-client/endpoint-failover.ts). */
  apiEndpoints: string[];
  /** JR_API_FAILBACK_AFTER: how long the primary must stay reachable before the agent goes back to it. */
  apiFailbackAfterMs: number;
  dataDir: string;
  enrollToken: string | undefined;
  /** JR_ENROLL_TOKEN_FILE (e.g. systemd's $CREDENTIALS_DIRECTORY/enroll-token): read only when enrolling. */
  enrollTokenFile: string | undefined;
  pool: string;
  labels: Record<string, string>;
  name: string;
  slots: number;
  heartbeatIntervalMs: number;
  killGraceMs: number;
  shutdownGraceMs: number;
  /** Consecutive failed reports (after their retries) that open the reporting breaker. */
  breakerThreshold: number;
  /** The breaker opens only when its failures also lasted this long (an API restart never opens it). */
  breakerMinOutageMs: number;
  /** Per try of a Report/Complete call (JR_REPORT_TIMEOUT). */
  reportTimeoutMs: number;
  /** Tries of one report after the first (jittered, bounded) before it counts as failed. */
  reportRetries: number;
  /** The outbox's size cap (JR_OUTBOX_MAX_BYTES): past it the oldest log chunks become gap markers. */
  outboxMaxBytes: number;
  logLevel: LogLevel;
  /** JR_METRICS_PORT: serve the agent's own /metrics there (0: any free port); unset: no server. */
  metricsPort: number | undefined;
  /** JR_METRICS_HOST: the address the metrics server listens on (loopback unless told otherwise). */
  metricsHost: string;
  /** How long the API may hold a Lease long poll (not an env variable). */
  leaseWaitMs: number;
  /** How the agent trusts the API: plain text (JR_INSECURE=1), or TLS with a CA file, a pinned CA, or the system's CAs. */
  tls: AgentTls;
  /** The environment job steps start from: an allow-list of the agent's own (see child-env.ts). */
  childEnv: Record<string, string>;
  /**
   * JR_JOB_VERIFY_KEYS: the Ed25519 public keys a job must be signed by (job-signature.ts); undefined:
   * verification is off and unsigned jobs run.
   */
  verifyKeys: VerifyKeys | undefined;
  /** JR_JOB_USER / JR_JOB_USERS: who steps run as (empty: the agent's own user). */
  jobUsers: JobUserSpec[];
  /** JR_ALLOW_ROOT_JOBS=1: steps may run as root (refused at start-up otherwise). */
  allowRootJobs: boolean;
  /** JR_WORK_DIR: the attempts' workspaces (outside the data directory, which jobs cannot enter). */
  workDir: string;
  /** JR_ARTIFACT_ALLOW_HTTP=1: `uses` URLs may be plain http. */
  artifactAllowHttp: boolean;
  /** JR_ARTIFACT_ALLOW_CIDRS: internal addresses artifact downloads may reach all the same. */
  artifactAllowCidrs: AllowedCidr[];
}

export type AgentTls =
  | { mode: 'insecure' }
  /** `caFile`: JR_CA_FILE; `pin`: JR_API_CA_SHA256 as `sha256:<hex>`; neither: the CA saved at enrollment, else the system's. */
  | { mode: 'tls'; caFile?: string; pin?: string };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface ConfigIssue {
  variable: string;
  message: string;
}

export type ConfigResult = { ok: true; config: AgentConfig } | { ok: false; issues: ConfigIssue[] };

const HOSTNAME_RE =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const NAME_RE = /^[^\p{Cc}]{1,200}$/u;

function optional<T extends z.ZodType>(schema: T) {
  return z.preprocess((v) => (v === '' ? undefined : v), schema.optional());
}

function duration(fallback: string, minMs: number, maxMs: number) {
  return optional(z.string()).transform((raw, ctx) => {
    const ms = parseDurationMs(raw ?? fallback);
    if (ms === undefined || ms < minMs || ms > maxMs) {
      ctx.addIssue({
        code: 'custom',
        message: `must be a duration like 10s, 500ms or 2m between ${minMs}ms and ${maxMs}ms (got ${JSON.stringify(raw)})`,
      });
      return z.NEVER;
    }
    return ms;
  });
}

function integer(fallback: number, min: number, max: number) {
  return optional(z.string()).transform((raw, ctx) => {
    const n = raw === undefined ? fallback : /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      ctx.addIssue({
        code: 'custom',
        message: `must be an integer between ${min} and ${max} (got ${JSON.stringify(raw)})`,
      });
      return z.NEVER;
    }
    return n;
  });
}

const envSchema = z.object({
  JR_API_GRPC: optional(z.string().max(16_384)).transform((raw, ctx) => {
    const parsed = parseEndpointList(raw);
    if (!parsed.ok) {
      ctx.addIssue({ code: 'custom', message: parsed.message });
      return z.NEVER;
    }
    return parsed.endpoints;
  }),
  JR_API_FAILBACK_AFTER: duration('30s', 0, 24 * 3_600_000),
  JR_DATA_DIR: optional(z.string().max(4096)),
  JR_ENROLL_TOKEN: optional(
    z
      .string()
      .max(4096)
      .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
  ),
  JR_ENROLL_TOKEN_FILE: pathSchema,
  JR_JOB_USER: jobUsersSchema,
  JR_JOB_USERS: jobUsersSchema,
  JR_ALLOW_ROOT_JOBS: flagSchema,
  JR_JOB_ENV_ALLOW: optional(z.string().max(8192)).transform((raw, ctx) => {
    const parsed = parseEnvAllow(raw);
    if (!parsed.ok) {
      ctx.addIssue({ code: 'custom', message: parsed.message });
      return z.NEVER;
    }
    return parsed.allow;
  }),
  JR_WORK_DIR: pathSchema,
  JR_ARTIFACT_ALLOW_HTTP: flagSchema,
  JR_ARTIFACT_ALLOW_CIDRS: cidrsSchema,
  JR_POOL: optional(z.string().regex(POOL_RE, 'must be lowercase letters, digits, _ . -, at most 63')),
  JR_LABELS: optional(z.string().max(8192)).transform((raw, ctx) => {
    const parsed = parseLabels(raw ?? '');
    if (!parsed.ok) {
      ctx.addIssue({ code: 'custom', message: parsed.message });
      return z.NEVER;
    }
    return parsed.labels;
  }),
  JR_NAME: optional(z.string().regex(NAME_RE, 'must be 1 to 200 characters without control characters')),
  JR_SLOTS: integer(4, 1, 256),
  JR_HEARTBEAT_INTERVAL: duration('10s', 100, 3_600_000),
  JR_KILL_GRACE: duration('10s', 0, 3_600_000),
  JR_SHUTDOWN_GRACE: duration('30s', 0, 24 * 3_600_000),
  JR_BREAKER_THRESHOLD: integer(5, 1, 1_000_000),
  JR_BREAKER_MIN_OUTAGE: duration('30s', 0, 24 * 3_600_000),
  JR_REPORT_TIMEOUT: duration('15s', 100, 300_000),
  JR_OUTBOX_MAX_BYTES: integer(64 * 1024 * 1024, 256 * 1024, 64 * 1024 ** 3),
  JR_LOG_LEVEL: optional(z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` })),
  JR_CA_FILE: optional(z.string().min(1).max(4096)),
  JR_API_CA_SHA256: optional(z.string().max(256)).transform((raw, ctx) => {
    if (raw === undefined) return undefined;
    const pin = parseFingerprint(raw);
    if (!pin)
      ctx.addIssue({
        code: 'custom',
        message: `must be a SHA-256 fingerprint: sha256:<64 hex digits> or openssl's AB:CD:… form (got ${JSON.stringify(raw.slice(0, 100))})`,
      });
    return pin;
  }),
  JR_INSECURE: optional(z.enum(['0', '1', 'true', 'false'], { error: 'must be 1 or 0' })).transform(
    (v) => v === '1' || v === 'true',
  ),
  JR_METRICS_PORT: optional(z.string()).transform((raw, ctx) => {
    if (raw === undefined) return undefined;
    const n = /^\d{1,5}$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
    if (!(n >= 0 && n <= 65_535)) {
      ctx.addIssue({
        code: 'custom',
        message: `must be a TCP port between 0 and 65535 (0: any free port) (got ${JSON.stringify(raw.slice(0, 64))})`,
      });
      return z.NEVER;
    }
    return n;
  }),
  JR_METRICS_HOST: optional(z.string()).transform((raw, ctx) => {
    const host = (raw ?? '127.0.0.1').trim().replace(/^\[(.*)\]$/, '$1');
    if (isIP(host) === 0 && !HOSTNAME_RE.test(host)) {
      ctx.addIssue({
        code: 'custom',
        message: `must be an IP address or a host name to listen on (got ${JSON.stringify((raw ?? '').slice(0, 64))})`,
      });
      return z.NEVER;
    }
    return host;
  }),
  JR_JOB_VERIFY_KEYS: optional(z.string().max(1024 * 1024)),
});

/** Parses the agent's environment; on failure lists every bad variable. */
export function parseAgentConfig(env: NodeJS.ProcessEnv, cwd: string = process.cwd()): ConfigResult {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    return {
      ok: false,
      issues: parsed.error.issues.map((i) => ({ variable: String(i.path[0] ?? '(env)'), message: i.message })),
    };
  }
  const e = parsed.data;
  const verifyKeys = e.JR_JOB_VERIFY_KEYS === undefined ? undefined : loadVerifyKeys(e.JR_JOB_VERIFY_KEYS, cwd);
  if (verifyKeys && !verifyKeys.ok)
    return { ok: false, issues: [{ variable: 'JR_JOB_VERIFY_KEYS', message: verifyKeys.message }] };
  const issues = crossIssues(e);
  if (issues.length > 0) return { ok: false, issues };
  const dataDir = path.resolve(cwd, e.JR_DATA_DIR ?? './var/agent');
  const workDir = path.resolve(cwd, e.JR_WORK_DIR ?? `${dataDir}-work`);
  if (isWithin(workDir, dataDir))
    return {
      ok: false,
      issues: [{ variable: 'JR_WORK_DIR', message: `must be outside JR_DATA_DIR (${dataDir}): jobs cannot enter it` }],
    };
  if (e.JR_INSECURE && (e.JR_CA_FILE !== undefined || e.JR_API_CA_SHA256 !== undefined))
    return {
      ok: false,
      issues: [
        {
          variable: 'JR_INSECURE',
          message: 'is set together with JR_CA_FILE or JR_API_CA_SHA256; choose TLS or plain text',
        },
      ],
    };
  return {
    ok: true,
    config: {
      apiAddress: e.JR_API_GRPC.join(','),
      apiEndpoints: e.JR_API_GRPC,
      apiFailbackAfterMs: e.JR_API_FAILBACK_AFTER,
      dataDir,
      enrollToken: e.JR_ENROLL_TOKEN,
      enrollTokenFile: e.JR_ENROLL_TOKEN_FILE === undefined ? undefined : path.resolve(cwd, e.JR_ENROLL_TOKEN_FILE),
      pool: e.JR_POOL ?? 'default',
      labels: e.JR_LABELS,
      name: e.JR_NAME ?? os.hostname(),
      slots: e.JR_SLOTS,
      heartbeatIntervalMs: e.JR_HEARTBEAT_INTERVAL,
      killGraceMs: e.JR_KILL_GRACE,
      shutdownGraceMs: e.JR_SHUTDOWN_GRACE,
      breakerThreshold: e.JR_BREAKER_THRESHOLD,
      breakerMinOutageMs: e.JR_BREAKER_MIN_OUTAGE,
      reportTimeoutMs: e.JR_REPORT_TIMEOUT,
      reportRetries: 2,
      outboxMaxBytes: e.JR_OUTBOX_MAX_BYTES,
      logLevel: e.JR_LOG_LEVEL ?? 'info',
      metricsPort: e.JR_METRICS_PORT,
      metricsHost: e.JR_METRICS_HOST,
      leaseWaitMs: 25_000,
      childEnv: childEnvFrom(env, e.JR_JOB_ENV_ALLOW),
      verifyKeys: verifyKeys?.keys,
      jobUsers: e.JR_JOB_USERS.length > 0 ? e.JR_JOB_USERS : e.JR_JOB_USER,
      allowRootJobs: e.JR_ALLOW_ROOT_JOBS,
      workDir,
      artifactAllowHttp: e.JR_ARTIFACT_ALLOW_HTTP,
      artifactAllowCidrs: e.JR_ARTIFACT_ALLOW_CIDRS,
      tls: e.JR_INSECURE
        ? { mode: 'insecure' }
        : {
            mode: 'tls',
            ...(e.JR_CA_FILE !== undefined ? { caFile: path.resolve(cwd, e.JR_CA_FILE) } : {}),
            ...(e.JR_API_CA_SHA256 !== undefined ? { pin: e.JR_API_CA_SHA256 } : {}),
          },
    },
  };
}

function isWithin(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** Rules between variables. */
function crossIssues(e: z.output<typeof envSchema>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (e.JR_ENROLL_TOKEN !== undefined && e.JR_ENROLL_TOKEN_FILE !== undefined)
    issues.push({ variable: 'JR_ENROLL_TOKEN_FILE', message: 'set JR_ENROLL_TOKEN or JR_ENROLL_TOKEN_FILE, not both' });
  if (e.JR_JOB_USER.length > 1)
    issues.push({ variable: 'JR_JOB_USER', message: 'names one user; list one per slot in JR_JOB_USERS' });
  if (e.JR_JOB_USER.length > 0 && e.JR_JOB_USERS.length > 0)
    issues.push({ variable: 'JR_JOB_USERS', message: 'set JR_JOB_USER or JR_JOB_USERS, not both' });
  if (e.JR_JOB_USERS.length > 1 && e.JR_JOB_USERS.length < e.JR_SLOTS)
    issues.push({
      variable: 'JR_JOB_USERS',
      message: `lists ${e.JR_JOB_USERS.length} user(s) for JR_SLOTS=${e.JR_SLOTS}: give one per slot, or one shared user in JR_JOB_USER`,
    });
  return issues;
}

/** One line for stderr naming every bad variable. */
export function formatConfigIssues(issues: ConfigIssue[]): string {
  return `jr-agent: bad configuration: ${issues.map((i) => `${i.variable} ${i.message}`).join('; ')}`;
}
