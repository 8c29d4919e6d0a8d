import type { Incident, SloReport } from '@jr/contracts';
import { waitFor } from '@jr/testing';
import { canaryToken } from '../../../apps/api/src/auth/tokens';
import { AgentClient, http, setDatabaseConnections, startTestApi, type TestApi } from './harness';

// Service levels against a real jr-api (Postgres, Redis, gRPC, TLS): canary jobs take the public way and
// are measured; an outage made here becomes one incident whose start and end this test knows from its
// own clock, and the report's downtime, availability and MTTR move by exactly that incident. Each part
// has its own API and database: canaries left queued would become incidents of their own.
let t: TestApi;
const clients: AgentClient[] = [];
function ownApi(env: Record<string, string>): void {
  beforeAll(async () => {
    t = await startTestApi(env);
  });
  afterAll(async () => {
    for (const c of clients.splice(0)) c.close();
    await t?.cleanup();
  });
}

interface Leased {
  assignments: Array<{
    jobId: string;
    attempt: number;
    leaseToken: string;
    spec: { name: string; steps: Array<{ run: string; builtin?: string }> };
  }>;
}

const slo = async (window = '1h'): Promise<SloReport> =>
  (await http(t, 'GET', `/v1/slo?window=${window}`)).json as SloReport;
const incidents = async (): Promise<Incident[]> =>
  ((await http(t, 'GET', '/v1/incidents?window=1h')).json as { items: Incident[] }).items;
const objective = (r: SloReport, name: string) => r.objectives.find((o) => o.name === name);

describe('canaries', () => {
  ownApi({ JR_CANARY_INTERVAL: '1s' });
  it('are submitted per pool with agents, run as a built-in no-op, measured, and kept out of lists', async () => {
    const c = new AgentClient(t.grpcAddress);
    clients.push(c);
    await c.enroll({ pool: 'canaried' });
    const leased = await waitFor(
      async () =>
        (await c.call<Leased>('Lease', { freeSlots: 1, waitMs: 3_000 }, { deadlineMs: 8_000 })).assignments[0],
      { what: 'a canary lease', timeoutMs: 30_000 },
    );
    expect(leased.spec.name).toBe('canary canaried');
    expect(leased.spec.steps).toEqual([expect.objectContaining({ run: 'builtin', builtin: 'noop' })]);
    await c.call('Complete', {
      jobId: leased.jobId,
      attempt: leased.attempt,
      leaseToken: leased.leaseToken,
      outcome: 'OUTCOME_SUCCEEDED',
      exitCode: 0,
    });
    const measured = await waitFor(
      async () => ((o) => (o && o.good >= 1 ? o : undefined))(objective(await slo(), 'canaries-30s')),
      { what: 'the canary measured', timeoutMs: 20_000 },
    );
    expect(measured.attainment).not.toBeNull();

    const listed = (await http(t, 'GET', '/v1/jobs?limit=500')).json as { items: Array<{ id: string }> };
    expect(listed.items.map((j) => j.id)).not.toContain(leased.jobId);
    const only = (await http(t, 'GET', '/v1/jobs?canary=only&limit=500')).json as { items: Array<{ id: string }> };
    expect(only.items.map((j) => j.id)).toContain(leased.jobId);

    const metrics = await http(t, 'GET', '/metrics');
    expect(metrics.text).toMatch(/jr_canaries_total\{pool="canaried",outcome="succeeded"\} [1-9]/);
  });

  it('refuses canary: true from anyone but the API itself; the canary token may submit and nothing else', async () => {
    const r = await http(t, 'POST', '/v1/jobs', { body: { canary: true, steps: [{ builtin: 'noop' }] } });
    expect(r.status).toBe(400);
    expect(r.text).toContain('canary');
    const token = canaryToken(t.config.adminToken);
    const own = await http(t, 'POST', '/v1/jobs', { token, body: { canary: true, steps: [{ builtin: 'noop' }] } });
    expect(own.status).toBe(202);
    expect((await http(t, 'GET', '/v1/jobs', { token })).status).toBe(403);
    expect((await http(t, 'GET', '/v1/agents', { token })).status).toBe(403);
  });
});

describe('incidents', () => {
  ownApi({ JR_METRICS_REFRESH_INTERVAL: '1s' }); // the readiness probe the incidents come from
  it('Postgres unreachable becomes one incident; the report moves by exactly it', async () => {
    const before = await slo();
    const downAt = t.clock.now();
    await setDatabaseConnections(t, false);
    await new Promise((r) => setTimeout(r, 6_000));
    const upAt = t.clock.now();
    await setDatabaseConnections(t, true);
    const incident = await waitFor(
      async () => (await incidents()).find((i) => i.cause === 'dependency_down' && i.scope === 'postgres' && i.endedAt),
      { what: 'the Postgres incident, ended', timeoutMs: 30_000 },
    );
    const start = Date.parse(incident.startedAt);
    const end = Date.parse(incident.endedAt as string);
    // seen by the next probe (every second, each up to 2 s) at the monitor's next look (every second)
    expect(start).toBeGreaterThanOrEqual(downAt);
    expect(start - downAt).toBeLessThan(5_000);
    expect(end).toBeGreaterThanOrEqual(upAt);
    expect(end - upAt).toBeLessThan(6_000);
    expect(incident).toMatchObject({ outage: true, durationMs: end - start, replica: t.config.replicaId });
    expect((await incidents()).filter((i) => i.cause === 'dependency_down')).toHaveLength(1);

    const after = await slo();
    expect(after.downtimeMs - before.downtimeMs).toBe(end - start);
    expect(after.availability).toBeCloseTo(1 - after.downtimeMs / after.window.ms, 9);
    expect(after.mttr).toMatchObject({ count: 1, p50Ms: end - start, maxMs: end - start, meanMs: end - start });
  });

  it("an agent's open reporting breaker is an incident until it closes", async () => {
    const c = new AgentClient(t.grpcAddress);
    clients.push(c);
    const id = await c.enroll({ pool: 'breakers' });
    const beat = (breakerState: string) =>
      c.call('Heartbeat', { state: { slots: 1, running: 0, breakerState, outboxDepth: 3, outboxOldestAgeMs: 10 } });
    await beat('open');
    const open = await waitFor(async () => (await incidents()).find((i) => i.scope === id && !i.endedAt), {
      what: 'the breaker incident',
      timeoutMs: 20_000,
    });
    expect(open).toMatchObject({ cause: 'breaker_open', outage: false });
    await beat('closed');
    await waitFor(async () => (await incidents()).find((i) => i.id === open.id && i.endedAt), {
      what: 'the breaker incident ended',
      timeoutMs: 20_000,
    });
  });
});
