import * as os from 'node:os';
import { formatConfigIssues, parseAgentConfig } from './agent-config';
import { parseLabels } from './labels';

describe('parseAgentConfig', () => {
  it('TLS by default; JR_CA_FILE (absolute), JR_API_CA_SHA256 (any openssl spelling), JR_INSECURE', () => {
    const hex = 'ab'.repeat(32);
    const tls = (env: NodeJS.ProcessEnv) => {
      const r = parseAgentConfig(env, '/srv');
      return r.ok ? r.config.tls : r.issues.map((i) => i.variable);
    };
    expect(tls({ JR_CA_FILE: 'ca.pem' })).toEqual({ mode: 'tls', caFile: '/srv/ca.pem' });
    const openssl = `sha256 Fingerprint=${hex.toUpperCase().match(/../g)?.join(':')}`;
    expect(tls({ JR_API_CA_SHA256: openssl })).toEqual({ mode: 'tls', pin: `sha256:${hex}` });
    expect(tls({ JR_API_CA_SHA256: `sha256:${hex}` })).toEqual({ mode: 'tls', pin: `sha256:${hex}` });
    expect(tls({ JR_INSECURE: '1' })).toEqual({ mode: 'insecure' });
    expect(tls({ JR_API_CA_SHA256: 'sha256:abc' })).toEqual(['JR_API_CA_SHA256']);
    expect(tls({ JR_INSECURE: 'yes' })).toEqual(['JR_INSECURE']);
    expect(tls({ JR_INSECURE: '1', JR_CA_FILE: '/ca.pem' })).toEqual(['JR_INSECURE']);
  });

  it('applies the contract defaults to an empty environment', () => {
    const r = parseAgentConfig({}, '/srv');
    expect(r).toEqual({
      ok: true,
      config: {
        apiAddress: '127.0.0.1:50051',
        dataDir: '/srv/var/agent',
        enrollToken: undefined,
        pool: 'default',
        labels: {},
        name: os.hostname(),
        slots: 4,
        heartbeatIntervalMs: 10_000,
        killGraceMs: 10_000,
        shutdownGraceMs: 30_000,
        breakerThreshold: 5,
        reportTimeoutMs: 15_000,
        reportRetries: 2,
        outboxMaxBytes: 64 * 1024 * 1024,
        logLevel: 'info',
        leaseWaitMs: 25_000,
        childEnv: {},
        metricsPort: undefined,
        metricsHost: '127.0.0.1',
        tls: { mode: 'tls' },
      },
    });
  });

  it('reads every variable', () => {
    const r = parseAgentConfig({
      JR_API_GRPC: 'api.internal:7000',
      JR_DATA_DIR: '/data',
      JR_ENROLL_TOKEN: 'tok',
      JR_POOL: 'gpu',
      JR_LABELS: 'os=linux, arch=x64',
      JR_NAME: 'box 1',
      JR_SLOTS: '16',
      JR_HEARTBEAT_INTERVAL: '2s',
      JR_KILL_GRACE: '500ms',
      JR_SHUTDOWN_GRACE: '1m',
      JR_BREAKER_THRESHOLD: '3',
      JR_LOG_LEVEL: 'debug',
      JR_REPORT_TIMEOUT: '2s',
      JR_OUTBOX_MAX_BYTES: '1048576',
      JR_METRICS_PORT: '9464',
      JR_METRICS_HOST: '0.0.0.0',
    });
    expect(r.ok && r.config).toMatchObject({
      apiAddress: 'api.internal:7000',
      dataDir: '/data',
      enrollToken: 'tok',
      pool: 'gpu',
      labels: { os: 'linux', arch: 'x64' },
      name: 'box 1',
      slots: 16,
      heartbeatIntervalMs: 2_000,
      killGraceMs: 500,
      shutdownGraceMs: 60_000,
      breakerThreshold: 3,
      logLevel: 'debug',
      reportTimeoutMs: 2_000,
      outboxMaxBytes: 1_048_576,
      metricsPort: 9464,
      metricsHost: '0.0.0.0',
    });
  });

  it("passes the environment on to steps without the agent's secrets", () => {
    const r = parseAgentConfig({
      PATH: '/bin',
      JR_ENROLL_TOKEN: 'secret',
      JR_ADMIN_TOKEN: 'x',
      JR_API_KEY: 'k',
      JR_POOL: 'p',
      GITHUB_TOKEN: 'g',
    });
    expect(r.ok && r.config.childEnv).toEqual({ PATH: '/bin', JR_POOL: 'p', GITHUB_TOKEN: 'g' });
  });

  it('treats empty variables as unset', () => {
    const r = parseAgentConfig({ JR_SLOTS: '', JR_ENROLL_TOKEN: '' });
    expect(r.ok && [r.config.slots, r.config.enrollToken]).toEqual([4, undefined]);
  });

  it('lists every bad variable at once, in one line', () => {
    const r = parseAgentConfig({
      JR_API_GRPC: 'no port',
      JR_POOL: 'Bad:Pool',
      JR_LABELS: 'novalue',
      JR_NAME: 'a\nb',
      JR_SLOTS: '0',
      JR_HEARTBEAT_INTERVAL: 'soon',
      JR_KILL_GRACE: '-1s',
      JR_SHUTDOWN_GRACE: '2d',
      JR_BREAKER_THRESHOLD: '1.5',
      JR_LOG_LEVEL: 'loud',
      JR_ENROLL_TOKEN: 'has space',
      JR_REPORT_TIMEOUT: '0s',
      JR_OUTBOX_MAX_BYTES: '1KiB',
      JR_METRICS_PORT: 'http',
      JR_METRICS_HOST: 'not a host',
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues.map((i) => i.variable).sort()).toEqual([
      'JR_API_GRPC',
      'JR_BREAKER_THRESHOLD',
      'JR_ENROLL_TOKEN',
      'JR_HEARTBEAT_INTERVAL',
      'JR_KILL_GRACE',
      'JR_LABELS',
      'JR_LOG_LEVEL',
      'JR_METRICS_HOST',
      'JR_METRICS_PORT',
      'JR_NAME',
      'JR_OUTBOX_MAX_BYTES',
      'JR_POOL',
      'JR_REPORT_TIMEOUT',
      'JR_SHUTDOWN_GRACE',
      'JR_SLOTS',
    ]);
    const line = formatConfigIssues(r.issues);
    expect(line).not.toContain('\n');
    expect(line).toMatch(/^jr-agent: bad configuration: /);
    expect(line).toContain('JR_SLOTS must be an integer between 1 and 256 (got "0")');
  });

  it.each([['257'], ['-1'], ['4x'], ['1e2'], [' '.repeat(3)]])('refuses JR_SLOTS=%j', (slots) => {
    const r = parseAgentConfig({ JR_SLOTS: slots });
    expect(!r.ok && r.issues.map((i) => i.variable)).toEqual(['JR_SLOTS']);
  });

  it.each([['[::1]:50051'], ['dns:///api:50051'], ['unix:/run/jr.sock'], ['localhost:1']])(
    'accepts the gRPC target %s',
    (target) => {
      expect(parseAgentConfig({ JR_API_GRPC: target }).ok).toBe(true);
    },
  );

  it.each([
    ['0', 0],
    ['65535', 65_535],
    [' 9464 ', 9_464],
  ])('accepts JR_METRICS_PORT=%j', (raw, port) => {
    const r = parseAgentConfig({ JR_METRICS_PORT: raw });
    expect(r.ok && r.config.metricsPort).toBe(port);
  });

  it.each([['65536'], ['-1'], ['80x'], ['1e3'], ['0x50'], ['9'.repeat(400)]])('refuses JR_METRICS_PORT=%j', (raw) => {
    const r = parseAgentConfig({ JR_METRICS_PORT: raw });
    expect(!r.ok && r.issues.map((i) => i.variable)).toEqual(['JR_METRICS_PORT']);
    expect(!r.ok && r.issues[0]?.message.length).toBeLessThan(200);
  });

  it.each([
    ['::1', '::1'],
    ['[::1]', '::1'],
    ['0.0.0.0', '0.0.0.0'],
    ['metrics.internal', 'metrics.internal'],
  ])('accepts JR_METRICS_HOST=%j', (raw, host) => {
    const r = parseAgentConfig({ JR_METRICS_HOST: raw });
    expect(r.ok && r.config.metricsHost).toBe(host);
  });

  it.each([['http://127.0.0.1'], ['127.0.0.1:9464'], ['-bad'], ['a'.repeat(300)], ['host/path'], ['a..b']])(
    'refuses JR_METRICS_HOST=%j',
    (raw) => {
      const r = parseAgentConfig({ JR_METRICS_HOST: raw });
      expect(!r.ok && r.issues.map((i) => i.variable)).toEqual(['JR_METRICS_HOST']);
    },
  );

  it('refuses an oversized JR_LABELS', () => {
    const r = parseAgentConfig({ JR_LABELS: `a=${'x'.repeat(9000)}` });
    expect(!r.ok && r.issues[0]?.variable).toBe('JR_LABELS');
  });
});

describe('parseLabels', () => {
  it('parses k=v pairs, trimming blanks and empty items', () => {
    expect(parseLabels(' os=linux,,arch=x64 , gpu= ')).toEqual({
      ok: true,
      labels: { os: 'linux', arch: 'x64', gpu: '' },
    });
    expect(parseLabels('')).toEqual({ ok: true, labels: {} });
  });

  it('keeps a value containing "=" after the first one as invalid label text', () => {
    expect(parseLabels('k=a=b').ok).toBe(false);
  });

  it.each([
    ['os'],
    ['=linux'],
    ['os=linux,os=mac'],
    ['o s=linux'],
    ['os=lin ux'],
    ['__proto__=x'],
    [`${'k'.repeat(64)}=v`],
    [Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(',')],
  ])('refuses %j', (raw) => {
    expect(parseLabels(raw).ok).toBe(false);
  });

  it('does not confuse object prototype names with duplicates', () => {
    expect(parseLabels('constructor=x,toString=y')).toEqual({ ok: true, labels: { constructor: 'x', toString: 'y' } });
  });
});
