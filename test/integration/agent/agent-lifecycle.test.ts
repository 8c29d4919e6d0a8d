import { EventEmitter } from 'node:events';
import { readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { jobUserEnv, testTlsIfMade, waitFor, type TestTls } from '@jr/testing';
import { runAgentCli } from '../../../apps/agent/src/agent-cli';
import { shell, spec, useAgentFixture } from './agent-harness';

jest.setTimeout(60_000);

describe('jr-agent against a loopback AgentService: identity and lifecycle', () => {
  const f = useAgentFixture();

  const credentialFile = (): string => path.join(f.dataDir, 'credential.json');
  const writeCredential = async (agentId: string, credential: string): Promise<void> => {
    await mkdir(f.dataDir, { recursive: true });
    await writeFile(
      credentialFile(),
      JSON.stringify({ agentId, credential, apiAddress: f.api.address, enrolledAt: new Date().toISOString() }),
    );
  };

  it('enrolls once, stores the credential 0600, logs ready, and reuses it after a restart', async () => {
    const first = await f.start({ JR_LABELS: 'os=linux', JR_POOL: 'builds' });
    let agent = first.agent;
    expect(f.api.enrolls).toHaveLength(1);
    expect(f.api.enrolls[0]).toMatchObject({
      name: 'it-agent',
      pool: 'builds',
      labels: { os: 'linux' },
      slots: 2,
      previousAgentId: '',
    });
    expect(first.lines.find((l) => l.msg === 'jr-agent ready')).toMatchObject({ agentId: agent.agentId });
    expect((await stat(credentialFile())).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(await readFile(credentialFile(), 'utf8')) as { agentId: string; credential: string };
    expect(stored.agentId).toBe(agent.agentId);
    expect(f.api.credentials.get(stored.credential)).toBe(agent.agentId);
    const firstId = agent.agentId;
    await agent.stop();

    const second = await f.start({ JR_LABELS: 'os=linux', JR_POOL: 'builds' });
    agent = second.agent;
    expect(agent.agentId).toBe(firstId);
    expect(f.api.enrolls).toHaveLength(1);
    await waitFor(() => f.api.heartbeats.filter((h) => h.agentId === firstId).length >= 3);
  });

  it('enrolls again under the same id when its pool or labels changed since the credential was stored', async () => {
    const first = await f.start({ JR_LABELS: 'os=linux', JR_POOL: 'builds' });
    const firstId = first.agent.agentId;
    await first.agent.stop();
    const { agent } = await f.start({ JR_LABELS: 'os=linux,gpu=yes', JR_POOL: 'builds' });
    expect(agent.agentId).toBe(firstId);
    expect(f.api.enrolls).toHaveLength(2);
    expect(f.api.enrolls[1]).toMatchObject({ previousAgentId: firstId, labels: { os: 'linux', gpu: 'yes' } });
  });

  it('re-enrolls once, keeping its id, when the stored credential is refused and a token is set', async () => {
    await writeCredential('a_old', 'a_old.revoked');
    const { agent } = await f.start();
    expect(f.api.enrolls).toEqual([expect.objectContaining({ previousAgentId: 'a_old' })]);
    expect(agent.agentId).toBe('a_old');
    const stored = JSON.parse(await readFile(credentialFile(), 'utf8')) as { credential: string };
    expect(stored.credential).not.toBe('a_old.revoked');
  });

  it('stops with an auth error when the credential is refused and no enroll token is set, without looping', async () => {
    await writeCredential('a_old', 'a_old.revoked');
    const err: unknown = await f.start({ JR_ENROLL_TOKEN: '' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'AgentStopError', reason: 'auth_refused', exitCode: 77 });
    expect(String((err as Error).message)).toMatch(/refused the agent's credential/);
    await new Promise((r) => setTimeout(r, 500));
    expect(f.api.calls).toEqual({ Enroll: 0, Heartbeat: 1, Lease: 0, Report: 0, Complete: 0 });
  });

  it('refuses to start without a credential or an enroll token', async () => {
    await expect(f.start({ JR_ENROLL_TOKEN: '' })).rejects.toMatchObject({ reason: 'no_enroll_token' });
  });

  it('stops at once when the enroll token is refused (one Enroll call)', async () => {
    f.api.enrollToken = 'another-token';
    await expect(f.start()).rejects.toMatchObject({ reason: 'auth_refused', exitCode: 77 });
    await new Promise((r) => setTimeout(r, 300));
    expect(f.api.calls).toEqual({ Enroll: 1, Heartbeat: 0, Lease: 0, Report: 0, Complete: 0 });
  });

  it('re-enrolls at most once while running, then stops on the next refusal and kills its jobs', async () => {
    const { agent } = await f.start();
    f.api.revokeAll();
    await waitFor(() => f.api.enrolls.length === 2, { what: 'one re-enroll' });
    const pidFile = path.join(f.dropDir, 'job.pid');
    f.api.enqueue(spec([shell('echo $$ > "$PIDFILE"; exec sleep 1000')], { env: { PIDFILE: pidFile } }));
    const pid = await waitFor(async () => Number(await readFile(pidFile, 'utf8').catch(() => '')) || undefined);
    f.api.revokeAll();
    const exit = await agent.done;
    expect(exit.code).toBe(77);
    expect(f.api.calls.Enroll).toBe(2);
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    const heartbeats = f.api.calls.Heartbeat;
    await new Promise((r) => setTimeout(r, 600));
    expect(f.api.calls.Heartbeat).toBe(heartbeats);
  });

  it('stops with a non-zero exit when the API does not implement a call', async () => {
    const { agent } = await f.start();
    f.api.failNext('Lease', grpc.status.UNIMPLEMENTED, 100);
    const exit = await agent.done;
    expect(exit.code).toBe(78);
    expect(exit.reason).toMatch(/does not implement Lease/);
  });
});

describe('jr-agent process lifecycle (runAgentCli, signals)', () => {
  const f = useAgentFixture();

  function cli(env: Record<string, string>): {
    exit: Promise<number>;
    signal(name: 'SIGTERM' | 'SIGINT'): void;
    stderr: string[];
  } {
    const signals = new EventEmitter();
    const stderr: string[] = [];
    const exit = runAgentCli(
      {
        PATH: process.env.PATH,
        JR_API_GRPC: f.api.address,
        JR_DATA_DIR: f.dataDir,
        JR_ENROLL_TOKEN: 'enroll-secret',
        JR_LOG_LEVEL: 'silent',
        JR_HEARTBEAT_INTERVAL: '200ms',
        JR_KILL_GRACE: '300ms',
        ...jobUserEnv(env),
        JR_CA_FILE: (testTlsIfMade() as TestTls).caFile,
        ...env,
      },
      { stderr: { write: (l: string) => stderr.push(l) }, signals },
    );
    return { exit, signal: (name) => signals.emit(name), stderr };
  }

  it('exits 2 with one line listing every bad variable', async () => {
    const run = cli({ JR_SLOTS: '0', JR_HEARTBEAT_INTERVAL: 'often' });
    await expect(run.exit).resolves.toBe(2);
    expect(run.stderr).toHaveLength(1);
    expect(run.stderr[0]).toMatch(
      /^jr-agent: bad configuration: .*JR_SLOTS.*JR_HEARTBEAT_INTERVAL|JR_HEARTBEAT_INTERVAL.*JR_SLOTS/,
    );
  });

  it('on SIGTERM stops leasing, lets a running job finish within the grace period, and exits 0', async () => {
    const run = cli({ JR_SHUTDOWN_GRACE: '10s' });
    await waitFor(() => f.api.heartbeats.length > 0);
    const jobId = f.api.enqueue(spec([shell('sleep 0.5; echo finished')]));
    await waitFor(() => f.api.heartbeats.some((h) => h.req.running.length > 0));
    run.signal('SIGTERM');
    const later = f.api.enqueue(spec([shell('echo should not run')]));
    await expect(run.exit).resolves.toBe(0);
    expect(f.api.completion(jobId)).toMatchObject({ outcome: 'OUTCOME_SUCCEEDED' });
    expect(f.api.output(jobId)).toBe('finished\n');
    expect(f.api.completion(later)).toBeUndefined();
  });

  it('cancels jobs still running when the shutdown grace ends: CANCELLED agent_shutdown', async () => {
    const run = cli({ JR_SHUTDOWN_GRACE: '300ms' });
    await waitFor(() => f.api.heartbeats.length > 0);
    const jobId = f.api.enqueue(spec([shell('sleep 1000')]));
    await waitFor(() => f.api.heartbeats.some((h) => h.req.running.length > 0));
    run.signal('SIGTERM');
    await expect(run.exit).resolves.toBe(0);
    expect(f.api.completion(jobId)).toMatchObject({ outcome: 'OUTCOME_CANCELLED', reason: 'agent_shutdown' });
  });

  it('cancels at once on a second signal', async () => {
    const run = cli({ JR_SHUTDOWN_GRACE: '1h' });
    await waitFor(() => f.api.heartbeats.length > 0);
    const jobId = f.api.enqueue(spec([shell('sleep 1000')]));
    await waitFor(() => f.api.heartbeats.some((h) => h.req.running.length > 0));
    run.signal('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    expect(f.api.completion(jobId)).toBeUndefined();
    run.signal('SIGINT');
    await expect(run.exit).resolves.toBe(0);
    expect(f.api.completion(jobId)).toMatchObject({ outcome: 'OUTCOME_CANCELLED', reason: 'agent_shutdown' });
  });

  it('exits 77 with one clear line when its credential is refused and it cannot enroll', async () => {
    await mkdir(f.dataDir, { recursive: true });
    await writeFile(
      path.join(f.dataDir, 'credential.json'),
      JSON.stringify({ agentId: 'a_x', credential: 'a_x.bad', apiAddress: '', enrolledAt: '' }),
    );
    const run = cli({ JR_ENROLL_TOKEN: '' });
    await expect(run.exit).resolves.toBe(77);
    expect(run.stderr).toEqual([
      expect.stringMatching(/^jr-agent: the API refused the agent's credential on Heartbeat \(UNAUTHENTICATED.*\n$/),
    ]);
  });

  it('exits 0 when stopped while still trying to reach the API', async () => {
    await f.api.stop();
    const run = cli({});
    await new Promise((r) => setTimeout(r, 300));
    run.signal('SIGTERM');
    await expect(run.exit).resolves.toBe(0);
  });
});
