import type { AgentList } from '@jr/contracts';
import { agentMetric, freePort, replicatedStackOptions, Stack, waitFor, type ApiReplica } from '@jr/testing';

// Agents with a list of API endpoints (JR_API_GRPC=A,B): replicas share PostgreSQL, Redis, the server CA
// and the agent CA, so any of them takes any agent's calls. Figures measured here are printed.

async function submit(stack: Stack, pool: string, ...cmd: string[]): Promise<string> {
  const r = await stack.cli(['submit', '--json', '--pool', pool, '--', ...cmd]);
  if (r.code !== 0) throw new Error(`submit failed (${r.code}): ${r.stderr}\n${stack.diagnostics()}`);
  return (JSON.parse(r.stdout) as { id: string }).id;
}

async function waitSucceeded(stack: Stack, id: string, what: string): Promise<void> {
  await waitFor(
    async () => {
      const job = await stack.job(id);
      if (['failed', 'cancelled', 'timed_out'].includes(job.state))
        throw new Error(`${what}: ended ${job.state}\n${stack.diagnostics()}`);
      return job.state === 'succeeded';
    },
    { timeoutMs: 60_000, what },
  );
}

describe('an agent with two API endpoints', () => {
  let stack: Stack;
  let b: ApiReplica;

  beforeAll(async () => {
    stack = await new Stack('2s', await replicatedStackOptions()).start();
    b = await stack.startReplica('b');
  });
  afterAll(() => stack.close());

  it('A killed: jobs keep running through B, the breaker stays closed; A back: the agent returns to A after JR_API_FAILBACK_AFTER', async () => {
    const metricsPort = await freePort();
    const metric = (name: string, labels = ''): Promise<number | undefined> => agentMetric(metricsPort, name, labels);
    await stack.startAgent('two-ways', {
      pool: 'two',
      grpcTarget: `${stack.grpcAddress},${b.grpcAddress}`,
      extraEnv: { JR_API_FAILBACK_AFTER: '3s', JR_METRICS_PORT: String(metricsPort) },
    });
    expect(await metric('jr_agent_api_on_primary')).toBe(1);

    // a job running when A dies finishes, its result delivered through B
    const running = await submit(stack, 'two', 'sh', '-c', 'sleep 4; echo survived');
    await waitFor(async () => (await stack.job(running)).state === 'running', { timeoutMs: 30_000, what: 'job 1' });
    await stack.api.kill();
    const killedAt = Date.now();
    stack.useRestOf(b);
    await waitFor(async () => (await metric('jr_agent_api_endpoint_switches_total', 'kind="failover"')) === 1, {
      timeoutMs: 20_000,
      intervalMs: 50,
      what: 'the agent to fail over to B',
    });
    const failoverMs = Date.now() - killedAt;
    await waitSucceeded(stack, running, 'the job running when A was killed');
    expect(await stack.logs(running)).toContain('survived');
    // and new jobs run through B
    const during = await submit(stack, 'two', 'echo', 'via B');
    await waitSucceeded(stack, during, 'a job submitted while A is down');
    const agent = (await stack.get<AgentList>('/v1/agents')).items.find((a) => a.name === 'two-ways');
    expect(agent?.state).toBe('active');
    expect(agent?.breakerState).toBe('closed');
    expect(await metric('jr_agent_breaker_opened_total')).toBe(0);
    expect(await metric('jr_agent_api_on_primary')).toBe(0);

    // A back: after 3 s of A answering, the agent is on A again (kill B to prove it: nothing changes)
    // timed from the start of the restart: A's gRPC may answer before startApi sees its REST ready (under load, ~1.5 s)
    const restartedAt = Date.now();
    await stack.startApi();
    await waitFor(async () => (await metric('jr_agent_api_endpoint_switches_total', 'kind="failback"')) === 1, {
      timeoutMs: 30_000,
      intervalMs: 50,
      what: 'the agent to fail back to A',
    });
    const failbackMs = Date.now() - restartedAt;
    expect(failbackMs).toBeGreaterThanOrEqual(3_000);
    expect(await metric('jr_agent_api_on_primary')).toBe(1);
    stack.useRestOf(undefined);
    await b.proc.kill();
    const after = await submit(stack, 'two', 'echo', 'via A again');
    await waitSucceeded(stack, after, 'a job after the fail-back, B killed');
    expect(await metric('jr_agent_api_endpoint_switches_total', 'kind="failover"')).toBe(1);
    expect(await metric('jr_agent_breaker_opened_total')).toBe(0);
    expect((await stack.job(running)).attempts.map((a) => a.state)).toEqual(['succeeded']);
    console.log(
      `[figures] failover after SIGKILL of A: ${failoverMs} ms; fail-back after A restarted: ${failbackMs} ms (JR_API_FAILBACK_AFTER=3s)`,
    );
  });
});

describe('an agent with one API endpoint', () => {
  const stack = new Stack('2s');
  beforeAll(() => stack.start());
  afterAll(() => stack.close());

  it('an API restart does not open the reporting breaker (default JR_BREAKER_MIN_OUTAGE), the job running meanwhile succeeds', async () => {
    const metricsPort = await freePort();
    await stack.startAgent('single', { pool: 'one', extraEnv: { JR_METRICS_PORT: String(metricsPort) } });
    const id = await submit(stack, 'one', 'sh', '-c', 'for i in 1 2 3 4 5 6; do echo tick $i; sleep 1; done');
    await waitFor(async () => (await stack.job(id)).state === 'running', { timeoutMs: 30_000, what: 'the job to run' });
    await stack.api.kill();
    await new Promise((r) => setTimeout(r, 3_000)); // reports and heartbeats fail meanwhile
    await stack.startApi();
    await waitSucceeded(stack, id, 'the job running across the restart');
    expect(await stack.logs(id)).toContain('tick 6');
    expect(await agentMetric(metricsPort, 'jr_agent_breaker_opened_total')).toBe(0);
    expect(await agentMetric(metricsPort, 'jr_agent_api_endpoint_switches_total', 'kind="failover"')).toBe(0);
    const agent = (await stack.get<AgentList>('/v1/agents')).items.find((a) => a.name === 'single');
    expect(agent?.breakerState).toBe('closed');
  });
});
