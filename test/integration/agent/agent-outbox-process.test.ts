import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  AGENT_MAIN,
  FaultProxy,
  REPO_ROOT,
  baseEnv,
  startAgentProcess,
  testTlsIfMade,
  type TestTls,
  waitFor,
  type ManagedProcess,
} from '@jr/testing';
import { shell, spec, tempDataDir } from './agent-harness';
import { sendControlCommand } from '../../../apps/agent/src/control/control-client';
import { controlSocketPath } from '../../../apps/agent/src/control/control-protocol';
import { FakeAgentApi } from './fake-agent-api';

jest.setTimeout(120_000);

interface Status {
  ok: boolean;
  wasOpen?: boolean;
  reporting: { breaker: { state: string }; outbox: { depth: number } };
  attempts: { running: number; undelivered: number };
}

/** `jr-agent reporting <what> --json` as an operator runs it, next to the daemon. */
function jrAgent(dataDir: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [AGENT_MAIN, ...args], {
      env: { ...baseEnv(), JR_DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function status(dataDir: string): Promise<Status | undefined> {
  const r = await jrAgent(dataDir, ['reporting', 'status', '--json']);
  return r.code === 0 ? (JSON.parse(r.stdout) as Status) : undefined;
}

/** The real daemon (dist/main.js) with a durable outbox: SIGKILL, signals, and the local command. */
describe('jr-agent process: outbox and breaker across restarts and signals', () => {
  let api: FakeAgentApi;
  let proxy: FaultProxy;
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let proc: ManagedProcess | undefined;

  beforeAll(() => {
    const build = spawnSync(path.join(REPO_ROOT, 'node_modules/.bin/tsc'), ['-b', 'apps/agent'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    if (build.status !== 0) throw new Error(`tsc -b apps/agent failed:\n${build.stdout}${build.stderr}`);
  });
  beforeEach(async () => {
    api = new FakeAgentApi();
    await api.start();
    proxy = await FaultProxy.start({ host: '127.0.0.1', port: api.port });
    data = await tempDataDir();
  });
  afterEach(async () => {
    await proc?.kill();
    proc = undefined;
    await proxy.close();
    await api.stop();
    await data.remove();
  });

  const start = (extraEnv: Record<string, string> = {}): ManagedProcess =>
    startAgentProcess(
      {
        grpcTarget: proxy.address,
        dataDir: data.dir,
        enrollToken: 'enroll-secret',
        name: 'outbox-agent',
        heartbeatInterval: '200ms',
        extraEnv: {
          JR_CA_FILE: (testTlsIfMade() as TestTls).caFile,
          JR_BREAKER_THRESHOLD: '2',
          JR_BREAKER_MIN_OUTAGE: '0s',
          JR_REPORT_TIMEOUT: '300ms',
          ...extraEnv,
        },
      },
      path.join(data.dir, 'agent.log'),
    );

  /** Runs a job whose output is reported only up to `marker`, then cuts the API off until the breaker opens. */
  async function runDisconnected(script: string, marker: string): Promise<string> {
    const jobId = api.enqueue(spec([shell(script)]));
    await waitFor(() => api.output(jobId).includes(marker), { timeoutMs: 20_000, what: 'the job to start reporting' });
    proxy.setMode({ kind: 'reset' });
    await waitFor(async () => (await status(data.dir))?.reporting.breaker.state === 'open', {
      timeoutMs: 30_000,
      intervalMs: 200,
      what: 'the breaker to open',
    });
    return jobId;
  }

  it('SIGKILL with a full outbox loses nothing: after the restart `jr-agent reporting enable` drains it in order, once each', async () => {
    proc = start();
    const lines = Array.from({ length: 300 }, (_v, i) => `line ${i + 1}`);
    const jobId = await runDisconnected(
      'echo first; sleep 0.6; i=1; while [ $i -le 300 ]; do echo "line $i"; i=$((i+1)); done; echo last',
      'first',
    );
    const queued = await waitFor(
      async () => {
        const s = await status(data.dir);
        return s && s.attempts.running === 0 && s.attempts.undelivered === 1 ? s : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'the outcome to be queued' },
    );
    expect(queued.reporting.outbox.depth).toBeGreaterThan(1);
    await proc.kill();
    proxy.setMode({ kind: 'pass' });
    proc = start();
    const restarted = await waitFor(() => status(data.dir), {
      timeoutMs: 20_000,
      intervalMs: 200,
      what: 'the restarted agent',
    });
    expect(restarted.reporting).toMatchObject({
      breaker: { state: 'open' },
      outbox: { depth: queued.reporting.outbox.depth },
    });
    await waitFor(
      () =>
        api.heartbeats.some(
          (h) => h.req.state?.breakerState === 'open' && h.req.running.some((r) => r.jobId === jobId),
        ),
      { timeoutMs: 20_000 },
    );
    expect(api.completion(jobId)).toBeUndefined();
    const enable = await jrAgent(data.dir, ['reporting', 'enable']);
    expect(enable).toMatchObject({ code: 0, stderr: '' });
    expect(enable.stdout).toMatch(/^reporting re-enabled: the outbox drains in order\n/);
    await waitFor(() => api.completion(jobId), { timeoutMs: 20_000, what: 'the drain' });
    expect(api.output(jobId)).toBe(`first\n${lines.join('\n')}\nlast\n`);
    const completion = api.completion(jobId);
    expect(api.events(jobId).map((e) => e.seq)).toEqual(
      Array.from({ length: completion?.lastSeq ?? 0 }, (_v, i) => i + 1),
    );
    expect(completion).toMatchObject({ outcome: 'OUTCOME_SUCCEEDED' });
  });

  it('SIGTERM while suspended finishes the job in its grace, leaves the outcome on disk; SIGUSR2 after the restart drains it', async () => {
    proc = start({ JR_SHUTDOWN_GRACE: '10s' });
    const jobId = await runDisconnected('echo go; sleep 1.5; echo finished', 'go');
    proc.child.kill('SIGTERM');
    await expect(proc.exited()).resolves.toEqual({ code: 0, signal: null });
    proxy.setMode({ kind: 'pass' });
    proc = start();
    await waitFor(() => status(data.dir).then((s) => s?.reporting.breaker.state === 'open'), {
      timeoutMs: 20_000,
      intervalMs: 200,
    });
    proc.child.kill('SIGUSR2');
    await waitFor(() => api.completion(jobId), { timeoutMs: 20_000, what: 'the drain after SIGUSR2' });
    expect(api.output(jobId)).toBe('go\nfinished\n');
    expect(api.completion(jobId)).toMatchObject({ outcome: 'OUTCOME_SUCCEEDED' });
    expect(proc.running).toBe(true);
  });

  it('SIGQUIT cancels running jobs at once and still reports them', async () => {
    proc = start({ JR_SHUTDOWN_GRACE: '1h' });
    const jobId = api.enqueue(spec([shell('echo started; sleep 1000')]));
    await waitFor(() => api.output(jobId).includes('started'), { timeoutMs: 20_000 });
    proc.child.kill('SIGQUIT');
    await expect(proc.exited()).resolves.toEqual({ code: 0, signal: null });
    expect(api.completion(jobId)).toMatchObject({ outcome: 'OUTCOME_CANCELLED', reason: 'agent_shutdown' });
  });

  // The control socket listens before the outbox is opened (it guards the data directory): a status
  // asked in between was answered without the breaker, e.g. right after a restart with a full outbox.
  it('a control command during start-up is answered once the outbox and breaker are open', async () => {
    const flag = path.join(data.dir, 'reporting-suspended.json');
    execFileSync('mkfifo', [flag]); // opening it blocks the agent's start-up until we open its other end
    proc = start();
    const socketPath = controlSocketPath(data.dir);
    await waitFor(() => fs.existsSync(socketPath), { timeoutMs: 20_000, what: 'the control socket' });
    let answered = false;
    const answer = sendControlCommand(socketPath, 'reporting.status').finally(() => (answered = true));
    await new Promise((r) => setTimeout(r, 500)); // the request is read while the outbox is not open yet
    const early = answered;
    fs.closeSync(fs.openSync(flag, 'w')); // start-up goes on: a flag it cannot read means suspended
    const res = (await answer) as unknown as Status;
    expect({ early, breaker: res.reporting?.breaker.state }).toEqual({ early: false, breaker: 'open' });
  });

  it('`jr-agent reporting status` exits 69 when no agent runs, and 64 on unknown arguments', async () => {
    const none = await jrAgent(data.dir, ['reporting', 'status']);
    expect(none.code).toBe(69);
    expect(none.stderr).toMatch(/^jr-agent: no jr-agent is running with this JR_DATA_DIR/);
    const bad = await jrAgent(data.dir, ['reporting', 'disable']);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain('usage: jr-agent');
  });
});
