import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateSigningKeyPair } from '@jr/contracts';
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
        apiEndpoints: ['127.0.0.1:50051'],
        apiFailbackAfterMs: 30_000,
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
        breakerMinOutageMs: 30_000,
        reportTimeoutMs: 15_000,
        reportRetries: 2,
        outboxMaxBytes: 64 * 1024 * 1024,
        logLevel: 'info',
        leaseWaitMs: 25_000,
        childEnv: {},
        metricsPort: undefined,
        metricsHost: '127.0.0.1',
        enrollTokenFile: undefined,
        jobUsers: [],
        allowRootJobs: false,
        workDir: '/srv/var/agent-work',
        artifactAllowHttp: false,
        artifactAllowCidrs: [],
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

  it('passes steps only an allow-list of its environment, never JR_* (JR_JOB_ENV_ALLOW extends it)', () => {
    const env = {
      PATH: '/bin',
      LANG: 'C.UTF-8',
      LC_ALL: 'C',
      TZ: 'UTC',
      HOME: '/root',
      JR_ENROLL_TOKEN: 'secret',
      JR_POOL: 'p',
      GITHUB_TOKEN: 'g',
      AWS_SECRET_ACCESS_KEY: 'a',
      HTTPS_PROXY: 'http://proxy:3128',
      PIP_INDEX_URL: 'https://mirror',
    };
    const base = parseAgentConfig(env);
    expect(base.ok && base.config.childEnv).toEqual({ PATH: '/bin', LANG: 'C.UTF-8', LC_ALL: 'C', TZ: 'UTC' });
    const more = parseAgentConfig({ ...env, JR_JOB_ENV_ALLOW: 'HTTPS_PROXY, PIP_*' });
    expect(more.ok && more.config.childEnv).toEqual({
      PATH: '/bin',
      LANG: 'C.UTF-8',
      LC_ALL: 'C',
      TZ: 'UTC',
      HTTPS_PROXY: 'http://proxy:3128',
      PIP_INDEX_URL: 'https://mirror',
    });
    for (const bad of ['JR_ENROLL_TOKEN', 'JR_*', 'J*', '*', 'A=B'])
      expect(parseAgentConfig({ JR_JOB_ENV_ALLOW: bad })).toMatchObject({
        ok: false,
        issues: [{ variable: 'JR_JOB_ENV_ALLOW' }],
      });
  });

  it('reads job users, root permission, the work directory and the artifact options', () => {
    const r = parseAgentConfig({
      JR_DATA_DIR: '/var/lib/jr-agent',
      JR_JOB_USERS: 'jr-job1, 2001:2001 ,jr-job3,4004',
      JR_SLOTS: '4',
      JR_ALLOW_ROOT_JOBS: '1',
      JR_WORK_DIR: '/srv/jobs',
      JR_ARTIFACT_ALLOW_HTTP: '1',
      JR_ARTIFACT_ALLOW_CIDRS: '10.1.2.0/24, fd00::1, [::1]/128',
      JR_ENROLL_TOKEN_FILE: '/run/credentials/jr-agent.service/enroll-token',
    });
    expect(r.ok && r.config).toMatchObject({
      jobUsers: [
        { kind: 'name', name: 'jr-job1' },
        { kind: 'id', uid: 2001, gid: 2001 },
        { kind: 'name', name: 'jr-job3' },
        { kind: 'id', uid: 4004, gid: undefined },
      ],
      allowRootJobs: true,
      workDir: '/srv/jobs',
      artifactAllowHttp: true,
      artifactAllowCidrs: [
        { address: '10.1.2.0', prefix: 24, family: 'ipv4' },
        { address: 'fd00::1', prefix: 128, family: 'ipv6' },
        { address: '::1', prefix: 128, family: 'ipv6' },
      ],
      enrollTokenFile: '/run/credentials/jr-agent.service/enroll-token',
    });
    expect(parseAgentConfig({ JR_JOB_USER: 'nobody' })).toMatchObject({
      ok: true,
      config: { jobUsers: [{ kind: 'name', name: 'nobody' }] },
    });
  });

  it.each([
    [{ JR_JOB_USERS: 'a,b', JR_SLOTS: '4' }, 'JR_JOB_USERS', /lists 2 user\(s\) for JR_SLOTS=4/],
    [{ JR_JOB_USERS: 'a,a', JR_SLOTS: '2' }, 'JR_JOB_USERS', /twice/],
    [{ JR_JOB_USER: 'a', JR_JOB_USERS: 'b' }, 'JR_JOB_USERS', /not both/],
    [{ JR_JOB_USER: 'a,b' }, 'JR_JOB_USER', /one per slot in JR_JOB_USERS/],
    [{ JR_JOB_USER: 'bad user' }, 'JR_JOB_USER', /user name or uid/],
    [{ JR_JOB_USER: '4294967295' }, 'JR_JOB_USER', /at most/],
    [{ JR_ALLOW_ROOT_JOBS: 'yes' }, 'JR_ALLOW_ROOT_JOBS', /1 or 0/],
    [{ JR_ARTIFACT_ALLOW_CIDRS: '10.0.0.0/33' }, 'JR_ARTIFACT_ALLOW_CIDRS', /prefix length/],
    [{ JR_ARTIFACT_ALLOW_CIDRS: 'intranet' }, 'JR_ARTIFACT_ALLOW_CIDRS', /CIDR ranges/],
    [{ JR_DATA_DIR: '/d', JR_WORK_DIR: '/d/work' }, 'JR_WORK_DIR', /outside JR_DATA_DIR/],
    [{ JR_ENROLL_TOKEN: 't', JR_ENROLL_TOKEN_FILE: '/f' }, 'JR_ENROLL_TOKEN_FILE', /not both/],
  ])('refuses %j', (env, variable, message) => {
    const r = parseAgentConfig(env);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues).toEqual([{ variable, message: expect.stringMatching(message) as unknown }]);
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

  it('takes a list of endpoints, primary first, and JR_API_FAILBACK_AFTER', () => {
    const r = parseAgentConfig({
      JR_API_GRPC: 'api-a:7000, [fd00::2]:7000,10.0.0.3:7000',
      JR_API_FAILBACK_AFTER: '5s',
    });
    expect(r.ok && [r.config.apiEndpoints, r.config.apiAddress, r.config.apiFailbackAfterMs]).toEqual([
      ['api-a:7000', '[fd00::2]:7000', '10.0.0.3:7000'],
      'api-a:7000,[fd00::2]:7000,10.0.0.3:7000',
      5_000,
    ]);
    const bad = parseAgentConfig({ JR_API_GRPC: 'api-a:7000,api-b', JR_API_FAILBACK_AFTER: 'later' });
    expect(!bad.ok && formatConfigIssues(bad.issues)).toContain('JR_API_GRPC entry 2 "api-b": must be host:port');
    expect(!bad.ok && bad.issues.map((i) => i.variable).sort()).toEqual(['JR_API_FAILBACK_AFTER', 'JR_API_GRPC']);
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

describe('JR_JOB_VERIFY_KEYS', () => {
  const a = generateSigningKeyPair();
  const b = generateSigningKeyPair();
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'jr-verify-keys-'));
    writeFileSync(path.join(dir, 'a.pub'), a.publicPem);
    writeFileSync(path.join(dir, 'both.pem'), `${a.publicPem}${b.publicPem}`);
    writeFileSync(path.join(dir, 'a.key'), a.privatePem);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const ids = (env: Record<string, string>): string[] | undefined => {
    const r = parseAgentConfig(env, dir);
    if (!r.ok) throw new Error(formatConfigIssues(r.issues));
    return r.config.verifyKeys && [...r.config.verifyKeys.keys()].sort();
  };

  it('is off when unset, so unsigned jobs run', () => {
    expect(ids({})).toBeUndefined();
  });

  it('takes PEM text, one file, or a comma-separated list of files with several keys each', () => {
    expect(ids({ JR_JOB_VERIFY_KEYS: a.publicPem })).toEqual([a.keyId]);
    expect(ids({ JR_JOB_VERIFY_KEYS: 'a.pub' })).toEqual([a.keyId]);
    expect(ids({ JR_JOB_VERIFY_KEYS: ` a.pub , ${path.join(dir, 'both.pem')} ` })).toEqual([a.keyId, b.keyId].sort());
  });

  it.each([
    ['missing.pub', /JR_JOB_VERIFY_KEYS cannot read .*missing\.pub: ENOENT/],
    ['a.key', /a\.key is a private key; give agents the public key only/],
    [',', /must be PEM public keys or a comma-separated list of files/],
    ['-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n', /not a readable public key/],
  ])('refuses %j with one clear line', (value, message) => {
    const r = parseAgentConfig({ JR_JOB_VERIFY_KEYS: value }, dir);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(formatConfigIssues(r.issues)).toMatch(message);
  });

  it('is not passed on to job steps', () => {
    const r = parseAgentConfig({ JR_JOB_VERIFY_KEYS: 'a.pub', PATH: '/bin' }, dir);
    expect(r.ok && r.config.childEnv).toEqual({ PATH: '/bin' });
  });
});
