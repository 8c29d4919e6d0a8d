import type { AgentList, AgentView } from '@jr/contracts';
import { FaultProxy, Stack, waitFor, type ManagedProcess } from '@jr/testing';

// The reporting breaker end to end: real API, real agents (each behind its own fault-injecting proxy),
// the real CLI. Heartbeats every 2s: an agent silent for 6s is lost.
describe('agent reporting: breaker, outbox, enable-reporting, superseded late results', () => {
  const stack = new Stack('2s');
  const proxies: FaultProxy[] = [];

  beforeAll(() => stack.start());
  afterAll(async () => {
    await stack.close();
    for (const p of proxies) await p.close();
  });

  async function agentBehindProxy(
    name: string,
    pool: string,
  ): Promise<{ proc: ManagedProcess; proxy: FaultProxy; view(): Promise<AgentView> }> {
    const proxy = await FaultProxy.start({ host: '127.0.0.1', port: Number(stack.grpcAddress.split(':')[1]) });
    proxies.push(proxy);
    const proc = await stack.startAgent(name, {
      slots: 1,
      pool,
      grpcTarget: proxy.address,
      extraEnv: { JR_BREAKER_THRESHOLD: '1', JR_BREAKER_MIN_OUTAGE: '0s', JR_REPORT_TIMEOUT: '500ms' },
    });
    const view = async (): Promise<AgentView> => {
      const found = (await stack.get<AgentList>('/v1/agents')).items.find((a) => a.name === name);
      if (!found) throw new Error(`agent ${name} not listed`);
      return found;
    };
    return { proc, proxy, view };
  }

  const logged = (proc: ManagedProcess, msg: string): number =>
    proc
      .log()
      .split('\n')
      .filter((l) => l.startsWith('{') && (JSON.parse(l) as { msg?: string }).msg?.startsWith(msg)).length;

  async function submit(pool: string, script: string): Promise<string> {
    const r = await stack.cli(['submit', '--json', '--pool', pool, '--', 'sh', '-c', script]);
    expect(r.code).toBe(0);
    return (JSON.parse(r.stdout) as { id: string }).id;
  }

  it('`jr agents` shows the open breaker and the spool; `jr agents enable-reporting ID` drains it and the job ends on its first attempt', async () => {
    const { proc, proxy, view } = await agentBehindProxy('flaky', 'flaky');
    const id = await submit('flaky', 'echo one; sleep 1; echo two; echo three');
    await waitFor(async () => (await stack.job(id)).state === 'running', { timeoutMs: 20_000, what: 'the job to run' });
    proxy.setMode({ kind: 'reset' });
    await waitFor(() => logged(proc, 'reporting breaker open') > 0, { timeoutMs: 15_000, what: 'the breaker to open' });
    proxy.setMode({ kind: 'pass' });
    const open = await waitFor(
      async () => {
        const a = await view();
        return a.breakerState === 'open' && a.spoolDepth > 0 ? a : undefined;
      },
      { timeoutMs: 15_000, what: 'GET /v1/agents to show the open breaker' },
    );
    expect(open.state).toBe('active');
    const table = await stack.cli(['agents']);
    expect(table.stdout).toMatch(/flaky.*open/);
    expect((await stack.job(id)).state).toBe('running');
    const enable = await stack.cli(['agents', 'enable-reporting', open.id]);
    expect(enable.code).toBe(0);
    const wait = await stack.cli(['wait', id, '--timeout', '60s']);
    if (wait.code !== 0) console.error(stack.diagnostics());
    expect(wait.code).toBe(0);
    const job = await stack.job(id);
    expect(job.attempts.map((a) => a.state)).toEqual(['succeeded']);
    expect(await stack.logs(id)).toContain('one\ntwo\nthree\n');
    await waitFor(
      async () => {
        const a = await view();
        return a.breakerState === 'closed' && a.spoolDepth === 0;
      },
      { timeoutMs: 15_000, what: 'the agent to report an empty spool' },
    );
  });

  it('a result that arrives after its lease was given away is recorded as superseded, once, and the job still succeeds', async () => {
    const { proc, proxy } = await agentBehindProxy('late', 'late');
    const id = await submit('late', 'echo "attempt $JR_ATTEMPT"; sleep 2; echo done');
    await waitFor(async () => (await stack.job(id)).state === 'running', { timeoutMs: 20_000, what: 'the job to run' });
    proxy.setMode({ kind: 'reset' });
    // Silent for more than 3 intervals: the API ends attempt 1 lost and queues the job again.
    await waitFor(async () => (await stack.job(id)).attempts[0]?.state === 'lost', {
      timeoutMs: 30_000,
      what: 'attempt 1 to be lost',
    });
    await waitFor(() => logged(proc, 'reporting breaker open') > 0, { timeoutMs: 15_000 });
    proxy.setMode({ kind: 'pass' });
    const enable = await stack.cli(['agents', 'enable-reporting', '--all']);
    expect(enable.code).toBe(0);
    const wait = await stack.cli(['wait', id, '--timeout', '90s']);
    if (wait.code !== 0) console.error(stack.diagnostics());
    expect(wait.code).toBe(0);
    const job = await waitFor(
      async () => {
        const j = await stack.job(id);
        return j.attempts[0]?.state === 'superseded' ? j : undefined;
      },
      { timeoutMs: 20_000, what: 'attempt 1 to show as superseded' },
    );
    expect(job.state).toBe('succeeded');
    expect(job.attempts.map((a) => a.state)).toEqual(['superseded', 'succeeded']);
    expect(job.attempts[0]?.exitCode).toBe(0);
    expect(await stack.logs(id)).toContain('attempt 2');
    await waitFor(() => logged(proc, 'late result refused') === 1, {
      timeoutMs: 10_000,
      what: 'the late completion to be settled',
    });
    await new Promise((r) => setTimeout(r, 1_000));
    expect(logged(proc, 'late result refused')).toBe(1);
  });
});
