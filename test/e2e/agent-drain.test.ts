import type { AgentList } from '@jr/contracts';
import { Stack, waitFor } from '@jr/testing';

// A real jr-agent drained by the operator stays drained through a restart, and an undrain lets the
// same process lease again (through the heartbeat: no restart needed).
describe('draining a real agent', () => {
  const stack = new Stack('1s');

  beforeAll(() => stack.start());
  afterAll(() => stack.close());

  const view = async (name: string) => (await stack.get<AgentList>('/v1/agents')).items.find((a) => a.name === name);

  it('drain holds across a restart; undrain makes the running agent take jobs again', async () => {
    const first = await stack.startAgent('drainee', { slots: 1 });
    const id = (await view('drainee'))!.id;
    expect((await stack.cli(['agents', 'drain', id])).code).toBe(0);
    await first.stop();
    const again = await stack.startAgent('drainee', { slots: 1, waitActive: false });
    const startedAt = Date.now();
    await waitFor(
      async () => {
        const a = await view('drainee');
        return a?.state === 'draining' && a.draining && Date.parse(a.lastHeartbeatAt ?? '') >= startedAt;
      },
      { timeoutMs: 20_000, what: 'the restarted agent to heartbeat, still drained' },
    );
    const submit = await stack.cli(['submit', '--json', '--', 'echo', 'after undrain']);
    const { id: jobId } = JSON.parse(submit.stdout) as { id: string };
    const submittedAt = Date.now();
    // Two heartbeats later (each answered with the drain directive) the job is still waiting.
    await waitFor(async () => Date.parse((await view('drainee'))?.lastHeartbeatAt ?? '') >= submittedAt + 1_000, {
      timeoutMs: 20_000,
      what: 'two more heartbeats',
    });
    expect((await stack.job(jobId)).state).toBe('queued');
    expect((await stack.cli(['agents', 'undrain', id])).code).toBe(0);
    const wait = await stack.cli(['wait', jobId, '--timeout', '30s']);
    if (wait.code !== 0) console.error(stack.diagnostics());
    expect(wait.code).toBe(0);
    expect(again.running).toBe(true);
    expect(await view('drainee')).toMatchObject({ id, state: 'active', draining: false });
    expect(await stack.logs(jobId)).toBe('after undrain\n');
  });
});
