import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadAgentProto, type AgentList } from '@jr/contracts';
import { fingerprintOf } from '@jr/pki';
import {
  API_MAIN,
  ManagedProcess,
  Stack,
  baseEnv,
  createTestDatabase,
  freePort,
  testRedisUrl,
  waitFor,
} from '@jr/testing';

// TLS on every link, against real jr-api, jr-agent and jr processes: the API's own CA by default, an
// operator's openssl-made certificate, pinning by fingerprint, and plain text only when asked for.

/** A plain-text HTTP request to an https port: undefined when no HTTP answer came back. */
function plainHttpStatus(url: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.setTimeout(5_000, () => req.destroy());
    req.once('error', () => resolve(undefined));
  });
}

/** Enroll over a plain-text gRPC channel: resolves with the status code the call ended with. */
function plainEnroll(address: string, token: string): Promise<grpc.status> {
  const Ctor = loadAgentProto().jobrunner.v1.AgentService;
  const client = new Ctor(address, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${token}`);
  return new Promise((resolve) => {
    client.Enroll(
      { name: 'plain', pool: 'default', slots: 1, labels: {} },
      md,
      { deadline: Date.now() + 5_000 },
      (err) => {
        client.close();
        resolve(err ? err.code : grpc.status.OK);
      },
    );
  });
}

describe("TLS with the API's own CA (the default)", () => {
  const stack = new Stack('1s');
  beforeAll(() => stack.start());
  afterAll(() => stack.close());

  const agentNames = async (): Promise<string[]> => (await stack.get<AgentList>('/v1/agents')).items.map((a) => a.name);

  it('made its CA in JR_DATA_DIR/tls (keys 0600) and serves it on both ports', () => {
    const dir = path.dirname(stack.caFile);
    // the agent CA (client certificates) is separate from the server CA
    expect(fs.readdirSync(dir).sort()).toEqual([
      'agent-ca-key.pem',
      'agent-ca.pem',
      'ca-key.pem',
      'ca.pem',
      'server-key.pem',
      'server.pem',
    ]);
    for (const key of ['ca-key.pem', 'server-key.pem', 'agent-ca-key.pem'])
      expect(fs.statSync(path.join(dir, key)).mode & 0o777).toBe(0o600);
    expect(stack.api.log()).toContain(fingerprintOf(fs.readFileSync(stack.caFile)));
  });

  it('refuses plain-text HTTP and plain-text gRPC clients', async () => {
    expect(await plainHttpStatus(`${stack.baseUrl.replace('https:', 'http:')}/healthz`)).toBeUndefined();
    expect(await plainEnroll(stack.grpcAddress, stack.enrollToken)).toBe(grpc.status.UNAVAILABLE);
    await expect(fetch(`${stack.baseUrl}/healthz`)).rejects.toThrow(); // TLS, but trusting only the system's CAs
    expect(await agentNames()).toEqual([]);
    expect((await stack.fetch('/healthz')).status).toBe(200);
  });

  it('an agent that cannot verify the API exits 76 with one line, and does not enroll', async () => {
    const agent = await stack.startAgent('no-ca', { waitActive: false, extraEnv: { JR_CA_FILE: '' } });
    expect((await agent.exited()).code).toBe(76);
    expect(agent.log()).toMatch(/failed TLS verification with the system's CAs .*set JR_CA_FILE/);
    const other = await stack.startAgent('other-ca', {
      waitActive: false,
      extraEnv: { JR_CA_FILE: openssl(path.join(stack.dir, 'other')).caFile },
    });
    expect((await other.exited()).code).toBe(76);
    expect(await agentNames()).toEqual([]);
  });

  it('a wrong pin is refused (exit 76); the right pin enrolls and the CA is remembered across a restart', async () => {
    const caSha256 = fingerprintOf(fs.readFileSync(stack.caFile));
    const wrong = `sha256:${'0'.repeat(64)}`;
    const refused = await stack.startAgent('pinned', { waitActive: false, extraEnv: { JR_API_CA_SHA256: wrong } });
    expect((await refused.exited()).code).toBe(76);
    expect(refused.log()).toContain(`presented no certificate with fingerprint ${wrong}`);
    expect(await agentNames()).toEqual([]);
    const dataDir = path.join(stack.dir, 'agent-pinned');
    expect(fs.existsSync(path.join(dataDir, 'api-ca.pem'))).toBe(false);

    // openssl's spelling of the fingerprint is accepted as it is printed
    const opensslPin = execFileSync('openssl', ['x509', '-in', stack.caFile, '-noout', '-fingerprint', '-sha256'], {
      encoding: 'utf8',
    }).trim();
    const first = await stack.startAgent('pinned', { extraEnv: { JR_API_CA_SHA256: opensslPin } });
    expect(fs.readFileSync(path.join(dataDir, 'api-ca.pem'), 'utf8')).toBe(fs.readFileSync(stack.caFile, 'utf8'));
    expect(fingerprintOf(fs.readFileSync(path.join(dataDir, 'api-ca.pem')))).toBe(caSha256);
    await first.stop();
    // no CA file, no pin: the saved CA alone
    const restartedAt = Date.now();
    const again = await stack.startAgent('pinned', { extraEnv: { JR_INSECURE: '0' } });
    // its heartbeats reach the API over TLS, trusting the saved CA (a heartbeat after the restart, not the first's)
    await waitFor(
      async () => {
        const view = (await stack.get<AgentList>('/v1/agents')).items.find((a) => a.name === 'pinned');
        return view?.lastHeartbeatAt != null && Date.parse(view.lastHeartbeatAt) > restartedAt;
      },
      { timeoutMs: 15_000, what: 'a heartbeat of the restarted agent' },
    );
    expect(again.log()).not.toContain('TLS verification');
    await again.stop();
  });

  it('the CLI: without the CA a trust error (exit 69) naming the fix; with JR_CA_FILE or the pin it works', async () => {
    const untrusted = await stack.cli(['list'], { JR_CA_FILE: '' });
    expect(untrusted.code).toBe(69);
    expect(untrusted.stderr).toMatch(/^jr: cannot trust the API at https:\/\/127\.0\.0\.1:\d+\/ .*JR_CA_FILE/);
    expect((await stack.cli(['list'])).code).toBe(0);
    const caSha256 = fingerprintOf(fs.readFileSync(stack.caFile));
    expect((await stack.cli(['list'], { JR_CA_FILE: '', JR_API_CA_SHA256: caSha256 })).code).toBe(0);
    const wrongPin = await stack.cli(['list'], { JR_CA_FILE: '', JR_API_CA_SHA256: `sha256:${'1'.repeat(64)}` });
    expect(wrongPin.code).toBe(69);
    expect(wrongPin.stderr).toContain('presented no certificate with fingerprint');
    const plain = await stack.cli(['list'], { JR_API_URL: stack.baseUrl.replace('https:', 'http:') });
    expect(plain.code).toBe(69);
    // a context's caFile is applied too
    const ctx = { JR_CONFIG: path.join(stack.dir, 'jr-config.yaml'), JR_API_URL: '', JR_TOKEN: '', JR_CA_FILE: '' };
    const set = ['config', 'set-context', 'tls', '--api-url', stack.baseUrl, '--token', stack.adminToken];
    expect((await stack.cli([...set, '--ca-file', stack.caFile], ctx)).code).toBe(0);
    expect((await stack.cli(['config', 'use-context', 'tls'], ctx)).code).toBe(0);
    expect((await stack.cli(['list'], ctx)).code).toBe(0);
  });

  it('keeps its CA across a restart (agents that pinned it still trust it)', async () => {
    const before = fs.readFileSync(stack.caFile, 'utf8');
    await stack.api.stop();
    await stack.startApi();
    expect(fs.readFileSync(stack.caFile, 'utf8')).toBe(before);
    expect((await stack.cli(['list'])).code).toBe(0);
  });

  it('an agent that learnt the CA refuses the API back with another CA: exit 76 at its next call, no retry loop', async () => {
    const pin = fingerprintOf(fs.readFileSync(stack.caFile));
    const loyal = await stack.startAgent('loyal', { extraEnv: { JR_API_CA_SHA256: pin } });
    await stack.api.stop();
    fs.rmSync(path.dirname(stack.caFile), { recursive: true }); // the API makes a new CA at its next start
    await stack.startApi();
    expect(fingerprintOf(fs.readFileSync(stack.caFile))).not.toBe(pin);
    expect((await loyal.exited()).code).toBe(76);
    expect(loyal.log()).toContain("the API's TLS certificate failed verification");
  });
});

interface OpensslCa {
  caFile: string;
  certFile: string;
  keyFile: string;
  caKeyFile: string;
}

/** A CA and a 127.0.0.1 server certificate made by the openssl command, as an operator would. */
function openssl(dir: string): OpensslCa {
  fs.mkdirSync(dir, { recursive: true });
  const f = (name: string): string => path.join(dir, name);
  const run = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run('req', '-x509', ...ec, '-keyout', f('ca-key.pem'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=operator CA');
  run('req', ...ec, '-keyout', f('server-key.pem'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1');
  fs.writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  run(
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.pem'),
    '-CAkey',
    f('ca-key.pem'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    f('ext.cnf'),
    '-out',
    f('server.pem'),
  );
  return { caFile: f('ca.pem'), certFile: f('server.pem'), keyFile: f('server-key.pem'), caKeyFile: f('ca-key.pem') };
}

describe("TLS with the operator's certificate (made with openssl)", () => {
  const dir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'jr-e2e-openssl-'));
  const op = openssl(dir);
  const stack = new Stack('1s', { apiEnv: { JR_TLS_CERT: op.certFile, JR_TLS_KEY: op.keyFile }, caFile: op.caFile });
  beforeAll(() => stack.start());
  afterAll(async () => {
    await stack.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves it on both ports: an agent with JR_CA_FILE runs a job the CLI submitted', async () => {
    await stack.startAgent('op-agent');
    const r = await stack.cli(['submit', '--wait', '--', 'echo', 'operator tls']);
    expect(r.code).toBe(0);
    // no server CA of its own; only the agent CA, which signs the agents' client certificates
    expect(fs.readdirSync(path.join(stack.dir, 'api', 'tls')).sort()).toEqual(['agent-ca-key.pem', 'agent-ca.pem']);
  });

  it('a bad certificate or key is one configuration line and exit 2', async () => {
    const db = await createTestDatabase();
    try {
      const start = async (tls: Record<string, string>): Promise<{ code: number | null; log: string }> => {
        const env = {
          ...baseEnv(),
          JR_HTTP_PORT: String(await freePort()),
          JR_GRPC_PORT: String(await freePort()),
          JR_DATA_DIR: path.join(dir, 'bad-api'),
          REDIS_URL: testRedisUrl(),
          DATABASE_URL: db.url,
          JR_ADMIN_TOKEN: 'admin-token-for-the-tls-test-0123456789',
          JR_ENROLL_TOKEN: 'enroll-token-for-the-tls-test',
          ...tls,
        };
        const p = new ManagedProcess('bad-api', API_MAIN, env, path.join(dir, `bad-${Date.now()}.log`));
        const { code } = await p.exited();
        return { code, log: p.log() };
      };
      const cases: Array<[Record<string, string>, RegExp]> = [
        [{ JR_TLS_CERT: path.join(dir, 'missing.pem'), JR_TLS_KEY: op.keyFile }, /JR_TLS_CERT: cannot read .*ENOENT/],
        [{ JR_TLS_CERT: op.certFile, JR_TLS_KEY: op.caKeyFile }, /the key does not belong to the first certificate/],
        [{ JR_TLS_CERT: path.join(dir, 'ext.cnf'), JR_TLS_KEY: op.keyFile }, /JR_TLS_CERT: .* is not PEM/],
        [{ JR_TLS_CERT: op.certFile }, /JR_TLS_KEY: required with JR_TLS_CERT/],
      ];
      for (const [tls, message] of cases) {
        const r = await start(tls);
        expect(r.code).toBe(2);
        const lines = r.log.trim().split('\n');
        expect(lines.filter((l) => l.startsWith('jr-api: bad configuration:'))).toEqual([
          expect.stringMatching(message),
        ]);
      }
    } finally {
      await db.drop();
    }
  });
});

describe('JR_INSECURE=1: plain text on both links, with a warning', () => {
  const stack = new Stack('1s', { apiEnv: { JR_INSECURE: '1' } });
  beforeAll(() => stack.start());
  afterAll(() => stack.close());

  it('works end to end over http and plain gRPC, and each process says so', async () => {
    expect(stack.baseUrl).toMatch(/^http:\/\//);
    const agent = await stack.startAgent('plain-agent');
    const r = await stack.cli(['submit', '--wait', '--', 'echo', 'plain']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('warning: JR_INSECURE=1: talking to 127.0.0.1');
    const warned = (log: string): boolean =>
      log.split('\n').some((l) => l.includes('"level":40') && l.includes('JR_INSECURE=1'));
    await waitFor(() => warned(stack.api.log()) && warned(agent.log()), { what: 'both warnings in the logs' });
  });
});
