import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { waitFor } from '@jr/testing';
import type { AgentHandle } from '../../../apps/agent/src/agent';
import { agentConfig, runAgent, shell, spec, tempDataDir } from './agent-harness';
import { FakeAgentApi } from './fake-agent-api';

jest.setTimeout(60_000);

describe('jr-agent against a loopback AgentService: running jobs', () => {
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

  it('leases a job, runs it, reports its events in seq order and completes it', async () => {
    ({ agent } = await runAgent(agentConfig(api.address, data.dir)));
    const jobId = api.enqueue(spec([shell('echo "hello from $JR_JOB_ID"; echo oops >&2', { name: 'greet' }), { name: 'argv', argv: { args: ['/bin/echo', '$HOME'] } }]));
    const done = await waitFor(() => api.completion(jobId), { timeoutMs: 15_000, what: 'Complete' });
    const events = api.events(jobId);
    expect(events.map((e) => e.seq)).toEqual(events.map((_e, i) => i + 1));
    expect(events[0]).toMatchObject({ kind: 'stepStarted', stepStarted: { step: 0, name: 'greet', try: 1 } });
    expect(events[events.length - 1]).toMatchObject({ kind: 'stepFinished', stepFinished: { step: 1, exitCode: 0, outcome: 'succeeded' } });
    expect(api.output(jobId)).toContain(`hello from ${jobId}\n`);
    expect(api.output(jobId)).toContain('$HOME\n');
    expect(done).toMatchObject({ outcome: 'OUTCOME_SUCCEEDED', exitCode: 0, lastSeq: events.length, attempt: 1 });
    expect(done.endedAtMs).toBeGreaterThanOrEqual(done.startedAtMs);
  });

  it('carries running attempts and its state in heartbeats, and stops listing them once completed', async () => {
    ({ agent } = await runAgent(agentConfig(api.address, data.dir)));
    const jobId = api.enqueue(spec([shell('sleep 1')]));
    const beat = await waitFor(() => api.heartbeats.find((h) => h.req.running.some((r) => r.jobId === jobId)), { what: 'a heartbeat listing the attempt' });
    expect(beat.req.running).toEqual([{ jobId, attempt: 1, leaseToken: expect.stringMatching(/^lt_/) }]);
    expect(beat.req.state).toMatchObject({ slots: 2, running: 1, draining: false, breakerState: 'closed' });
    await waitFor(() => api.completion(jobId), { timeoutMs: 10_000 });
    const after = api.heartbeats.length;
    await waitFor(() => api.heartbeats.length > after + 1);
    expect(api.heartbeats[api.heartbeats.length - 1]?.req.running).toEqual([]);
  });

  it('runs up to JR_SLOTS attempts at once and no more', async () => {
    ({ agent } = await runAgent(agentConfig(api.address, data.dir, { JR_SLOTS: '2' })));
    const ids = [1, 2, 3].map(() => api.enqueue(spec([shell('sleep 0.6')])));
    await waitFor(() => api.heartbeats.some((h) => h.req.running.length === 2));
    expect(api.heartbeats.every((h) => h.req.running.length <= 2)).toBe(true);
    expect(api.leaseCalls.every((c) => c.freeSlots >= 1 && c.freeSlots <= 2)).toBe(true);
    await waitFor(() => ids.every((id) => api.completion(id)), { timeoutMs: 15_000 });
  });

  it('kills the job on a cancel directive and completes it CANCELLED', async () => {
    ({ agent } = await runAgent(agentConfig(api.address, data.dir)));
    const pidFile = path.join(data.dir, 'job.pid');
    const jobId = api.enqueue(spec([shell('echo $$ > "$PIDFILE"; exec sleep 1000')], { env: { PIDFILE: pidFile } }));
    const pid = await waitFor(async () => Number(await readFile(pidFile, 'utf8').catch(() => '')) || undefined);
    api.cancel(jobId, 'cancelled');
    const done = await waitFor(() => api.completion(jobId), { timeoutMs: 10_000 });
    expect(done).toMatchObject({ outcome: 'OUTCOME_CANCELLED', reason: 'cancelled' });
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    expect(api.events(jobId).pop()).toMatchObject({ stepFinished: { outcome: 'cancelled' } });
  });

  it('on lease_lost just kills the job; the refused Complete is expected and ends the attempt', async () => {
    ({ agent } = await runAgent(agentConfig(api.address, data.dir)));
    const pidFile = path.join(data.dir, 'job.pid');
    const jobId = api.enqueue(spec([shell('echo $$ > "$PIDFILE"; exec sleep 1000')], { env: { PIDFILE: pidFile } }));
    const pid = await waitFor(async () => Number(await readFile(pidFile, 'utf8').catch(() => '')) || undefined);
    api.cancel(jobId, 'lease_lost');
    await waitFor(() => api.refusedCompletions.find((c) => c.jobId === jobId), { timeoutMs: 10_000 });
    expect(api.refusedCompletions[0]).toMatchObject({ outcome: 'OUTCOME_CANCELLED', reason: 'lease_lost' });
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    await waitFor(() => api.heartbeats.length > 0 && api.heartbeats[api.heartbeats.length - 1]?.req.running.length === 0);
    expect(api.completion(jobId)).toBeUndefined();
  });

  it('recovers from an outage (server stopped, restarted on the same port) and completes with every event', async () => {
    ({ agent } = await runAgent(agentConfig(api.address, data.dir)));
    const jobId = api.enqueue(spec([shell('echo before; sleep 1.5; echo after')]));
    await waitFor(() => api.output(jobId).includes('before'), { what: 'the first output' });
    await api.stop();
    await new Promise((r) => setTimeout(r, 2_500));
    expect(api.completion(jobId)).toBeUndefined();
    await api.start();
    const done = await waitFor(() => api.completion(jobId), { timeoutMs: 20_000, what: 'Complete after the outage' });
    const events = api.events(jobId);
    expect(events.map((e) => e.seq)).toEqual(events.map((_e, i) => i + 1));
    expect(api.output(jobId)).toBe('before\nafter\n');
    expect(done).toMatchObject({ outcome: 'OUTCOME_SUCCEEDED', lastSeq: events.length });
  });

  it('retries Report on UNAVAILABLE/DEADLINE-class answers without losing or reordering events', async () => {
    ({ agent } = await runAgent(agentConfig(api.address, data.dir)));
    api.failNext('Report', 14, 3);
    const jobId = api.enqueue(spec([shell('for i in 1 2 3 4 5; do echo line $i; sleep 0.25; done')]));
    await waitFor(() => api.completion(jobId), { timeoutMs: 20_000 });
    expect(api.output(jobId)).toBe('line 1\nline 2\nline 3\nline 4\nline 5\n');
  });

  it('fails a job whose step fails, with its exit code', async () => {
    ({ agent } = await runAgent(agentConfig(api.address, data.dir)));
    const jobId = api.enqueue(spec([shell('exit 3'), shell('echo never')]));
    await expect(waitFor(() => api.completion(jobId), { timeoutMs: 10_000 })).resolves.toMatchObject({ outcome: 'OUTCOME_FAILED', exitCode: 3, reason: 'step_failed' });
    expect(api.output(jobId)).toBe('');
  });

  it('stops leasing on a drain directive and says so in its state', async () => {
    const started = await runAgent(agentConfig(api.address, data.dir));
    agent = started.agent;
    api.direct(agent.agentId, { drain: {} });
    await waitFor(() => api.heartbeats.some((h) => h.req.state?.draining));
    const jobId = api.enqueue(spec([shell('true')]));
    await new Promise((r) => setTimeout(r, 1_500));
    expect(api.completion(jobId)).toBeUndefined();
    expect(api.heartbeats[api.heartbeats.length - 1]?.req.running).toEqual([]);
  });
});
