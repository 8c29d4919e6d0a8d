import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import { Client } from 'pg';
import { FaultProxy, testRedisUrl, testServerUrl, waitFor } from '@jr/testing';
import { LeadershipService } from '../../../apps/api/src/leadership/leadership.service';
import { parseRecord, type ReplicaRecord } from '../../../apps/api/src/leadership/replica-record';
import { METRICS, type ApiMetrics } from '../../../apps/api/src/telemetry/api-metrics';
import { AgentClient, http, startTestApi, startTestReplica, type TestApi } from './harness';

// Replica A holds an agent whose heartbeats and results reach A while A cannot reach Postgres; B leads
// and its reaper runs far past the leases. B must leave A's attempts alone (A's record in Redis) and,
// once A reaches Postgres again, every job has run once. Heartbeat interval 1 s: leases live 3 s.
interface Assignment {
  jobId: string;
  attempt: number;
  leaseToken: string;
}

let proxy: FaultProxy;
let redis: Redis;
const started: TestApi[] = [];
const clients: AgentClient[] = [];

beforeAll(async () => {
  const server = new URL(testServerUrl());
  proxy = await FaultProxy.start({ host: server.hostname || '127.0.0.1', port: Number(server.port || 5432) });
  redis = new Redis(testRedisUrl());
});

afterAll(async () => {
  proxy.setMode({ kind: 'reset' });
  for (const c of clients) c.close();
  for (const t of started.reverse()) await t.cleanup();
  await proxy.close();
  redis.disconnect();
});

function via(testDbUrl: string): string {
  const u = new URL(testDbUrl);
  u.hostname = '127.0.0.1';
  u.port = String(proxy.port);
  return u.toString();
}

async function recordOf(t: TestApi): Promise<ReplicaRecord | undefined> {
  return parseRecord(await redis.get(`${t.prefix}:replica:${t.config.replicaId}`));
}

async function agentOn(t: TestApi, pool: string, slots: number): Promise<[AgentClient, string]> {
  const c = new AgentClient(t.grpcAddress);
  clients.push(c);
  const id = await c.enroll({ pool, slots });
  await c.call('Heartbeat', {});
  return [c, id];
}

async function leaseAll(c: AgentClient, n: number): Promise<Assignment[]> {
  const got: Assignment[] = [];
  while (got.length < n) {
    const res = await c.call<{ assignments: Assignment[] }>(
      'Lease',
      { freeSlots: n - got.length, waitMs: 5_000 },
      { deadlineMs: 10_000 },
    );
    got.push(...res.assignments);
  }
  return got;
}

/** lease_expires_at (epoch ms) of these jobs' attempts. */
async function leaseExpiries(t: TestApi, jobIds: string[]): Promise<Map<string, number>> {
  const rows = await dbRows<{ job_id: string; lease_expires_at: Date }>(
    t,
    'SELECT job_id, lease_expires_at FROM attempts WHERE job_id = ANY($1)',
    [jobIds],
  );
  return new Map(rows.map((r) => [r.job_id, r.lease_expires_at.getTime()]));
}

const submit = async (t: TestApi, pool: string): Promise<string> =>
  (await http(t, 'POST', '/v1/jobs', { body: { pool, steps: [{ run: 'true' }] } })).json.id as string;

const job = async (t: TestApi, id: string) =>
  (await http(t, 'GET', `/v1/jobs/${id}`)).json as { state: string; attempts: Array<{ n: number; state: string }> };

async function dbRows<T>(t: TestApi, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: t.db.url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

it('the leader leaves alone the attempts a replica cut off from Postgres holds: each job runs once', async () => {
  const b = await startTestApi();
  started.push(b);
  const a = await startTestReplica(b, {}, { databaseUrl: via });
  started.push(a);
  expect(b.api.app.get(LeadershipService).isLeader()).toBe(true);
  const [held, heldAgent] = await agentOn(a, 'held', 8);
  const [control] = await agentOn(b, 'control', 1);
  const ids = await Promise.all(Array.from({ length: 8 }, () => submit(a, 'held')));
  const controlId = await submit(b, 'control');
  const assignments = await leaseAll(held, 8);
  const [controlLease] = await leaseAll(control, 1);
  let controlBeating = true;
  const running = assignments.map(({ jobId, attempt, leaseToken }) => ({ jobId, attempt, leaseToken }));
  let beating = true;
  const beats = (async () => {
    while (beating) {
      await held.call('Heartbeat', { running }).catch(() => undefined); // UNAVAILABLE while A is cut off
      if (controlBeating) await control.call('Heartbeat', { running: [controlLease] }).catch(() => undefined);
      await sleep(300);
    }
  })();
  try {
    // A's own start-up amnesty would spare its agents anyway: wait until it is over
    await waitFor(async () => ((await recordOf(a))?.graceMs ?? 0) > 0, { what: "A's amnesty in its record" });
    await waitFor(async () => (await recordOf(a))?.graceMs === 0, { what: "A's amnesty over", timeoutMs: 30_000 });

    proxy.setMode({ kind: 'reset' }); // A cannot reach Postgres; B can
    await waitFor(async () => (await recordOf(a))?.agents.some(([id]) => id === heldAgent), {
      what: "A's record naming the agent it hears but cannot store",
    });
    for (const x of assignments)
      expect(await held.call('Complete', { ...x, outcome: 'OUTCOME_SUCCEEDED', exitCode: 0 })).toEqual({
        jobState: 'succeeded',
      });
    const record = await recordOf(a);
    expect(new Set(record?.attempts)).toEqual(new Set(assignments.map((x) => `${x.jobId}/${x.attempt}`)));

    controlBeating = false;
    await sleep(400); // the control agent's last heartbeat is in
    b.clock.advance(30_000); // B's reaper: every lease long expired, every agent long silent
    await waitFor(async () => (await job(b, controlId)).attempts[0]?.state === 'lost', {
      what: "B's reaper expiring the control job's lease (proof that it ran past the leases)",
      timeoutMs: 15_000,
    });
    await sleep(1_500); // a few more passes
    for (const id of ids) expect((await job(b, id)).attempts).toMatchObject([{ n: 1, state: 'leased' }]);
    const [agent] = await dbRows<{ state: string }>(b, 'SELECT state FROM agents WHERE id = $1', [heldAgent]);
    expect(agent?.state).not.toBe('lost');
    const expired = await b.api.app.get<ApiMetrics>(METRICS).render();
    expect(expired).not.toMatch(/jr_leases_expired_total\{pool="held"\} [1-9]/);
    expect(expired).toMatch(/jr_leases_expired_total\{pool="control"\} 1/);

    const backAt = Date.now();
    proxy.setMode({ kind: 'pass' });
    for (const id of ids)
      await waitFor(async () => (await job(b, id)).state === 'succeeded', {
        what: `${id} succeeded`,
        timeoutMs: 20_000,
      });
    console.log(`A back on Postgres: its 8 journaled completions applied within ${Date.now() - backAt} ms`);
    for (const id of ids) expect((await job(b, id)).attempts).toMatchObject([{ n: 1, state: 'succeeded' }]);
  } finally {
    beating = false;
    await beats;
  }
}, 120_000);

it("after a replica's restart, the amnesty extends the leases of its own agents only", async () => {
  const b = await startTestApi();
  started.push(b);
  const a = await startTestReplica(b);
  started.push(a);
  const [onA] = await agentOn(a, 'amnesty-a', 1);
  const [onB] = await agentOn(b, 'amnesty-b', 1);
  const jobA = await submit(a, 'amnesty-a');
  const jobB = await submit(b, 'amnesty-b');
  const [leaseA] = await leaseAll(onA, 1);
  const [leaseB] = await leaseAll(onB, 1);
  await onA.call('Heartbeat', { running: [leaseA] });
  await onB.call('Heartbeat', { running: [leaseB] });

  const restartedAt = Date.now();
  await a.restart();
  // A's first reaper pass (every 0.4-0.6 s) grants its amnesty: 3 s of lease + 10 s to reconnect
  const leases = () => leaseExpiries(b, [jobA, jobB]);
  await waitFor(async () => ((await leases()).get(jobA) ?? 0) >= restartedAt + 12_000, {
    what: "A's agent's lease extended by A's amnesty",
  });
  const after = await leases();
  console.log(
    `after A's restart: A's agent's lease runs ${(after.get(jobA) ?? 0) - restartedAt} ms past it, B's agent's ${(after.get(jobB) ?? 0) - restartedAt} ms`,
  );
  expect(after.get(jobB)).toBeLessThan(restartedAt + 5_000); // as its last heartbeat left it (3 s)
}, 60_000);

it('the amnesty also covers the agents of a replica that is gone (no live record), not those of a live one', async () => {
  // Heartbeats every 5 s: leases live 15 s, so nobody reaps C's agent's lease while C's record expires
  const slow = { JR_HEARTBEAT_INTERVAL: '5s' };
  const b = await startTestApi(slow);
  started.push(b);
  const a = await startTestReplica(b, slow);
  started.push(a);
  const c = await startTestReplica(b, slow);
  const [onC] = await agentOn(c, 'gone-c', 1);
  const [onB] = await agentOn(b, 'gone-b', 1);
  const jobC = await submit(c, 'gone-c');
  const jobB = await submit(b, 'gone-b');
  const [leaseC] = await leaseAll(onC, 1);
  const [leaseB] = await leaseAll(onB, 1);
  await onC.call('Heartbeat', { running: [leaseC] });
  await onB.call('Heartbeat', { running: [leaseB] });
  await c.cleanup(); // C is gone (a lost site, say): its record expires; its agent has not reconnected yet
  await waitFor(async () => (await recordOf(c)) === undefined, { timeoutMs: 15_000, what: "C's record to expire" });

  const restartedAt = Date.now();
  await a.restart();
  const leases = () => leaseExpiries(b, [jobC, jobB]);
  // the amnesty: a lease period (15 s) + 10 s to reconnect from A's first pass
  await waitFor(async () => ((await leases()).get(jobC) ?? 0) >= restartedAt + 24_000, {
    what: "the gone replica's agent's lease extended by A's amnesty",
  });
  const after = await leases();
  console.log(
    `after A's restart: the gone replica C's agent's lease runs ${(after.get(jobC) ?? 0) - restartedAt} ms past it, live B's agent's ${(after.get(jobB) ?? 0) - restartedAt} ms`,
  );
  expect(after.get(jobB)).toBeLessThan(restartedAt + 15_000); // as its last heartbeat left it
}, 90_000);
