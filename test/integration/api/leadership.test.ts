import { Client } from 'pg';
import { FaultProxy, testServerUrl, waitFor } from '@jr/testing';
import { AgentsRepository } from '../../../apps/api/src/agents/agents.repository';
import { JobLedgerRepository } from '../../../apps/api/src/jobs/job-ledger.repository';
import { LeadershipService } from '../../../apps/api/src/leadership/leadership.service';
import { METRICS, type ApiMetrics } from '../../../apps/api/src/telemetry/api-metrics';
import { AgentClient, http, startTestApi, startTestReplica, type TestApi } from './harness';

// Two (three) replicas on one database: one leader, failover with a higher epoch, and the epoch fencing
// the reaper's writes in Postgres.
const started: TestApi[] = [];
const proxies: FaultProxy[] = [];

afterEach(async () => {
  for (const p of proxies) p.setMode({ kind: 'reset' }); // hung queries fail, so the replicas can stop
  for (const t of started.splice(0).reverse()) await t.cleanup();
  for (const p of proxies.splice(0)) await p.close();
});

const leadership = (t: TestApi) => t.api.app.get(LeadershipService);
const metricsText = (t: TestApi) => t.api.app.get<ApiMetrics>(METRICS).render();

async function pair(): Promise<[TestApi, TestApi]> {
  const first = await startTestApi();
  started.push(first);
  const second = await startTestReplica(first);
  started.push(second);
  return [first, second];
}

/** The DATABASE_URL `testDbUrl` with its host and port replaced by the proxy's. */
function via(proxy: FaultProxy, testDbUrl: string): string {
  const u = new URL(testDbUrl);
  u.hostname = '127.0.0.1';
  u.port = String(proxy.port);
  return u.toString();
}

it('two replicas: exactly one leads; stopping it, the other leads within seconds under a higher epoch', async () => {
  const [a, b] = await pair();
  expect(leadership(a).isLeader()).toBe(true); // the first replica's first attempt, awaited at start-up
  expect(leadership(b).isLeader()).toBe(false);
  const first = leadership(a).fence()?.epoch ?? 0;
  const ready = await http(b, 'GET', '/readyz', { token: null });
  expect(ready.json.leadership).toEqual({
    replica: b.config.replicaId,
    leader: false,
    epoch: first,
    holder: a.config.replicaId,
  });
  expect(await metricsText(a)).toContain(`jr_leader{replica="${a.config.replicaId}"} 1`);
  expect(await metricsText(b)).toContain(`jr_leader{replica="${b.config.replicaId}"} 0`);

  const stoppedAt = Date.now();
  await a.api.stop();
  await waitFor(() => leadership(b).isLeader(), { what: 'the second replica leading', timeoutMs: 10_000 });
  const failoverMs = Date.now() - stoppedAt;
  console.log(`leadership failover after a clean stop of the leader: ${failoverMs} ms`);
  expect(leadership(b).fence()?.epoch).toBeGreaterThan(first);
  expect(await metricsText(b)).toContain(`jr_leader{replica="${b.config.replicaId}"} 1`);
  expect(await metricsText(b)).toMatch(/^jr_leader_changes_total 2$/m); // a's epoch, then its own
}, 60_000);

it('a leader cut off from Postgres steps down by itself before another replica begins the next epoch', async () => {
  const server = new URL(testServerUrl());
  const proxy = await FaultProxy.start({ host: server.hostname || '127.0.0.1', port: Number(server.port || 5432) });
  proxies.push(proxy);
  const a = await startTestApi({}, undefined, { databaseUrl: (url) => via(proxy, url) });
  started.push(a);
  const b = await startTestReplica(a);
  started.push(b);
  expect(leadership(a).isLeader()).toBe(true);
  const first = leadership(a).fence()?.epoch ?? 0;
  let steppedDownAt = 0;
  leadership(a).onDeposed(() => (steppedDownAt = Date.now()));
  let electedAt = 0;
  leadership(b).onElected(() => (electedAt = Date.now()));

  const cutAt = Date.now();
  proxy.setMode({ kind: 'blackhole' });
  await waitFor(() => leadership(b).isLeader(), { what: 'the second replica leading', timeoutMs: 20_000 });
  console.log(
    `leader partitioned from Postgres: stepped down after ${steppedDownAt - cutAt} ms, the other replica led after ${electedAt - cutAt} ms`,
  );
  expect(steppedDownAt).toBeGreaterThan(0);
  expect(steppedDownAt).toBeLessThan(electedAt); // never two leaders at once
  expect(leadership(a).isLeader()).toBe(false);
  expect(leadership(b).fence()?.epoch).toBeGreaterThan(first);
}, 60_000);

it("fencing: the reaper's writes with a stale epoch are refused by Postgres, with the current one applied", async () => {
  const [a, b] = await pair();
  const stale = leadership(a).fence();
  if (!stale) throw new Error('the first replica does not lead');
  const c = new AgentClient(b.grpcAddress);
  try {
    const agentId = await c.enroll({ pool: 'fence', slots: 1 });
    await c.call('Heartbeat', {});
    const id = (await http(b, 'POST', '/v1/jobs', { body: { pool: 'fence', steps: [{ run: 'true' }] } })).json
      .id as string;
    await c.call('Lease', { freeSlots: 1, waitMs: 5_000 }, { deadlineMs: 10_000 });

    await a.api.stop();
    await waitFor(() => leadership(b).isLeader(), { what: 'the second replica leading', timeoutMs: 10_000 });
    const current = leadership(b).fence();
    expect(current?.epoch).toBeGreaterThan(stale.epoch);
    const agents = b.api.app.get(AgentsRepository);
    const ledger = b.api.app.get(JobLedgerRepository);
    const later = new Date(Date.now() + 3_600_000); // as if the lease and the agent's silence had run out

    expect(await agents.markLost(later, stale)).toEqual([]);
    expect(await ledger.expire(id, 1, later, 3, stale)).toBe('fenced');
    expect(await dbRow(b, 'SELECT state FROM agents WHERE id = $1', [agentId])).toEqual({ state: 'active' });
    expect(await dbRow(b, 'SELECT state FROM attempts WHERE job_id = $1', [id])).toEqual({ state: 'leased' });

    expect(await agents.markLost(later, current!)).toEqual([{ id: agentId, pool: 'fence' }]);
    expect(await ledger.expire(id, 1, later, 3, current)).toMatchObject({ jobId: id, attemptEnded: 'lost' });
  } finally {
    c.close();
  }
}, 60_000);

async function dbRow(t: TestApi, sql: string, params: unknown[]): Promise<unknown> {
  const client = new Client({ connectionString: t.db.url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows[0];
  } finally {
    await client.end();
  }
}
