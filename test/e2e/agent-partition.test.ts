import type { AgentList } from '@jr/contracts';
import { FaultProxy, Stack, waitFor } from '@jr/testing';

// A partition between an agent and the API leaves the agent's Lease long-polls parked on the API (a
// half-open connection looks alive). A job that only that agent may run must wait for the partition to
// heal, not be handed to those calls again and again and come back `lost` each time until its lost-attempt
// budget is spent (found by the chaos soak, seed 6060). Heartbeats every 1 s: silent for 2 s = not handed
// jobs; silent for 3 s = lost.
describe('agent partition', () => {
  const stack = new Stack('1s');
  let proxy: FaultProxy;

  beforeAll(async () => {
    await stack.start();
    proxy = await FaultProxy.start({ host: '127.0.0.1', port: Number(stack.grpcAddress.split(':')[1]) });
  });
  afterAll(async () => {
    await stack.close();
    await proxy.close();
  });

  it("a job whose agent is cut off mid-run is not handed again to that agent's parked Lease calls; it runs again once the partition heals", async () => {
    await stack.startAgent('island', { slots: 4, pool: 'island', grpcTarget: proxy.address });
    const submit = await stack.cli(['submit', '--json', '--pool', 'island', '--', 'sleep', '4']);
    expect(submit.code).toBe(0);
    const id = (JSON.parse(submit.stdout) as { id: string }).id;
    await waitFor(async () => (await stack.job(id)).state === 'running', { timeoutMs: 20_000, what: 'the job to run' });
    proxy.setMode({ kind: 'blackhole' }); // the agent's 3 idle Lease calls stay parked on the API
    await waitFor(
      async () =>
        (await stack.get<AgentList>('/v1/agents')).items.some((a) => a.name === 'island' && a.state === 'lost'),
      {
        timeoutMs: 15_000,
        what: 'the partitioned agent to be declared lost',
      },
    );
    await new Promise((r) => setTimeout(r, 6_000)); // 6 more intervals: time to burn 2 more attempts
    const during = await stack.job(id);
    expect({ state: during.state, attempts: during.attempts.map((a) => a.state) }).toEqual({
      state: 'queued',
      attempts: ['lost'],
    });
    proxy.setMode({ kind: 'pass' });
    expect((await stack.cli(['agents', 'enable-reporting', '--all'])).code).toBe(0);
    const wait = await stack.cli(['wait', id, '--timeout', '60s']);
    if (wait.code !== 0) console.error(stack.diagnostics());
    expect(wait.code).toBe(0);
    const states = (await stack.job(id)).attempts.map((a) => a.state);
    // After the heal it runs to success. Under load a Lease answer can miss its deadline, so the agent
    // never heard of that attempt and the API supersedes it: what matters is that nothing burned attempts
    // during the partition (checked above) and that only the last attempt ran to an end.
    expect(states.at(-1)).toBe('succeeded');
    expect(states.slice(0, -1).every((s) => s === 'lost' || s === 'superseded')).toBe(true);
  });
});
