import { z } from 'zod';
import { parseDurationMs } from '@jr/contracts';

/** A rate: `points` per `windowMs`; `off` (or 0) disables it. */
export interface Rate {
  points: number;
  windowMs: number;
}

/** Rate limits, lockouts and the HTTP server's socket limits (apps/api/src/limits, docs/contract.md). */
export interface LimitsConfig {
  /** REST requests per bearer token (any token the API accepts), across all replicas. */
  perToken: Rate | undefined;
  /** REST requests per client address, authenticated or not (/healthz and /readyz exempt). */
  perAddress: Rate | undefined;
  /** gRPC calls per agent credential (Heartbeat, Lease, Report, Complete). */
  perAgent: Rate | undefined;
  /** gRPC Enroll calls per client address. */
  enrollPerAddress: Rate | undefined;
  /** Failed authentications (REST 401, gRPC UNAUTHENTICATED, failed enrolls) per address before a lockout. */
  authFailures: Rate | undefined;
  /** The first lockout's length; each further lockout of the same address within a day doubles it. */
  lockoutMs: number;
  lockoutMaxMs: number;
  http: HttpServerLimits;
}

export interface HttpServerLimits {
  /** Time a client has to send the complete request head (slowloris). */
  headersTimeoutMs: number;
  /** Time a client has to send the complete request, head and body. */
  requestTimeoutMs: number;
  /** Longest pause between two chunks of a request body. */
  bodyIdleTimeoutMs: number;
  /** How long an idle keep-alive connection stays open between requests. */
  keepAliveTimeoutMs: number;
  /** Open connections past which new ones are dropped at once. */
  maxConnections: number;
}

const RATE_RE = /^(\d+)\s*\/\s*(\S+)$/;

/** `600/10s`, `30/1m`, `off`/`0`. */
export function parseRate(v: string): Rate | undefined | 'invalid' {
  const t = v.trim().toLowerCase();
  if (t === 'off' || t === '0') return undefined;
  const m = RATE_RE.exec(t);
  const points = Number(m?.[1]);
  const windowMs = m ? parseDurationMs(m[2] as string) : undefined;
  if (!m || !Number.isSafeInteger(points) || points < 1 || points > 1e9) return 'invalid';
  if (windowMs === undefined || windowMs < 1_000 || windowMs > 86_400_000 || windowMs % 1_000 !== 0) return 'invalid';
  return { points, windowMs };
}

const rate = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v, ctx) => {
      const r = parseRate(v);
      if (r === 'invalid') {
        ctx.addIssue({
          code: 'custom',
          message: `must be COUNT/WINDOW like 600/10s or 30/1m (window whole seconds, 1s-24h), or off (got ${JSON.stringify(v)})`,
        });
        return z.NEVER;
      }
      return r;
    });

const ms = (fallback: string, minMs: number, maxMs: number) =>
  z
    .string()
    .default(fallback)
    .transform((v, ctx) => {
      const n = parseDurationMs(v);
      if (n === undefined || n < minMs || n > maxMs) {
        ctx.addIssue({
          code: 'custom',
          message: `must be a duration between ${minMs}ms and ${maxMs}ms like 10s or 1m (got ${JSON.stringify(v)})`,
        });
        return z.NEVER;
      }
      return n;
    });

/** The environment variables of LimitsConfig, spread into the API's env schema. */
export const limitsEnv = z.object({
  JR_RATE_LIMIT_TOKEN: rate('10000/10s'),
  JR_RATE_LIMIT_ADDRESS: rate('20000/10s'),
  JR_RATE_LIMIT_AGENT: rate('3000/10s'),
  JR_RATE_LIMIT_ENROLL: rate('30/1m'),
  JR_AUTH_FAILURE_LIMIT: rate('10/5m'),
  JR_AUTH_LOCKOUT: ms('1m', 1_000, 86_400_000),
  JR_AUTH_LOCKOUT_MAX: ms('1h', 1_000, 7 * 86_400_000),
  JR_HTTP_HEAD_TIMEOUT: ms('10s', 100, 600_000),
  JR_HTTP_READ_TIMEOUT: ms('30s', 100, 3_600_000),
  JR_BODY_IDLE_TIMEOUT: ms('10s', 100, 600_000),
  JR_KEEPALIVE_TIMEOUT: ms('5s', 100, 600_000),
  JR_MAX_CONNECTIONS: z
    .string()
    .default('4096')
    .refine((v) => /^\d+$/.test(v) && Number(v) >= 16 && Number(v) <= 1_000_000, 'must be an integer 16-1000000')
    .transform(Number),
});

type LimitsEnv = z.output<typeof limitsEnv>;

/** Cross-field checks: what Node's HTTP server would refuse or what would make no sense. */
export function limitsErrors(e: LimitsEnv): string[] {
  const errors: string[] = [];
  if (e.JR_HTTP_HEAD_TIMEOUT > e.JR_HTTP_READ_TIMEOUT)
    errors.push('JR_HTTP_HEAD_TIMEOUT: must not be longer than JR_HTTP_READ_TIMEOUT');
  if (e.JR_AUTH_LOCKOUT > e.JR_AUTH_LOCKOUT_MAX)
    errors.push('JR_AUTH_LOCKOUT: must not be longer than JR_AUTH_LOCKOUT_MAX');
  return errors;
}

export function toLimitsConfig(e: LimitsEnv): LimitsConfig {
  return {
    perToken: e.JR_RATE_LIMIT_TOKEN,
    perAddress: e.JR_RATE_LIMIT_ADDRESS,
    perAgent: e.JR_RATE_LIMIT_AGENT,
    enrollPerAddress: e.JR_RATE_LIMIT_ENROLL,
    authFailures: e.JR_AUTH_FAILURE_LIMIT,
    lockoutMs: e.JR_AUTH_LOCKOUT,
    lockoutMaxMs: e.JR_AUTH_LOCKOUT_MAX,
    http: {
      headersTimeoutMs: e.JR_HTTP_HEAD_TIMEOUT,
      requestTimeoutMs: e.JR_HTTP_READ_TIMEOUT,
      bodyIdleTimeoutMs: e.JR_BODY_IDLE_TIMEOUT,
      keepAliveTimeoutMs: e.JR_KEEPALIVE_TIMEOUT,
      maxConnections: e.JR_MAX_CONNECTIONS,
    },
  };
}
