import { access } from 'node:fs/promises';
import * as path from 'node:path';
import { status as Status } from '@grpc/grpc-js';
import { newGate, waitFor } from '@jr/testing';
import type { AgentHandle } from '../../../apps/agent/src/agent';
import { runControlCommand } from '../../../apps/agent/src/control/control-command';
import { shell, spec, useAgentFixture } from './agent-harness';
import type { FakeAgentApi } from './fake-agent-api';

jest.setTimeout(90_000);

/** Every seq from 1 to the completion's lastSeq, held once each, first arrivals in order. */
function expectDeliveredInOrder(api: FakeAgentApi, jobId: string): number {
  const completion = api.completion(jobId);
  expect(completion).toBeDefined();
  const n = completion?.lastSeq ?? 0;
  expect(api.events(jobId).map((e) => e.seq)).toEqual(Array.from({ length: n }, (_v, i) => i + 1));
  const firsts: number[] = [];
  for (const a of api.arrivals) if (a.jobId === jobId && !firsts.includes(a.seq)) firsts.push(a.seq);
  expect(firsts).toEqual([...firsts].sort((x, y) => x - y));
  return n;
}

const exists = (p: string): Promise<boolean> =>
  access(p).then(
    () => true,
    () => false,
  );

describe('the reporting breaker and the outbox, over a fault-injecting proxy', () => {
  const f = useAgentFixture({ proxy: true });

  const flagFile = (): string => path.join(f.dataDir, 'reporting-suspended.json');
  /** An agent on the proxy that opens its breaker after 2 failed reports of 300 ms tries. */
  const start = async (env: Record<string, string> = {}): Promise<AgentHandle> =>
    (await f.start({ JR_BREAKER_THRESHOLD: '2', JR_BREAKER_MIN_OUTAGE: '0s', JR_REPORT_TIMEOUT: '300ms', ...env }))
      .agent;
  const breakerState = (a: AgentHandle) => a.metrics().reporting?.breaker.state;

  it('an API restart (connections reset for seconds) does not open it with the default minimum outage; nothing is lost', async () => {
    const gate = newGate();
    const a = (await f.start({ JR_BREAKER_THRESHOLD: '2', JR_REPORT_TIMEOUT: '300ms' })).agent;
    const jobId = f.api.enqueue(
      spec([shell(`echo one; ${gate.wait}; for i in 2 3 4; do echo "line $i"; sleep 0.3; done`)]),
    );
    await waitFor(() => f.api.output(jobId).includes('one'), { timeoutMs: 10_000, what: 'the first line' });
    f.proxy.setMode({ kind: 'reset' });
    gate.open();
    const failuresBefore = a.metrics().reporting?.delivery.failures ?? 0;
    await waitFor(() => (a.metrics().reporting?.delivery.failures ?? 0) >= failuresBefore + 4, {
      timeoutMs: 20_000,
      what: 'reports failing past the threshold',
    });
    expect(breakerState(a)).toBe('closed');
    f.proxy.setMode({ kind: 'pass' });
    await waitFor(() => f.api.completion(jobId) !== undefined, { timeoutMs: 30_000, what: 'the completion' });
    expect(a.metrics().reporting?.breaker.opened).toBe(0);
    expect(expectDeliveredInOrder(f.api, jobId)).toBeGreaterThan(3);
  });

  it('opens after the threshold (API unreachable: deadlines), stays open while the path is healthy again, and a directive drains it in order', async () => {
    const gate = newGate();
    const a = await start();
    const jobId = f.api.enqueue(
      spec([shell(`echo one; ${gate.wait}; for i in 2 3 4 5 6; do echo "line $i"; sleep 0.2; done; echo done`)]),
    );
    await waitFor(() => f.api.output(jobId).includes('one'), { timeoutMs: 10_000, what: 'the first line' });
    f.proxy.setMode({ kind: 'blackhole' });
    gate.open();
    await waitFor(() => breakerState(a) === 'open', { timeoutMs: 30_000, what: 'the breaker to open' });
    await waitFor(() => a.metrics().attempts.undelivered === 1, {
      timeoutMs: 10_000,
      what: 'the job to end, its outcome queued',
    });
    await waitFor(() => exists(flagFile()), { what: 'the suspended flag on disk' });
    f.proxy.setMode({ kind: 'pass' });
    const beat = await waitFor(
      () =>
        f.api.heartbeats.find(
          (h, i) =>
            i > f.api.heartbeats.length - 3 && h.req.state?.breakerState === 'open' && h.req.state.outboxDepth > 0,
        ),
      {
        timeoutMs: 20_000,
        what: 'a heartbeat saying the breaker is open',
      },
    );
    expect(beat.req.running).toEqual([expect.objectContaining({ jobId })]);
    expect(beat.req.state?.outboxOldestAgeMs).toBeGreaterThan(0);
    // Healthy path, heartbeats answered: no timer closes the breaker, nothing is reported.
    const reports = f.api.calls.Report;
    const beats = f.api.heartbeats.length;
    await new Promise((r) => setTimeout(r, 3_000));
    expect(f.api.heartbeats.length).toBeGreaterThan(beats + 5);
    expect(f.api.calls.Report).toBe(reports);
    expect(breakerState(a)).toBe('open');
    expect(f.api.lastState()?.breakerState).toBe('open');
    f.api.direct(a.agentId, { enableReporting: {} });
    await waitFor(() => f.api.completion(jobId), { timeoutMs: 15_000, what: 'the outbox to drain' });
    const n = expectDeliveredInOrder(f.api, jobId);
    expect(f.api.output(jobId)).toBe('one\nline 2\nline 3\nline 4\nline 5\nline 6\ndone\n');
    expect(n).toBeGreaterThan(3);
    await waitFor(() => f.api.lastState()?.breakerState === 'closed' && f.api.lastState()?.outboxDepth === 0, {
      what: 'a heartbeat with an empty outbox',
    });
    expect(await exists(flagFile())).toBe(false);
  });

  it('keeps its state across a restart, keeps the undelivered lease alive, and the local command drains it', async () => {
    const gate = newGate();
    const first = await start();
    const jobId = f.api.enqueue(spec([shell(`echo before; ${gate.wait}; echo during; echo after`)]));
    await waitFor(() => f.api.output(jobId).includes('before'), { timeoutMs: 10_000 });
    f.proxy.setMode({ kind: 'reset' });
    gate.open();
    await waitFor(() => breakerState(first) === 'open', { timeoutMs: 30_000, what: 'the breaker to open' });
    await waitFor(() => first.metrics().attempts.undelivered === 1, { timeoutMs: 10_000 });
    await first.stopNow();
    expect(await exists(flagFile())).toBe(true);
    f.proxy.setMode({ kind: 'pass' });
    const second = await start();
    expect(breakerState(second)).toBe('open');
    const beat = await waitFor(
      () =>
        f.api.heartbeats.find(
          (h) => h.req.state?.breakerState === 'open' && h.req.running.some((r) => r.jobId === jobId),
        ),
      {
        what: 'the restarted agent to list the undelivered attempt',
      },
    );
    expect(beat.req.state?.outboxDepth).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 500));
    expect(f.api.completion(jobId)).toBeUndefined();
    const out: string[] = [];
    const code = await runControlCommand(f.dataDir, 'enable', {
      json: false,
      stdout: { write: (t: string) => out.push(t) },
      stderr: { write: () => undefined },
    });
    expect(code).toBe(0);
    expect(out.join('')).toContain('reporting re-enabled');
    await waitFor(() => f.api.completion(jobId), { timeoutMs: 15_000, what: 'the drain' });
    expectDeliveredInOrder(f.api, jobId);
    expect(f.api.output(jobId)).toBe('before\nduring\nafter\n');
    expect(f.api.completion(jobId)).toMatchObject({ outcome: 'OUTCOME_SUCCEEDED', exitCode: 0 });
  });

  it("a second agent on the same JR_DATA_DIR refuses to start (78) and leaves the first one's outbox alone", async () => {
    const first = await start();
    await expect(start()).rejects.toMatchObject({ name: 'AgentStopError', reason: 'data_dir_in_use', exitCode: 78 });
    const jobId = f.api.enqueue(spec([shell('echo still mine')]));
    await waitFor(() => f.api.completion(jobId), { timeoutMs: 10_000 });
    expect(f.api.output(jobId)).toBe('still mine\n');
    // the API holds the completion before the agent has its answer and settles the outbox
    await waitFor(() => first.metrics().reporting?.outbox.depth === 0, { what: "the first agent's outbox to empty" });
  });

  it('never opens on answers that are refusals or "busy", only on a broken path', async () => {
    const agent = await start({ JR_BREAKER_THRESHOLD: '1', JR_BREAKER_MIN_OUTAGE: '0s' });
    f.api.failNext('Report', Status.RESOURCE_EXHAUSTED, 7);
    const busy = f.api.enqueue(spec([shell('echo busy')]));
    await waitFor(() => f.api.completion(busy), { timeoutMs: 20_000 });
    f.api.failNext('Report', Status.INVALID_ARGUMENT, 1);
    const refused = f.api.enqueue(spec([shell('echo refused')]));
    await waitFor(() => f.api.completion(refused), { timeoutMs: 20_000 });
    expect(breakerState(agent)).toBe('closed');
    expect(f.api.output(busy)).toBe('busy\n');
  });

  it('disconnected: the job keeps running, its result is kept, and a lease given away meanwhile ends as superseded, once', async () => {
    const gate = newGate();
    const a = await start();
    const jobId = f.api.enqueue(spec([shell(`echo 1; ${gate.wait}; for i in 2 3 4 5 6; do echo $i; sleep 0.2; done`)]));
    await waitFor(() => f.api.output(jobId).includes('1'), { timeoutMs: 10_000 });
    f.proxy.setMode({ kind: 'reset' });
    gate.open();
    f.api.supersede(jobId);
    await waitFor(() => a.metrics().attempts.undelivered === 1 && a.metrics().attempts.running === 0, {
      timeoutMs: 30_000,
      what: 'the job to finish while disconnected',
    });
    await waitFor(() => breakerState(a) === 'open', { timeoutMs: 30_000 });
    f.proxy.setMode({ kind: 'pass' });
    await waitFor(() => f.api.heartbeats.some((h) => h.req.state?.breakerState === 'open'), { timeoutMs: 20_000 });
    f.api.direct(a.agentId, { enableReporting: {} });
    await waitFor(() => f.api.refusedCompletions.some((c) => c.jobId === jobId), {
      timeoutMs: 15_000,
      what: 'the late completion',
    });
    expect(f.api.refusedCompletions.filter((c) => c.jobId === jobId)).toEqual([
      expect.objectContaining({ outcome: 'OUTCOME_SUCCEEDED', exitCode: 0 }),
    ]);
    await waitFor(
      () => f.api.lastState()?.outboxDepth === 0 && !f.api.heartbeats[f.api.heartbeats.length - 1]?.req.running.length,
      { what: 'the attempt to be let go' },
    );
    const calls = { ...f.api.calls };
    await new Promise((r) => setTimeout(r, 1_000));
    expect([f.api.calls.Report, f.api.calls.Complete]).toEqual([calls.Report, calls.Complete]);
    expect(breakerState(a)).toBe('closed');
  });

  it('auth refused while reports wait: exits non-zero once, without a retry loop, and keeps the outbox', async () => {
    const gate = newGate();
    const a = await start();
    const jobId = f.api.enqueue(spec([shell(`echo waiting; ${gate.wait}; echo end`)]));
    await waitFor(() => f.api.output(jobId).includes('waiting'), { timeoutMs: 10_000 });
    f.proxy.setMode({ kind: 'reset' });
    gate.open();
    await waitFor(() => breakerState(a) === 'open' && a.metrics().attempts.undelivered === 1, { timeoutMs: 30_000 });
    f.api.revokeAll();
    f.api.enrollToken = 'rotated';
    f.proxy.setMode({ kind: 'pass' });
    await expect(a.done).resolves.toMatchObject({ code: 77 });
    expect(f.api.calls.Enroll).toBe(2);
    const after = { ...f.api.calls };
    await new Promise((r) => setTimeout(r, 500));
    expect(f.api.calls).toEqual(after);
    expect(await exists(path.join(f.dataDir, 'outbox', 'CURRENT'))).toBe(true);
    expect(await exists(flagFile())).toBe(true);
  });
});
