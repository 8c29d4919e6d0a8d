import { DEV_ADMIN_TOKEN, formatConfigErrors, loadConfig } from './config.schema';

const base = { JR_ADMIN_TOKEN: 'admin-secret-of-at-least-32-characters', JR_ENROLL_TOKEN: 'enroll-secret' };

describe('loadConfig', () => {
  it('applies the contract defaults', () => {
    const r = loadConfig(base);
    if (!r.ok) throw new Error(r.errors.join());
    expect(r.config).toMatchObject({
      httpPort: 8080,
      grpcPort: 50051,
      bindHost: '127.0.0.1',
      dataDir: './var/api',
      redisUrl: 'redis://127.0.0.1:6379',
      databaseUrl: 'postgres://127.0.0.1:5432/jobrunner',
      heartbeatIntervalMs: 10_000,
      queuePrefix: 'jr',
      maxLostAttempts: 3,
      leaseWaitMaxMs: 30_000,
      grpcMaxConnectionAgeMs: 300_000,
      journalMaxBytes: 1024 ** 3,
      logLevel: 'info',
      dev: false,
    });
    expect(r.warnings).toEqual([]);
  });

  it('parses durations, sizes and ports', () => {
    const r = loadConfig({
      ...base,
      JR_HEARTBEAT_INTERVAL: '250ms',
      JR_LEASE_WAIT_MAX: '5m',
      JR_GRPC_MAX_CONNECTION_AGE: '0',
      JR_JOURNAL_MAX_BYTES: '512MiB',
      JR_HTTP_PORT: '0',
      JR_GRPC_PORT: '9000',
    });
    if (!r.ok) throw new Error(r.errors.join());
    expect(r.config).toMatchObject({
      heartbeatIntervalMs: 250,
      leaseWaitMaxMs: 300_000,
      grpcMaxConnectionAgeMs: 0,
      journalMaxBytes: 512 * 1024 ** 2,
      httpPort: 0,
      grpcPort: 9000,
    });
  });

  it('JR_MAX_LOG_BYTES: 64MiB by default, at least 64KiB', () => {
    const d = loadConfig(base);
    expect(d.ok && d.config.maxLogBytes).toBe(64 * 1024 ** 2);
    const r = loadConfig({ ...base, JR_MAX_LOG_BYTES: '1GiB' });
    expect(r.ok && r.config.maxLogBytes).toBe(1024 ** 3);
    for (const bad of ['1KiB', 'lots', '99999999999999999999GiB']) {
      const b = loadConfig({ ...base, JR_MAX_LOG_BYTES: bad });
      expect(b.ok).toBe(false);
      if (!b.ok) expect(b.errors.join()).toMatch(/^JR_MAX_LOG_BYTES: must be a size of at least 64KiB/);
    }
  });

  it('lists every bad variable at once', () => {
    const r = loadConfig({
      JR_HTTP_PORT: '80a',
      JR_GRPC_PORT: '70000',
      REDIS_URL: 'http://x',
      DATABASE_URL: 'nope',
      JR_HEARTBEAT_INTERVAL: 'soon',
      JR_QUEUE_PREFIX: 'a:b',
      JR_MAX_LOST_ATTEMPTS: '0',
      JR_LEASE_WAIT_MAX: '-1s',
      JR_JOURNAL_MAX_BYTES: '12 parsecs',
      JR_LOG_LEVEL: 'loud',
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const vars = r.errors.map((e) => e.split(':')[0]);
    expect(vars.sort()).toEqual([
      'DATABASE_URL',
      'JR_ADMIN_TOKEN',
      'JR_ENROLL_TOKEN',
      'JR_GRPC_PORT',
      'JR_HEARTBEAT_INTERVAL',
      'JR_HTTP_PORT',
      'JR_JOURNAL_MAX_BYTES',
      'JR_LEASE_WAIT_MAX',
      'JR_LOG_LEVEL',
      'JR_MAX_LOST_ATTEMPTS',
      'JR_QUEUE_PREFIX',
      'REDIS_URL',
    ]);
    const line = formatConfigErrors(r.errors);
    expect(line).not.toContain('\n');
    expect(line).toMatch(/^jr-api: bad configuration: /);
  });

  it('requires the tokens unless JR_DEV=1, and then warns', () => {
    const r = loadConfig({});
    expect(r.ok).toBe(false);
    const dev = loadConfig({ JR_DEV: '1' });
    if (!dev.ok) throw new Error(dev.errors.join());
    expect(dev.config.adminToken).toBe(DEV_ADMIN_TOKEN);
    expect(dev.config.adminToken.length).toBeGreaterThanOrEqual(32);
    expect(dev.config.enrollToken).toBe('dev-enroll');
    expect(dev.warnings).toHaveLength(2);
  });

  it('refuses tokens with spaces and never echoes them', () => {
    const r = loadConfig({ JR_ADMIN_TOKEN: 'has space secret', JR_ENROLL_TOKEN: 'x' });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.join()).toContain('JR_ADMIN_TOKEN');
    expect(r.errors.join()).not.toContain('has space secret');
  });

  it('refuses a bootstrap admin token shorter than 32 characters (31 is one too few), accepts 32', () => {
    const short = loadConfig({ ...base, JR_ADMIN_TOKEN: 'a'.repeat(31) });
    expect(short.ok).toBe(false);
    if (short.ok) return;
    expect(short.errors).toEqual([expect.stringMatching(/^JR_ADMIN_TOKEN: must be 32-512 printable characters/)]);
    expect(short.errors.join()).not.toContain('a'.repeat(31));
    expect(loadConfig({ ...base, JR_ADMIN_TOKEN: 'a'.repeat(32) }).ok).toBe(true);
  });

  it('JR_SECRETS_KEY: id:base64 keys, the first seals; a bad one is named without echoing the key', () => {
    const k2 = Buffer.alloc(32, 2).toString('base64');
    const k1 = Buffer.alloc(32, 1).toString('base64url');
    const r = loadConfig({ ...base, JR_SECRETS_KEY: `k2:${k2},k1:${k1}` });
    expect(r.ok && r.config.secretsKeys?.map((k) => [k.id, k.key[0]])).toEqual([
      ['k2', 2],
      ['k1', 1],
    ]);
    expect(loadConfig(base).ok && 'secretsKeys' in (loadConfig(base) as { config: object }).config).toBe(false);
    const short = Buffer.alloc(16, 7).toString('base64');
    const bad = loadConfig({ ...base, JR_SECRETS_KEY: `k1:${short}` });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.errors).toEqual(['JR_SECRETS_KEY: key k1: must be 32 bytes, got 16 (openssl rand -base64 32)']);
      expect(formatConfigErrors(bad.errors)).not.toContain(short);
    }
  });

  it('treats empty strings as unset', () => {
    const r = loadConfig({ ...base, JR_HTTP_PORT: '', JR_LOG_LEVEL: '' });
    expect(r.ok && r.config.httpPort).toBe(8080);
  });
});

describe('agent certificates', () => {
  it('JR_AGENT_CERT_TTL: 24h by default, at least 10s; the agent CA files come as a pair', () => {
    const r = loadConfig(base);
    expect(r.ok && r.config.agentCertTtlMs).toBe(86_400_000);
    const short = loadConfig({ ...base, JR_AGENT_CERT_TTL: '15s' });
    expect(short.ok && short.config.agentCertTtlMs).toBe(15_000);
    const tooShort = loadConfig({ ...base, JR_AGENT_CERT_TTL: '5s' });
    expect(!tooShort.ok && tooShort.errors.join()).toContain('JR_AGENT_CERT_TTL');
    const half = loadConfig({ ...base, JR_AGENT_CA_CERT: '/etc/jr/agent-ca.pem' });
    expect(!half.ok && half.errors.join()).toContain('JR_AGENT_CA_KEY');
    const pair = loadConfig({ ...base, JR_AGENT_CA_CERT: '/a.pem', JR_AGENT_CA_KEY: '/a-key.pem' });
    expect(pair.ok && pair.config.agentCaFiles).toEqual({ certFile: '/a.pem', keyFile: '/a-key.pem' });
  });
});
