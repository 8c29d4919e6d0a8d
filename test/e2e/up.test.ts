import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { fingerprintOf } from '@jr/pki';
import {
  baseEnv,
  deleteRedisPrefix,
  freePort,
  REPO_ROOT,
  runCli,
  testRedisUrl,
  testServerUrl,
  waitFor,
} from '@jr/testing';

interface UpNames {
  databaseUrl: string;
  database: string;
  queuePrefix: string;
  chosen: { database: boolean; queuePrefix: boolean };
}
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a plain CommonJS script of the repo
const { upNames } = require(path.join(REPO_ROOT, 'scripts/up-names.js')) as {
  upNames(o: { env?: Record<string, string>; user?: string; varDir: string }): UpNames;
};

describe('npm run up names its database and queue prefix', () => {
  it('per user and var directory, safe in both names, unless DATABASE_URL / JR_QUEUE_PREFIX say otherwise', () => {
    const mine = upNames({ env: {}, user: 'alice', varDir: '/home/alice/jobrunner/var' });
    expect(mine).toMatchObject({
      database: expect.stringMatching(/^jobrunner_up_alice_[0-9a-f]{6}$/),
      queuePrefix: expect.stringMatching(/^jrup-alice-[0-9a-f]{6}$/),
    });
    expect(mine.databaseUrl).toBe(`postgres://postgres@127.0.0.1:5432/${mine.database}`);
    expect(upNames({ env: {}, user: 'bob', varDir: '/home/alice/jobrunner/var' }).database).not.toBe(mine.database);
    expect(upNames({ env: {}, user: 'alice', varDir: '/home/alice/other-checkout/var' }).database).not.toBe(
      mine.database,
    );
    for (const user of ['Dr. "X"; DROP', '\u0000\ud800', 'ü'.repeat(100), '']) {
      const n = upNames({ env: {}, user, varDir: '/v' });
      expect(n.database).toMatch(/^jobrunner_up_[a-z0-9_]{1,31}$/);
      expect(n.queuePrefix).toMatch(/^[A-Za-z0-9_.-]{1,64}$/);
    }
    expect(
      upNames({
        env: { DATABASE_URL: 'postgres://u@db:5433/ours', JR_QUEUE_PREFIX: 'team' },
        user: 'alice',
        varDir: '/v',
      }),
    ).toEqual({
      databaseUrl: 'postgres://u@db:5433/ours',
      database: 'ours',
      queuePrefix: 'team',
      chosen: { database: true, queuePrefix: true },
    });
  });
});

/** `node scripts/up.js` as a user runs it, its output collected. */
class Up {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  private readonly exit: Promise<number | null>;

  constructor(env: Record<string, string>) {
    this.child = spawn(process.execPath, [path.join(REPO_ROOT, 'scripts/up.js')], {
      cwd: REPO_ROOT,
      env: { ...baseEnv(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout?.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.child.stderr?.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exit = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  async ready(): Promise<void> {
    await waitFor(
      () => {
        if (this.child.exitCode !== null) throw new Error(`up exited ${this.child.exitCode}:\n${this.stderr}`);
        return this.stdout.includes('jobrunner is up');
      },
      { timeoutMs: 120_000, intervalMs: 200, what: `"jobrunner is up" (stderr so far:\n${this.stderr})` },
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\n--- up stderr ---\n${this.stderr}`);
    });
  }

  async interrupt(): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill('SIGINT');
    return this.exit;
  }
}

describe('npm run up', () => {
  let varDir: string;
  let names: UpNames;
  let ups: Up[] = [];
  let env: Record<string, string>;

  beforeAll(async () => {
    varDir = await mkdtemp(path.join(tmpdir(), 'jr-up-'));
    names = upNames({ env: {}, varDir });
    env = {
      JR_UP_VAR_DIR: varDir,
      JR_HTTP_PORT: String(await freePort()),
      JR_GRPC_PORT: String(await freePort()),
      REDIS_URL: testRedisUrl(),
      JR_HEARTBEAT_INTERVAL: '1s',
    };
  });

  afterAll(async () => {
    for (const up of ups) await up.interrupt();
    const admin = new Client({ connectionString: testServerUrl() });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${names.database}" WITH (FORCE)`).finally(() => admin.end());
    await deleteRedisPrefix(testRedisUrl(), `${names.queuePrefix}:`).catch(() => undefined);
    await rm(varDir, { recursive: true, force: true });
  });

  const start = async (): Promise<Up> => {
    const up = new Up(env);
    ups.push(up);
    await up.ready();
    return up;
  };

  it('uses its own database and prefix, and after a drain says so at the next start; an undrain lets the agent run jobs again', async () => {
    const first = await start();
    expect(first.stderr).toContain(
      `[up] database ${names.database} on 127.0.0.1:5432, queue prefix ${names.queuePrefix} (this checkout's own`,
    );
    expect(first.stdout).toContain('--- demo job');
    // the banner's commands: https with the API's own CA, or its fingerprint to pin
    const caFile = path.join(varDir, 'api', 'tls', 'ca.pem');
    const caSha256 = fingerprintOf(await readFile(caFile));
    expect(first.stdout).toContain(`export JR_API_URL=https://127.0.0.1:${env.JR_HTTP_PORT} JR_CA_FILE=`);
    expect(first.stdout).toContain(`export JR_API_CA_SHA256=${caSha256}`);
    const cliEnv = {
      JR_API_URL: `https://127.0.0.1:${env.JR_HTTP_PORT}`,
      JR_CA_FILE: caFile,
      JR_TOKEN: (await readFile(path.join(varDir, 'up', 'admin-token'), 'utf8')).trim(),
    };
    const pinned = { ...cliEnv, JR_CA_FILE: '', JR_API_CA_SHA256: caSha256 };
    expect((await runCli(['agents', '--json'], pinned)).code).toBe(0);
    const agents = JSON.parse((await runCli(['agents', '--json'], cliEnv)).stdout) as {
      items: Array<{ id: string; name: string }>;
    };
    expect(agents.items.map((a) => a.name)).toEqual(['local-agent']);
    const id = agents.items[0]!.id;
    const db = new Client({ connectionString: names.databaseUrl });
    await db.connect();
    const jobs = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs').finally(() => db.end());
    expect(jobs.rows[0]?.n).toBe(1);

    expect((await runCli(['agents', 'drain', id], cliEnv)).code).toBe(0);
    expect(await first.interrupt()).toBe(0);
    ups = [];

    const second = await start();
    expect(second.stderr).toContain(`[up] the local agent ${id} is drained`);
    expect(second.stderr).toContain(`\`npx jr agents undrain ${id}\``);
    expect(second.stdout).toContain(`npx jr agents undrain ${id}`);
    expect(second.stdout).not.toContain('--- demo job');
    expect((await runCli(['agents', 'undrain', id], cliEnv)).code).toBe(0);
    const job = await runCli(['submit', '--wait', '--wait-timeout', '60s', '--', 'echo', 'after undrain'], cliEnv);
    expect(job.code).toBe(0);
    const listed = JSON.parse((await runCli(['agents', '--json'], cliEnv)).stdout) as {
      items: Array<{ id: string; state: string; draining: boolean }>;
    };
    expect(listed.items).toEqual([expect.objectContaining({ id, state: 'active', draining: false })]);
    expect(await second.interrupt()).toBe(0);
    ups = [];
  });
});
