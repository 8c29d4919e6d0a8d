import { EventEmitter } from 'node:events';
import { readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { waitFor } from '@jr/testing';
import { runAgentCli } from '../../../apps/agent/src/agent-cli';
import { startAgent, type AgentHandle } from '../../../apps/agent/src/agent';
import { agentConfig, captureLogger, runAgent, shell, spec, tempDataDir } from './agent-harness';
import { FakeAgentApi } from './fake-agent-api';

jest.setTimeout(60_000);

describe('jr-agent against a loopback AgentService: identity and lifecycle', () => {
  let api: FakeAgentApi;
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let agent: AgentHandle | undefined;

  beforeEach(async () => {
    api = new FakeAgentApi();
    await api.start();
    data = await tempDataDir();
  });
  afterEach(async () => {
    await agent?.stopNow();
    agent = undefined;
    await api.stop();
    await data.remove();
  });

  const credentialFile = (): string => path.join(data.dir, 'credential.json');
  const writeCredential = async (agentId: string, credential: string): Promise<void> => {
    await mkdir(data.dir, { recursive: true });
    await writeFile(credentialFile(), JSON.stringify({ agentId, credential, apiAddress: api.address, enrolledAt: new Date().toISOString() }));
  };

  it('enrolls once, stores the credential 0600, logs ready, and reuses it after a restart', async () => {
    const first = await runAgent(agentConfig(api.address, data.dir, { JR_LABELS: 'os=linux', JR_POOL: 'builds' }));
    agent = first.agent;
    expect(api.enrolls).toHaveLength(1);
    expect(api.enrolls[0]).toMatchObject({ name: 'it-agent', pool: 'builds', labels: { os: 'linux' }, slots: 2, previousAgentId: '' });
    expect(first.lines.find((l) => l.msg === 'jr-agent ready')).toMatchObject({ agentId: agent.agentId });
    expect((await stat(credentialFile())).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(await readFile(credentialFile(), 'utf8')) as { agentId: string; credential: string };
    expect(stored.agentId).toBe(agent.agentId);
    expect(api.credentials.get(stored.credential)).toBe(agent.agentId);
    const firstId = agent.agentId;
    await agent.stop();

    const second = await runAgent(agentConfig(api.address, data.dir, { JR_LABELS: 'os=linux', JR_POOL: 'builds' }));
    agent = second.agent;
    expect(agent.agentId).toBe(firstId);
    expect(api.enrolls).toHaveLength(1);
    await waitFor(() => api.heartbeats.filter((h) => h.agentId === firstId).length >= 3);
  });

  it('enrolls again under the same id when its pool or labels changed since the credential was stored', async () => {
    const first = await runAgent(agentConfig(api.address, data.dir, { JR_LABELS: 'os=linux', JR_POOL: 'builds' }));
    const firstId = first.agent.agentId;
    await first.agent.stop();
    ({ agent } = await runAgent(agentConfig(api.address, data.dir, { JR_LABELS: 'os=linux,gpu=yes', JR_POOL: 'builds' })));
    expect(agent.agentId).toBe(firstId);
    expect(api.enrolls).toHaveLength(2);
    expect(api.enrolls[1]).toMatchObject({ previousAgentId: firstId, labels: { os: 'linux', gpu: 'yes' } });
  });

  it('re-enrolls once, keeping its id, when the stored credential is refused and a token is set', async () => {
    await writeCredential('a_old', 'a_old.revoked');
    ({ agent } = await runAgent(agentConfig(api.address, data.dir)));
    expect(api.enrolls).toEqual([expect.objectContaining({ previousAgentId: 'a_old' })]);
    expect(agent.agentId).toBe('a_old');
    const stored = JSON.parse(await readFile(credentialFile(), 'utf8')) as { credential: string };
    expect(stored.credential).not.toBe('a_old.revoked');
  });

  it('stops with an auth error when the credential is refused and no enroll token is set, without looping', async () => {
    await writeCredential('a_old', 'a_old.revoked');
    const err: unknown = await startAgent(agentConfig(api.address, data.dir, { JR_ENROLL_TOKEN: '' }), captureLogger()).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'AgentStopError', reason: 'auth_refused', exitCode: 77 });
    expect(String((err as Error).message)).toMatch(/refused the agent's credential/);
    await new Promise((r) => setTimeout(r, 500));
    expect(api.calls).toEqual({ Enroll: 0, Heartbeat: 1, Lease: 0, Report: 0, Complete: 0 });
  });

  it('refuses to start without a credential or an enroll token', async () => {
    await expect(startAgent(agentConfig(api.address, data.dir, { JR_ENROLL_TOKEN: '' }), captureLogger())).rejects.toMatchObject({ reason: 'no_enroll_token' });
  });

  it('stops at once when the enroll token is refused (one Enroll call)', async () => {
    api.enrollToken = 'another-token';
    await expect(startAgent(agentConfig(api.address, data.dir), captureLogger())).rejects.toMatchObject({ reason: 'auth_refused', exitCode: 77 });
    await new Promise((r) => setTimeout(r, 300));
    expect(api.calls).toEqual({ Enroll: 1, Heartbeat: 0, Lease: 0, Report: 0, Complete: 0 });
  });

  it('re-enrolls at most once while running, then stops on the next refusal and kills its jobs', async () => {
    ({ agent } = await runAgent(agentConfig(api.address, data.dir)));
    api.revokeAll();
    await waitFor(() => api.enrolls.length === 2, { what: 'one re-enroll' });
    const pidFile = path.join(data.dir, 'job.pid');
    api.enqueue(spec([shell('echo $$ > "$PIDFILE"; exec sleep 1000')], { env: { PIDFILE: pidFile } }));
    const pid = await waitFor(async () => Number(await readFile(pidFile, 'utf8').catch(() => '')) || undefined);
    api.revokeAll();
    const exit = await agent.done;
    expect(exit.code).toBe(77);
    expect(api.calls.Enroll).toBe(2);
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    const heartbeats = api.calls.Heartbeat;
    await new Promise((r) => setTimeout(r, 600));
    expect(api.calls.Heartbeat).toBe(heartbeats);
  });

  it('stops with a non-zero exit when the API does not implement a call', async () => {
    ({ agent } = await runAgent(agentConfig(api.address, data.dir)));
    api.failNext('Lease', grpc.status.UNIMPLEMENTED, 100);
    const exit = await agent.done;
    expect(exit.code).toBe(78);
    expect(exit.reason).toMatch(/does not implement Lease/);
  });
});

describe('jr-agent process lifecycle (runAgentCli, signals)', () => {
  let api: FakeAgentApi;
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  beforeEach(async () => {
    api = new FakeAgentApi();
    await api.start();
    data = await tempDataDir();
  });
  afterEach(async () => {
    await api.stop();
    await data.remove();
  });

  function cli(env: Record<string, string>): { exit: Promise<number>; signal(name: 'SIGTERM' | 'SIGINT'): void; stderr: string[] } {
    const signals = new EventEmitter();
    const stderr: string[] = [];
    const exit = runAgentCli(
      {
        PATH: process.env.PATH, JR_API_GRPC: api.address, JR_DATA_DIR: data.dir, JR_ENROLL_TOKEN: 'enroll-secret', JR_LOG_LEVEL: 'silent',
        JR_HEARTBEAT_INTERVAL: '200ms', JR_KILL_GRACE: '300ms', ...env,
      },
      { stderr: { write: (l: string) => stderr.push(l) }, signals },
    );
    return { exit, signal: (name) => signals.emit(name), stderr };
  }

  it('exits 2 with one line listing every bad variable', async () => {
    const run = cli({ JR_SLOTS: '0', JR_HEARTBEAT_INTERVAL: 'often' });
    await expect(run.exit).resolves.toBe(2);
    expect(run.stderr).toHaveLength(1);
    expect(run.stderr[0]).toMatch(/^jr-agent: bad configuration: .*JR_SLOTS.*JR_HEARTBEAT_INTERVAL|JR_HEARTBEAT_INTERVAL.*JR_SLOTS/);
  });

  it('on SIGTERM stops leasing, lets a running job finish within the grace period, and exits 0', async () => {
    const run = cli({ JR_SHUTDOWN_GRACE: '10s' });
    await waitFor(() => api.heartbeats.length > 0);
    const jobId = api.enqueue(spec([shell('sleep 0.5; echo finished')]));
    await waitFor(() => api.heartbeats.some((h) => h.req.running.length > 0));
    run.signal('SIGTERM');
    const later = api.enqueue(spec([shell('echo should not run')]));
    await expect(run.exit).resolves.toBe(0);
    expect(api.completion(jobId)).toMatchObject({ outcome: 'OUTCOME_SUCCEEDED' });
    expect(api.output(jobId)).toBe('finished\n');
    expect(api.completion(later)).toBeUndefined();
  });

  it('cancels jobs still running when the shutdown grace ends: CANCELLED agent_shutdown', async () => {
    const run = cli({ JR_SHUTDOWN_GRACE: '300ms' });
    await waitFor(() => api.heartbeats.length > 0);
    const jobId = api.enqueue(spec([shell('sleep 1000')]));
    await waitFor(() => api.heartbeats.some((h) => h.req.running.length > 0));
    run.signal('SIGTERM');
    await expect(run.exit).resolves.toBe(0);
    expect(api.completion(jobId)).toMatchObject({ outcome: 'OUTCOME_CANCELLED', reason: 'agent_shutdown' });
  });

  it('cancels at once on a second signal', async () => {
    const run = cli({ JR_SHUTDOWN_GRACE: '1h' });
    await waitFor(() => api.heartbeats.length > 0);
    const jobId = api.enqueue(spec([shell('sleep 1000')]));
    await waitFor(() => api.heartbeats.some((h) => h.req.running.length > 0));
    run.signal('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    expect(api.completion(jobId)).toBeUndefined();
    run.signal('SIGINT');
    await expect(run.exit).resolves.toBe(0);
    expect(api.completion(jobId)).toMatchObject({ outcome: 'OUTCOME_CANCELLED', reason: 'agent_shutdown' });
  });

  it('exits 77 with one clear line when its credential is refused and it cannot enroll', async () => {
    await mkdir(data.dir, { recursive: true });
    await writeFile(path.join(data.dir, 'credential.json'), JSON.stringify({ agentId: 'a_x', credential: 'a_x.bad', apiAddress: '', enrolledAt: '' }));
    const run = cli({ JR_ENROLL_TOKEN: '' });
    await expect(run.exit).resolves.toBe(77);
    expect(run.stderr).toEqual([expect.stringMatching(/^jr-agent: the API refused the agent's credential on Heartbeat \(UNAUTHENTICATED.*\n$/)]);
  });

  it('exits 0 when stopped while still trying to reach the API', async () => {
    await api.stop();
    const run = cli({});
    await new Promise((r) => setTimeout(r, 300));
    run.signal('SIGTERM');
    await expect(run.exit).resolves.toBe(0);
  });
});
