import { loadConfig } from '../config/config.schema';
import { parseRate } from '../config/limits.schema';
import { rateLimitHeaders, retryAfterMs } from './rate-limit-headers';
import { lockoutDurationMs, rateLimited, secretKey, type Verdict } from './rate-limits.service';

const base = { JR_ADMIN_TOKEN: 'a'.repeat(32), JR_ENROLL_TOKEN: 'enroll-secret' };

describe('limits configuration', () => {
  it('has generous defaults, every limit on', () => {
    const r = loadConfig(base);
    if (!r.ok) throw new Error(r.errors.join());
    expect(r.config.limits).toEqual({
      perToken: { points: 10_000, windowMs: 10_000 },
      perAddress: { points: 20_000, windowMs: 10_000 },
      perAgent: { points: 3_000, windowMs: 10_000 },
      enrollPerAddress: { points: 30, windowMs: 60_000 },
      authFailures: { points: 10, windowMs: 300_000 },
      lockoutMs: 60_000,
      lockoutMaxMs: 3_600_000,
      http: {
        headersTimeoutMs: 10_000,
        requestTimeoutMs: 30_000,
        bodyIdleTimeoutMs: 10_000,
        keepAliveTimeoutMs: 5_000,
        maxConnections: 4096,
      },
    });
  });

  it('parses COUNT/WINDOW and off', () => {
    expect(parseRate('600/10s')).toEqual({ points: 600, windowMs: 10_000 });
    expect(parseRate(' 30 / 1m ')).toEqual({ points: 30, windowMs: 60_000 });
    expect(parseRate('off')).toBeUndefined();
    expect(parseRate('0')).toBeUndefined();
    for (const bad of ['10', '/10s', '0/10s', '-1/10s', '10/500ms', '10/1500ms', '10/2d', '1e3/1s', '10/s', 'ten/1m'])
      expect(parseRate(bad)).toBe('invalid');
  });

  it('lists every bad limit variable, and inconsistent timeouts', () => {
    const r = loadConfig({
      ...base,
      JR_RATE_LIMIT_TOKEN: 'lots',
      JR_MAX_CONNECTIONS: '3',
      JR_AUTH_LOCKOUT: 'forever',
    });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.errors.join('\n')).toMatch(/^JR_RATE_LIMIT_TOKEN: must be COUNT\/WINDOW/m);
      expect(r.errors.join('\n')).toMatch(/^JR_MAX_CONNECTIONS: must be an integer 16-1000000/m);
      expect(r.errors.join('\n')).toMatch(/^JR_AUTH_LOCKOUT: must be a duration/m);
    }
    const t = loadConfig({ ...base, JR_HTTP_HEAD_TIMEOUT: '1m', JR_HTTP_READ_TIMEOUT: '30s' });
    expect(!t.ok && t.errors).toEqual(['JR_HTTP_HEAD_TIMEOUT: must not be longer than JR_HTTP_READ_TIMEOUT']);
    const l = loadConfig({ ...base, JR_AUTH_LOCKOUT: '2h', JR_AUTH_LOCKOUT_MAX: '1h' });
    expect(!l.ok && l.errors).toEqual(['JR_AUTH_LOCKOUT: must not be longer than JR_AUTH_LOCKOUT_MAX']);
  });
});

describe('RateLimit header fields', () => {
  const v = (name: Verdict['name'], points: number, remaining: number, resetMs: number, allowed = true): Verdict => ({
    name,
    rate: { points, windowMs: 10_000 },
    allowed,
    remaining,
    resetMs,
  });

  it('lists one structured-field item per limit, policy and state', () => {
    expect(rateLimitHeaders([v('address', 20_000, 19_990, 6_500), v('token', 10_000, 0, 1, false)])).toEqual({
      'RateLimit-Policy': '"address";q=20000;w=10, "token";q=10000;w=10',
      RateLimit: '"address";r=19990;t=7, "token";r=0;t=1',
    });
    expect(rateLimitHeaders([])).toEqual({});
  });

  it('Retry-After is the longest reset among the limits that refused, at least a second', () => {
    expect(retryAfterMs([v('address', 1, 0, 9_000), v('token', 1, 0, 3_000, false)])).toBe(3_000);
    expect(retryAfterMs([v('token', 1, 0, 10, false)])).toBe(1_000);
    const err = rateLimited('rate limit exceeded (token)', 2_500);
    expect(err.code).toBe('RATE_LIMITED');
    expect(err.details).toEqual({ retryAfterSeconds: 3, retryAfterMs: 2_500 });
  });
});

describe('lockout back-off', () => {
  it('doubles with each lockout, capped', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => lockoutDurationMs(n, 60_000, 3_600_000))).toEqual([
      60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, 3_600_000, 3_600_000,
    ]);
    expect(lockoutDurationMs(10_000, 60_000, 3_600_000)).toBe(3_600_000);
    expect(lockoutDurationMs(0, 60_000, 3_600_000)).toBe(60_000);
  });

  it('keys secrets by digest, never by the secret', () => {
    const k = secretKey('a_abc.s3cr3t-credential');
    expect(k).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(k).not.toContain('s3cr3t');
    expect(secretKey('other')).not.toBe(k);
  });
});
