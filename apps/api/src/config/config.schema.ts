import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { z } from 'zod';
import { ADMIN_TOKEN_MIN_LENGTH, DEFAULT_SLO_DOCUMENT, parseDurationMs, POOL_RE } from '@jr/contracts';
import { parseDatabaseUrl } from '../database/pg-hosts';
import { parseRedisUrl } from '../queue/redis-target';
import { parseSecretKeys } from '../secrets/secret-box';
import { defaultReplicaId, REPLICA_ID_RE } from '../leadership/replica-id';
import { readSloFile } from './slo-file';
import { LOG_LEVELS, type AppConfig, type TlsSettings } from './app-config';
import { limitsEnv, limitsErrors, toLimitsConfig } from './limits.schema';

/** JR_DEV=1 without JR_ADMIN_TOKEN: well known, so only ever for a development machine (but as long as a real one must be). */
export const DEV_ADMIN_TOKEN = 'dev-admin-token-not-for-production-use';
export const DEV_ENROLL_TOKEN = 'dev-enroll';

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

const port = (fallback: number) =>
  z
    .string()
    .default(String(fallback))
    .transform((v, ctx) => {
      const n = Number(v);
      if (!/^\d+$/.test(v.trim()) || n > 65_535) {
        ctx.addIssue({ code: 'custom', message: `must be a TCP port 0-65535 (got ${JSON.stringify(v)})` });
        return z.NEVER;
      }
      return n;
    });

const duration = (fallback: string, minMs: number, maxMs: number) =>
  z
    .string()
    .default(fallback)
    .transform((v, ctx) => {
      const ms = parseDurationMs(v);
      if (ms === undefined || ms < minMs || ms > maxMs) {
        ctx.addIssue({
          code: 'custom',
          message: `must be a duration like 250ms, 90s, 5m, 1h between ${minMs}ms and ${maxMs}ms (got ${JSON.stringify(v)})`,
        });
        return z.NEVER;
      }
      return ms;
    });

const bytes = (fallback: string, min: number, minText: string) =>
  z
    .string()
    .default(fallback)
    .transform((v, ctx) => {
      const m = /^(\d+)\s*([a-z]*)$/i.exec(v.trim());
      const unit = SIZE_UNITS[(m?.[2] || 'b').toLowerCase()];
      const n = m && unit !== undefined ? Number(m[1]) * unit : NaN;
      if (!Number.isSafeInteger(n) || n < min) {
        ctx.addIssue({
          code: 'custom',
          message: `must be a size of at least ${minText} like 512MiB or 1GiB (got ${JSON.stringify(v)})`,
        });
        return z.NEVER;
      }
      return n;
    });

const secret = z
  .string()
  .regex(/^[\x21-\x7e]{1,512}$/, 'must be 1-512 printable characters without spaces')
  .optional();

const flag = z
  .string()
  .default('0')
  .refine((v) => ['', '0', '1', 'true', 'false'].includes(v), 'must be 1 or 0')
  .transform((v) => v === '1' || v === 'true');

/** A string checked by `parse` (its error message is the issue's); the config keeps the string and the parsed value. */
const parsedBy = <T>(fallback: string, parse: (v: string) => T) =>
  z
    .string()
    .default(fallback)
    .transform((raw, ctx) => {
      try {
        return { raw, parsed: parse(raw) };
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    });

const envSchema = z.object({
  JR_HTTP_PORT: port(8080),
  JR_GRPC_PORT: port(50051),
  JR_BIND_HOST: z.string().min(1).max(255).default('127.0.0.1'),
  JR_DATA_DIR: z.string().min(1).default('./var/api'),
  REDIS_URL: parsedBy('redis://127.0.0.1:6379', parseRedisUrl),
  DATABASE_URL: parsedBy('postgres://127.0.0.1:5432/jobrunner', parseDatabaseUrl),
  JR_DEV: flag,
  JR_ADMIN_TOKEN: z
    .string()
    .regex(
      new RegExp(`^[\\x21-\\x7e]{${ADMIN_TOKEN_MIN_LENGTH},512}$`),
      `must be ${ADMIN_TOKEN_MIN_LENGTH}-512 printable characters without spaces (e.g. openssl rand -base64 32)`,
    )
    .optional(),
  JR_ENROLL_TOKEN: secret,
  JR_HEARTBEAT_INTERVAL: duration('10s', 100, 3_600_000),
  JR_QUEUE_PREFIX: z
    .string()
    .regex(
      /^(?:[A-Za-z0-9_.-]{1,64}|\{[A-Za-z0-9_.-]{1,62}\})$/,
      'must be 1-64 letters, digits, _ . - (or such a name in braces, {jr}: a Redis Cluster hash tag)',
    )
    .default('jr'),
  JR_MAX_LOST_ATTEMPTS: z
    .string()
    .default('3')
    .refine((v) => /^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 100, 'must be an integer 1-100')
    .transform(Number),
  JR_LEASE_WAIT_MAX: duration('30s', 1, 600_000),
  JR_GRPC_MAX_CONNECTION_AGE: duration('5m', 0, 7 * 86_400_000),
  JR_RECONCILE_INTERVAL: duration('5m', 1_000, 86_400_000),
  // how long Redis holds a committed Idempotency-Key reservation (Postgres keeps the key for good once the relay applied it)
  JR_IDEMPOTENCY_REDIS_TTL: duration('24h', 60_000, 30 * 86_400_000),
  JR_MAX_POOLS: z
    .string()
    .default('100')
    .refine((v) => /^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 10_000, 'must be an integer 1-10000')
    .transform(Number),
  JR_JOURNAL_MAX_BYTES: bytes('1GiB', 8 * 1024 * 1024, '8MiB'),
  JR_MAX_LOG_BYTES: bytes('64MiB', 64 * 1024, '64KiB'),
  JR_METRICS_REFRESH_INTERVAL: duration('5s', 100, 600_000),
  JR_TLS_CERT: z.string().max(4096).optional(),
  JR_TLS_KEY: z.string().max(4096).optional(),
  JR_TLS_SANS: z
    .string()
    .max(8192)
    .default('')
    .transform((v, ctx) => {
      const names = v
        .split(',')
        .map((n) => n.trim())
        .filter((n) => n !== '');
      const bad = names.filter((n) => !isTlsName(n));
      if (bad.length > 0)
        ctx.addIssue({
          code: 'custom',
          message: `must be a comma-separated list of host names and IP addresses (bad: ${bad.map((b) => JSON.stringify(b.slice(0, 64))).join(', ')})`,
        });
      return names;
    }),
  JR_INSECURE: flag,
  // an agent's client certificate; renewed on the heartbeat from two thirds of it on
  JR_AGENT_CERT_TTL: duration('24h', 10_000, 30 * 86_400_000),
  // the agent CA from files (replicas must share one); default: the API's own in JR_DATA_DIR/tls
  JR_AGENT_CA_CERT: z.string().max(4096).optional(),
  JR_AGENT_CA_KEY: z.string().max(4096).optional(),
  // names this replica among several on one database (Redis record, agents.last_replica, jr_leader{replica})
  JR_REPLICA_ID: z
    .string()
    .regex(REPLICA_ID_RE, 'must be 1-64 letters, digits, _ . : - (starting with a letter or digit)')
    .optional(),
  // service levels: the objectives (YAML), and canary jobs every JR_CANARY_INTERVAL on JR_CANARY_POOLS (default: every pool with agents)
  JR_SLO_FILE: z
    .string()
    .max(4096)
    .transform((file, ctx) => {
      try {
        return readSloFile(file);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    })
    .optional(),
  JR_CANARY_INTERVAL: duration('0', 0, 86_400_000).refine(
    (ms) => ms === 0 || ms >= 1_000,
    'must be at least 1s (or 0: no canaries)',
  ),
  JR_CANARY_POOLS: z
    .string()
    .max(8192)
    .transform((v, ctx) => {
      const pools = v
        .split(',')
        .map((p) => p.trim())
        .filter((p) => p !== '');
      const bad = pools.filter((p) => !POOL_RE.test(p));
      if (bad.length > 0) ctx.addIssue({ code: 'custom', message: `not pool names: ${bad.slice(0, 5).join(', ')}` });
      return pools;
    })
    .optional(),
  JR_LOG_LEVEL: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  ...limitsEnv.shape,
  // the message never repeats the value: it is key material
  JR_SECRETS_KEY: z
    .string()
    .max(4096, 'at most 4096 characters')
    .transform((v, ctx) => {
      const r = parseSecretKeys(v);
      if (r.ok) return r.keys;
      ctx.addIssue({ code: 'custom', message: r.message });
      return z.NEVER;
    })
    .optional(),
});

export type ConfigResult = { ok: true; config: AppConfig; warnings: string[] } | { ok: false; errors: string[] };

/**
 * What the configuration is for: the server (the default), or `jr-api journal replay`, which serves no
 * one and so needs no admin or enroll token (it only talks to Postgres and Redis).
 */
export type ConfigRole = 'server' | 'replay';

/** Parses the environment once; on failure lists every bad variable. Empty strings count as unset. */
export function loadConfig(env: Record<string, string | undefined>, role: ConfigRole = 'server'): ConfigResult {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  const errors = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`);
  const dev =
    role === 'replay' || (parsed.success ? parsed.data.JR_DEV : present.JR_DEV === '1' || present.JR_DEV === 'true');
  if (!dev && present.JR_ADMIN_TOKEN === undefined) errors.push('JR_ADMIN_TOKEN: required unless JR_DEV=1');
  if (!dev && present.JR_ENROLL_TOKEN === undefined) errors.push('JR_ENROLL_TOKEN: required unless JR_DEV=1');
  if (parsed.success) errors.push(...limitsErrors(parsed.data));
  if (present.JR_TLS_CERT !== undefined && present.JR_TLS_KEY === undefined)
    errors.push('JR_TLS_KEY: required with JR_TLS_CERT (the private key of its first certificate)');
  if (present.JR_TLS_KEY !== undefined && present.JR_TLS_CERT === undefined)
    errors.push('JR_TLS_CERT: required with JR_TLS_KEY (the PEM certificate chain)');
  if (parsed.success && parsed.data.JR_INSECURE && present.JR_TLS_CERT !== undefined)
    errors.push('JR_INSECURE: set together with JR_TLS_CERT; choose TLS or plain text');
  if ((present.JR_AGENT_CA_CERT === undefined) !== (present.JR_AGENT_CA_KEY === undefined))
    errors.push('JR_AGENT_CA_CERT, JR_AGENT_CA_KEY: set both (the agent CA certificate and its key) or neither');
  if (!parsed.success || errors.length > 0) return { ok: false, errors };
  const e = parsed.data;
  const warnings: string[] = [];
  if (e.JR_INSECURE && role === 'server')
    warnings.push(
      'JR_INSECURE=1: REST and gRPC are plain text; tokens, credentials and job output cross the network readable, and agents have no client certificates (the bearer credential alone identifies them)',
    );
  if (e.JR_ADMIN_TOKEN === undefined && role === 'server')
    warnings.push(`JR_DEV=1 and no JR_ADMIN_TOKEN: accepting the development admin token '${DEV_ADMIN_TOKEN}'`);
  if (e.JR_ENROLL_TOKEN === undefined && role === 'server')
    warnings.push(`JR_DEV=1 and no JR_ENROLL_TOKEN: accepting the development enroll token '${DEV_ENROLL_TOKEN}'`);
  return {
    ok: true,
    warnings,
    config: {
      httpPort: e.JR_HTTP_PORT,
      grpcPort: e.JR_GRPC_PORT,
      bindHost: e.JR_BIND_HOST,
      dataDir: e.JR_DATA_DIR,
      replicaId: e.JR_REPLICA_ID ?? defaultReplicaId(hostname(), e.JR_DATA_DIR),
      redisUrl: e.REDIS_URL.raw,
      redis: e.REDIS_URL.parsed,
      databaseUrl: e.DATABASE_URL.raw,
      databaseEndpoints: e.DATABASE_URL.parsed,
      dev: e.JR_DEV,
      adminToken: e.JR_ADMIN_TOKEN ?? DEV_ADMIN_TOKEN,
      enrollToken: e.JR_ENROLL_TOKEN ?? DEV_ENROLL_TOKEN,
      heartbeatIntervalMs: e.JR_HEARTBEAT_INTERVAL,
      queuePrefix: e.JR_QUEUE_PREFIX,
      maxLostAttempts: e.JR_MAX_LOST_ATTEMPTS,
      leaseWaitMaxMs: e.JR_LEASE_WAIT_MAX,
      grpcMaxConnectionAgeMs: e.JR_GRPC_MAX_CONNECTION_AGE,
      reconcileIntervalMs: e.JR_RECONCILE_INTERVAL,
      idempotencyRedisTtlMs: e.JR_IDEMPOTENCY_REDIS_TTL,
      maxPools: e.JR_MAX_POOLS,
      journalMaxBytes: e.JR_JOURNAL_MAX_BYTES,
      maxLogBytes: e.JR_MAX_LOG_BYTES,
      metricsRefreshMs: e.JR_METRICS_REFRESH_INTERVAL,
      logLevel: e.JR_LOG_LEVEL,
      slo: e.JR_SLO_FILE ?? DEFAULT_SLO_DOCUMENT,
      canary: { intervalMs: e.JR_CANARY_INTERVAL, ...(e.JR_CANARY_POOLS ? { pools: e.JR_CANARY_POOLS } : {}) },
      limits: toLimitsConfig(e),
      ...(e.JR_SECRETS_KEY ? { secretsKeys: e.JR_SECRETS_KEY } : {}),
      tls: tlsSettings(e),
      agentCertTtlMs: e.JR_AGENT_CERT_TTL,
      ...(e.JR_AGENT_CA_CERT !== undefined && e.JR_AGENT_CA_KEY !== undefined
        ? { agentCaFiles: { certFile: e.JR_AGENT_CA_CERT, keyFile: e.JR_AGENT_CA_KEY } }
        : {}),
    },
  };
}

function tlsSettings(e: z.output<typeof envSchema>): TlsSettings {
  if (e.JR_INSECURE) return { mode: 'insecure' };
  if (e.JR_TLS_CERT !== undefined && e.JR_TLS_KEY !== undefined)
    return { mode: 'operator', certFile: e.JR_TLS_CERT, keyFile: e.JR_TLS_KEY };
  return { mode: 'self', extraSans: e.JR_TLS_SANS };
}

const HOST_NAME_RE =
  /^(?=.{1,253}$)(\*\.)?[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function isTlsName(name: string): boolean {
  return isIP(name.replace(/^\[(.*)\]$/, '$1')) !== 0 || HOST_NAME_RE.test(name);
}

/** The one line main.ts prints on stderr before exiting 2. */
export function formatConfigErrors(errors: string[]): string {
  return `jr-api: bad configuration: ${errors.join('; ')}`;
}
