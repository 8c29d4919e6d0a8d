import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { AGENT_MAIN, baseEnv, newGate, waitFor, type ManagedProcess } from '@jr/testing';
import { LOOPBACK_ARTIFACTS, logLines, runAgentMain, shell, spec, trustEnv, useAgentFixture } from './agent-harness';

jest.setTimeout(90_000);

const sha = (b: string): string => createHash('sha256').update(b).digest('hex');
const NOBODY = 65_534;
const CLOUDSDK = 1_000;

/** A loopback artifact server (on `host`) counting requests; `/to-loopback` redirects to 127.0.0.1. */
async function artifactServer(files: Record<string, string>, host = '127.0.0.1') {
  let hits = 0;
  const server = http.createServer((req, res) => {
    hits++;
    if (req.url === '/to-loopback')
      return void res.writeHead(302, { location: `http://127.0.0.1:${port}/tool.sh` }).end();
    const body = files[req.url ?? ''];
    if (body === undefined) return void res.writeHead(404).end();
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: (p: string) => `http://${host}:${port}${p}`,
    hits: () => hits,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

if (process.getuid?.() !== 0)
  throw new Error('the isolation tests start agents as root and run jobs as nobody (65534) and cloudsdk (1000)');

describe('job isolation: steps run as unprivileged job users (the real daemon)', () => {
  const f = useAgentFixture({ build: true });

  /** `from`: log lines of earlier agents on the same data directory (the log file is appended to). */
  async function ready(proc: ManagedProcess, from = 0): Promise<void> {
    await waitFor(
      () => {
        if (!proc.running) throw new Error(`the agent exited:\n${proc.log().slice(-3_000)}`);
        return logLines(proc)
          .slice(from)
          .some((l) => l.msg === 'jr-agent ready');
      },
      { timeoutMs: 20_000, what: 'the ready line' },
    );
  }

  async function finish(jobId: string): Promise<string> {
    await waitFor(() => f.api.completion(jobId), { timeoutMs: 30_000, what: `job ${jobId} to complete` });
    return f.api.output(jobId);
  }

  it('a job cannot read the credential, the data directory or the agent environment (enroll token)', async () => {
    const proc = f.spawn({ name: 'iso', extraEnv: { JR_JOB_USER: 'nobody' } });
    await ready(proc);
    const credential = (
      JSON.parse(await readFile(path.join(f.dataDir, 'credential.json'), 'utf8')) as { credential: string }
    ).credential;
    const script = [
      'echo "uid=$(id -u) gid=$(id -g) groups=$(id -G) ppid=$PPID"',
      'grep "^Groups:" /proc/self/status',
      'cat "$DATA/credential.json" 2>/dev/null && echo CREDENTIAL-READ || echo credential-denied',
      'ls "$DATA" >/dev/null 2>&1 && echo DATA-LISTED || echo data-denied',
      '{ tr "\\0" "\\n" < /proc/$PPID/environ; } 2>/dev/null | grep JR_ENROLL_TOKEN && echo ENVIRON-READ || echo environ-denied',
      'echo "home=$HOME $(stat -c "%u %a" "$HOME") tmp=$(stat -c "%u %a" "$TMPDIR") root=$(stat -c "%a" "$HOME/../..")"',
      'ls "$HOME/../.." >/dev/null 2>&1 && echo WORKROOT-LISTED || echo workroot-unlisted',
    ].join('; ');
    const jobId = f.api.enqueue(spec([shell(script)], { env: { DATA: f.dataDir } }));
    const out = await finish(jobId);
    expect(f.api.completion(jobId)).toMatchObject({ outcome: 'OUTCOME_SUCCEEDED' });
    expect(out).not.toContain(credential);
    expect(out).not.toContain('enroll-secret');
    expect(out.split('\n')).toEqual([
      `uid=${NOBODY} gid=${NOBODY} groups=${NOBODY} ppid=${proc.pid}`,
      expect.stringMatching(/^Groups:\s*$/),
      'credential-denied',
      'data-denied',
      'environ-denied',
      expect.stringMatching(new RegExp(`^home=\\S+/${jobId}-1/work ${NOBODY} 700 tmp=${NOBODY} 700 root=711$`)),
      'workroot-unlisted',
      '',
    ]);
    expect((await stat(f.dataDir)).mode & 0o777).toBe(0o700);
    // The attempt's workspace is gone once it ended.
    expect(await readdir(`${f.dataDir}-work`)).toEqual([]);
  });

  it("two jobs on two slots run as two users: neither can read the other's /proc/PID/environ", async () => {
    const proc = f.spawn({ name: 'iso2', slots: 2, extraEnv: { JR_JOB_USERS: 'nobody,cloudsdk' } });
    await ready(proc);
    const gate = newGate();
    const pidFile = path.join(f.dropDir, 'first.pid');
    const first = f.api.enqueue(
      spec([shell(`echo "$(id -u)"; echo $$ > "$PIDFILE"; ${gate.wait}; echo first-done`)], {
        env: { PIDFILE: pidFile, DEPLOY_TOKEN: 'first-job-secret-0451' },
      }),
    );
    const pid = await waitFor(async () => (await readFile(pidFile, 'utf8').catch(() => '')).trim() || undefined, {
      what: 'the first job to record its pid',
    });
    const second = f.api.enqueue(
      spec([
        shell(
          `echo "$(id -u)"; { tr "\\0" "\\n" < /proc/${pid}/environ; } 2>/dev/null | grep DEPLOY_TOKEN || echo environ-denied; tr "\\0" "\\n" < /proc/$$/environ | grep -c JR_JOB_ID`,
        ),
      ]),
    );
    const out2 = await finish(second);
    gate.open();
    const out1 = await finish(first);
    const uids = [out1.split('\n')[0], out2.split('\n')[0]].map(Number).sort();
    expect(uids).toEqual([CLOUDSDK, NOBODY]);
    expect(out2).not.toContain('first-job-secret-0451');
    expect(out2.split('\n').slice(1)).toEqual(['environ-denied', '1', '']);
    expect(out1).toMatch(/first-done\n$/);
  });

  it('a job cannot overwrite a cached artifact; with root jobs allowed it can, and the next job still gets the verified file', async () => {
    const srv = await artifactServer({ '/tool.sh': 'echo genuine\n' });
    try {
      const uses = [{ url: srv.url('/tool.sh'), sha256: sha('echo genuine\n') }];
      const poison = (dataDir: string): string =>
        `chmod u+w "${dataDir}/cache/${uses[0]?.sha256}" 2>/dev/null; { echo 'echo poisoned' > "${dataDir}/cache/${uses[0]?.sha256}"; } 2>/dev/null && echo POISONED || echo cache-denied; { echo tampered >> "$JR_ARTIFACTS_DIR/tool.sh"; } 2>/dev/null || echo copy-read-only`;
      const proc = f.spawn({ name: 'cache', extraEnv: { ...LOOPBACK_ARTIFACTS, JR_JOB_USER: 'nobody' } });
      await ready(proc);
      const a = f.api.enqueue(spec([shell(poison(f.dataDir))], { uses }));
      expect(await finish(a)).toBe('cache-denied\ncopy-read-only\n');
      const b = f.api.enqueue(spec([shell('sh "$JR_ARTIFACTS_DIR/tool.sh"')], { uses }));
      expect(await finish(b)).toBe('genuine\n');
      expect(srv.hits()).toBe(1);
      await proc.stop(10_000);
      const mark = logLines(proc).length;

      // Root jobs (explicitly allowed) can write anything; the re-hash on the next hit is what saves the next job.
      const rootly = f.spawn({ name: 'cache-root', extraEnv: { ...LOOPBACK_ARTIFACTS, JR_ALLOW_ROOT_JOBS: '1' } });
      await ready(rootly, mark);
      const lines = (): Array<Record<string, unknown>> => logLines(rootly).slice(mark);
      expect(lines().some((l) => /JR_ALLOW_ROOT_JOBS=1: job steps run as root/.test(String(l.msg)))).toBe(true);
      const c = f.api.enqueue(spec([shell(poison(f.dataDir))], { uses }));
      expect(await finish(c)).toMatch(/^POISONED\n/);
      const d = f.api.enqueue(spec([shell('sh "$JR_ARTIFACTS_DIR/tool.sh"')], { uses }));
      expect(await finish(d)).toBe('genuine\n');
      expect(srv.hits()).toBe(2);
      expect(lines().filter((l) => /no longer matched its sha256/.test(String(l.msg)))).toHaveLength(1);
    } finally {
      await srv.close();
    }
  });

  it('steps get only the allow-listed environment plus their own, JR_JOB_ID and JR_ATTEMPT', async () => {
    const proc = f.spawn({
      name: 'env',
      extraEnv: {
        JR_JOB_USER: 'nobody',
        HTTPS_PROXY: 'http://proxy.internal:3128',
        AWS_SECRET_ACCESS_KEY: 'agent-cloud-key',
        GITHUB_TOKEN: 'agent-gh-token',
        JR_JOB_ENV_ALLOW: 'HTTPS_PROXY',
      },
    });
    await ready(proc);
    const jobId = f.api.enqueue(spec([{ name: 'env', argv: { args: ['/usr/bin/env'] } }], { env: { STAGE: 'prod' } }));
    const env = new Map(
      (await finish(jobId))
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]),
    );
    const passed = ['LANG', 'TZ'].filter((k) => process.env[k] !== undefined);
    expect([...env.keys()].sort()).toEqual(
      [
        'PATH',
        'HOME',
        'USER',
        'LOGNAME',
        'TMPDIR',
        'HTTPS_PROXY',
        'STAGE',
        'JR_JOB_ID',
        'JR_ATTEMPT',
        ...passed,
      ].sort(),
    );
    expect(Object.fromEntries(env)).toMatchObject({
      USER: 'nobody',
      LOGNAME: 'nobody',
      HTTPS_PROXY: 'http://proxy.internal:3128',
      STAGE: 'prod',
      JR_JOB_ID: jobId,
      JR_ATTEMPT: '1',
    });
  });

  it('reads the enroll token from JR_ENROLL_TOKEN_FILE: not even a root job finds it in the environment', async () => {
    const tokenFile = path.join(f.dropDir, 'enroll-token');
    await writeFile(tokenFile, 'enroll-secret\n', { mode: 0o600 });
    const proc = f.spawn({
      name: 'tokfile',
      enrollToken: '',
      extraEnv: { JR_ENROLL_TOKEN_FILE: tokenFile, JR_ALLOW_ROOT_JOBS: '1' },
    });
    await ready(proc);
    expect(f.api.calls.Enroll).toBe(1);
    const jobId = f.api.enqueue(
      spec([shell('tr "\\0" "\\n" < /proc/$PPID/environ | grep -c enroll-secret || echo not-in-environ')]),
    );
    expect(await finish(jobId)).toBe('0\nnot-in-environ\n');
  });
});

describe('a non-root agent with capabilities (systemd User=jr-agent + AmbientCapabilities=)', () => {
  const f = useAgentFixture({ build: true });
  const CAPS = ['setuid', 'setgid', 'kill', 'chown', 'dac_override', 'fowner'];

  it('runs steps as the job user with no capability left (a uid change between non-root users keeps them)', async () => {
    // What systemd does for the unit: the agent starts as a non-root user holding these ambient capabilities.
    const caps = CAPS.map((c) => `+${c}`).join(',');
    const log = path.join(f.dropDir, 'caps-agent.log');
    const child = spawn(
      'setpriv',
      [
        `--reuid=${CLOUDSDK}`,
        `--regid=${CLOUDSDK}`,
        '--clear-groups',
        `--inh-caps=${caps}`,
        `--ambient-caps=${caps}`,
        '--',
        process.execPath,
        AGENT_MAIN,
      ],
      {
        env: {
          ...baseEnv(),
          JR_API_GRPC: f.api.address,
          JR_DATA_DIR: f.dataDir,
          JR_ENROLL_TOKEN: 'enroll-secret',
          JR_HEARTBEAT_INTERVAL: '200ms',
          JR_JOB_USER: 'nobody',
          ...trustEnv({}),
        },
        stdio: ['ignore', openSync(log, 'a'), openSync(log, 'a')],
      },
    );
    const exited = new Promise((r) => child.once('exit', r));
    try {
      const jobId = f.api.enqueue(
        spec(
          [
            shell(
              'grep -E "^(Uid|Cap(Inh|Prm|Eff|Amb)):" /proc/self/status; { cat "$DATA/credential.json"; } 2>/dev/null || echo credential-denied',
            ),
          ],
          { env: { DATA: f.dataDir } },
        ),
      );
      await waitFor(
        () => {
          if (child.exitCode !== null) throw new Error(`the agent exited:\n${readFileSync(log, 'utf8').slice(-3_000)}`);
          return f.api.completion(jobId);
        },
        { timeoutMs: 30_000, what: 'the job' },
      );
      const agentStatus = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      expect(agentStatus).toMatch(new RegExp(`^Uid:\\t${CLOUDSDK}\\t`, 'm'));
      expect(agentStatus).toMatch(/^CapEff:\t0*eb$/m);
      expect(f.api.output(jobId).split('\n')).toEqual([
        `Uid:\t${NOBODY}\t${NOBODY}\t${NOBODY}\t${NOBODY}`,
        'CapInh:\t0000000000000000',
        'CapPrm:\t0000000000000000',
        'CapEff:\t0000000000000000',
        'CapAmb:\t0000000000000000',
        'credential-denied',
        '',
      ]);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
});

describe('refusing root jobs at start-up (exit 78, one line)', () => {
  const f = useAgentFixture({ build: true });
  const base = (): Record<string, string> => ({
    JR_API_GRPC: f.api.address,
    JR_DATA_DIR: f.dataDir,
    JR_ENROLL_TOKEN: 'enroll-secret',
    ...trustEnv({}),
  });

  it.each([
    [{}, /the agent runs as root and JR_JOB_USER is not set/],
    [{ JR_JOB_USER: 'root' }, /JR_JOB_USER\(S\) root is uid or gid 0/],
    [{ JR_JOB_USERS: 'nobody,0:0', JR_SLOTS: '2' }, /JR_JOB_USER\(S\) root is uid or gid 0/],
    [{ JR_JOB_USER: 'no-such-user-here' }, /no user named "no-such-user-here"/],
  ])('with %j', async (env, why) => {
    const r = await runAgentMain([], { ...base(), ...env });
    expect({ code: r.code, lines: r.stderr.trim().split('\n') }).toEqual({
      code: 78,
      lines: [expect.stringMatching(why)],
    });
    expect(f.api.calls.Enroll).toBe(0);
  });

  it('with JR_ALLOW_ROOT_JOBS=1 it starts, warns, and runs steps as root', async () => {
    const proc = f.spawn({ name: 'rooted', extraEnv: { JR_ALLOW_ROOT_JOBS: '1' } });
    await waitFor(() => logLines(proc).some((l) => l.msg === 'jr-agent ready'), { timeoutMs: 20_000 });
    expect(logLines(proc).filter((l) => l.level === 40 && /JR_ALLOW_ROOT_JOBS=1/.test(String(l.msg)))).toHaveLength(1);
    const jobId = f.api.enqueue(spec([shell('id -u')]));
    await waitFor(() => f.api.completion(jobId), { timeoutMs: 20_000 });
    expect(f.api.output(jobId)).toBe('0\n');
  });

  it('refuses a JR_WORK_DIR the job user cannot reach', async () => {
    const closed = `${f.dataDir}-work`; // removed with the data directory
    await mkdir(closed, { mode: 0o700 });
    const r = await runAgentMain([], { ...base(), JR_JOB_USER: 'nobody', JR_WORK_DIR: path.join(closed, 'w') });
    expect({ code: r.code, lines: r.stderr.trim().split('\n') }).toEqual({
      code: 78,
      lines: [expect.stringMatching(/\(mode 0700\) keeps nobody out of JR_WORK_DIR .*: set JR_WORK_DIR elsewhere$/)],
    });
  });
});

describe('artifact URLs: https only, no internal addresses (first request, every redirect, after DNS)', () => {
  const f = useAgentFixture();
  let srv: Awaited<ReturnType<typeof artifactServer>> | undefined;
  afterEach(async () => {
    await srv?.close();
    srv = undefined;
  });

  async function refused(url: string, env: Record<string, string> = {}): Promise<string> {
    await f.start(env);
    const jobId = f.api.enqueue(spec([shell('echo must not run')], { uses: [{ url, sha256: sha('x') }] }));
    await waitFor(() => f.api.completion(jobId), { timeoutMs: 20_000 });
    expect(f.api.completion(jobId)).toMatchObject({ outcome: 'OUTCOME_FAILED', reason: 'download_failed' });
    const out = f.api.output(jobId);
    expect(out).not.toContain('must not run');
    return out;
  }

  it('refuses plain http by default', async () => {
    srv = await artifactServer({ '/tool.sh': 'x' });
    expect(await refused(srv.url('/tool.sh'))).toMatch(/plain http .*JR_ARTIFACT_ALLOW_HTTP=1/);
    expect(srv.hits()).toBe(0);
  });

  it.each([
    ['https://127.0.0.1:1/tool.sh', /127\.0\.0\.1 is a loopback address/],
    ['https://169.254.169.254/latest/meta-data/iam', /169\.254\.169\.254 is a link-local address/],
    ['https://10.0.0.7/tool.sh', /10\.0\.0\.7 is a private address/],
    ['https://[::ffff:127.0.0.1]/tool.sh', /embeds 127\.0\.0\.1 is a loopback/],
    ['https://localhost:1/tool.sh', /refused localhost: it resolves to (127\.0\.0\.1|::1), a loopback address/],
  ])('refuses %s with the reason in the job output', async (url, why) => {
    expect(await refused(url)).toMatch(why);
  });

  it('follows an allowed mirror but refuses its redirect to loopback', async () => {
    srv = await artifactServer({ '/tool.sh': 'x' }, '127.0.0.3');
    const out = await refused(srv.url('/to-loopback'), {
      JR_ARTIFACT_ALLOW_HTTP: '1',
      JR_ARTIFACT_ALLOW_CIDRS: '127.0.0.3/32',
    });
    expect(out).toMatch(/refused http:\/\/127\.0\.0\.1:\d+\/tool\.sh: 127\.0\.0\.1 is a loopback address/);
    expect(srv.hits()).toBe(1);
  });
});
