import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { waitFor } from '@jr/testing';
import { shell, spec, useAgentFixture } from './agent-harness';

jest.setTimeout(60_000);

describe('jr-agent against a loopback AgentService: running jobs', () => {
  const f = useAgentFixture();

  it('leases a job, runs it, reports its events in seq order and completes it', async () => {
    await f.start();
    const jobId = f.api.enqueue(
      spec([
        shell('echo "hello from $JR_JOB_ID"; echo oops >&2', { name: 'greet' }),
        { name: 'argv', argv: { args: ['/bin/echo', '$HOME'] } },
      ]),
    );
    const done = await waitFor(() => f.api.completion(jobId), { timeoutMs: 15_000, what: 'Complete' });
    const events = f.api.events(jobId);
    expect(events.map((e) => e.seq)).toEqual(events.map((_e, i) => i + 1));
    expect(events[0]).toMatchObject({ kind: 'stepStarted', stepStarted: { step: 0, name: 'greet', try: 1 } });
    expect(events[events.length - 1]).toMatchObject({
      kind: 'stepFinished',
      stepFinished: { step: 1, exitCode: 0, outcome: 'succeeded' },
    });
    expect(f.api.output(jobId)).toContain(`hello from ${jobId}\n`);
    expect(f.api.output(jobId)).toContain('$HOME\n');
    expect(done).toMatchObject({ outcome: 'OUTCOME_SUCCEEDED', exitCode: 0, lastSeq: events.length, attempt: 1 });
    expect(done.endedAtMs).toBeGreaterThanOrEqual(done.startedAtMs);
  });

  it('carries running attempts and its state in heartbeats, and stops listing them once completed', async () => {
    await f.start();
    const jobId = f.api.enqueue(spec([shell('sleep 1')]));
    const beat = await waitFor(() => f.api.heartbeats.find((h) => h.req.running.some((r) => r.jobId === jobId)), {
      what: 'a heartbeat listing the attempt',
    });
    expect(beat.req.running).toEqual([{ jobId, attempt: 1, leaseToken: expect.stringMatching(/^lt_/) }]);
    expect(beat.req.state).toMatchObject({ slots: 2, running: 1, draining: false, breakerState: 'closed' });
    await waitFor(() => f.api.completion(jobId), { timeoutMs: 10_000 });
    const after = f.api.heartbeats.length;
    await waitFor(() => f.api.heartbeats.length > after + 1);
    expect(f.api.heartbeats[f.api.heartbeats.length - 1]?.req.running).toEqual([]);
  });

  it('runs up to JR_SLOTS attempts at once and no more', async () => {
    await f.start({ JR_SLOTS: '2' });
    const ids = [1, 2, 3].map(() => f.api.enqueue(spec([shell('sleep 0.6')])));
    await waitFor(() => f.api.heartbeats.some((h) => h.req.running.length === 2));
    expect(f.api.heartbeats.every((h) => h.req.running.length <= 2)).toBe(true);
    expect(f.api.leaseCalls.every((c) => c.freeSlots >= 1 && c.freeSlots <= 2)).toBe(true);
    await waitFor(() => ids.every((id) => f.api.completion(id)), { timeoutMs: 15_000 });
  });

  it('kills the job on a cancel directive and completes it CANCELLED', async () => {
    await f.start();
    const pidFile = path.join(f.dropDir, 'job.pid');
    const jobId = f.api.enqueue(spec([shell('echo $$ > "$PIDFILE"; exec sleep 1000')], { env: { PIDFILE: pidFile } }));
    const pid = await waitFor(async () => Number(await readFile(pidFile, 'utf8').catch(() => '')) || undefined);
    f.api.cancel(jobId, 'cancelled');
    const done = await waitFor(() => f.api.completion(jobId), { timeoutMs: 10_000 });
    expect(done).toMatchObject({ outcome: 'OUTCOME_CANCELLED', reason: 'cancelled' });
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    expect(f.api.events(jobId).pop()).toMatchObject({ stepFinished: { outcome: 'cancelled' } });
  });

  it('on lease_lost just kills the job; the refused Complete is expected and ends the attempt', async () => {
    await f.start();
    const pidFile = path.join(f.dropDir, 'job.pid');
    const jobId = f.api.enqueue(spec([shell('echo $$ > "$PIDFILE"; exec sleep 1000')], { env: { PIDFILE: pidFile } }));
    const pid = await waitFor(async () => Number(await readFile(pidFile, 'utf8').catch(() => '')) || undefined);
    f.api.cancel(jobId, 'lease_lost');
    await waitFor(() => f.api.refusedCompletions.find((c) => c.jobId === jobId), { timeoutMs: 10_000 });
    expect(f.api.refusedCompletions[0]).toMatchObject({ outcome: 'OUTCOME_CANCELLED', reason: 'lease_lost' });
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    await waitFor(
      () => f.api.heartbeats.length > 0 && f.api.heartbeats[f.api.heartbeats.length - 1]?.req.running.length === 0,
    );
    expect(f.api.completion(jobId)).toBeUndefined();
  });

  it('recovers from an outage (server stopped, restarted on the same port) and completes with every event', async () => {
    await f.start();
    const jobId = f.api.enqueue(spec([shell('echo before; sleep 1.5; echo after')]));
    await waitFor(() => f.api.output(jobId).includes('before'), { what: 'the first output' });
    await f.api.stop();
    await new Promise((r) => setTimeout(r, 2_500));
    expect(f.api.completion(jobId)).toBeUndefined();
    await f.api.start();
    const done = await waitFor(() => f.api.completion(jobId), { timeoutMs: 20_000, what: 'Complete after the outage' });
    const events = f.api.events(jobId);
    expect(events.map((e) => e.seq)).toEqual(events.map((_e, i) => i + 1));
    expect(f.api.output(jobId)).toBe('before\nafter\n');
    expect(done).toMatchObject({ outcome: 'OUTCOME_SUCCEEDED', lastSeq: events.length });
  });

  it('retries Report on UNAVAILABLE/DEADLINE-class answers without losing or reordering events', async () => {
    await f.start();
    f.api.failNext('Report', 14, 3);
    const jobId = f.api.enqueue(spec([shell('for i in 1 2 3 4 5; do echo line $i; sleep 0.25; done')]));
    await waitFor(() => f.api.completion(jobId), { timeoutMs: 20_000 });
    expect(f.api.output(jobId)).toBe('line 1\nline 2\nline 3\nline 4\nline 5\n');
  });

  it('fails a job whose step fails, with its exit code', async () => {
    await f.start();
    const jobId = f.api.enqueue(spec([shell('exit 3'), shell('echo never')]));
    await expect(waitFor(() => f.api.completion(jobId), { timeoutMs: 10_000 })).resolves.toMatchObject({
      outcome: 'OUTCOME_FAILED',
      exitCode: 3,
      reason: 'step_failed',
    });
    expect(f.api.output(jobId)).toBe('');
  });

  it('stops leasing on a drain directive and says so in its state', async () => {
    const { agent } = await f.start();
    f.api.direct(agent.agentId, { drain: {} });
    await waitFor(() => f.api.heartbeats.some((h) => h.req.state?.draining));
    const jobId = f.api.enqueue(spec([shell('true')]));
    await new Promise((r) => setTimeout(r, 1_500));
    expect(f.api.completion(jobId)).toBeUndefined();
    expect(f.api.heartbeats[f.api.heartbeats.length - 1]?.req.running).toEqual([]);
    // undrained (heartbeat answers stop carrying the drain): the same process leases and runs the job
    f.api.undrain(agent.agentId);
    await expect(waitFor(() => f.api.completion(jobId), { timeoutMs: 15_000 })).resolves.toMatchObject({
      outcome: 'OUTCOME_SUCCEEDED',
    });
    await waitFor(() => f.api.heartbeats[f.api.heartbeats.length - 1]?.req.state?.draining === false, {
      what: 'a heartbeat that no longer says draining',
    });
  });
});
