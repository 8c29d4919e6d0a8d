import { AgentClient, http, startTestApi, startTestReplica, type TestApi } from './harness';

// What an operator does through one replica reaches the Lease calls another replica holds at once
// (the replica bus over Redis pub/sub), not when those calls time out.
jest.setTimeout(60_000);

let a: TestApi;
let b: TestApi;
const clients: AgentClient[] = [];

beforeAll(async () => {
  a = await startTestApi();
  b = await startTestReplica(a);
});

afterAll(async () => {
  for (const c of clients) c.close();
  await b?.cleanup();
  await a?.cleanup();
});

async function agentOnA(): Promise<{ client: AgentClient; id: string }> {
  const client = new AgentClient(a.grpcAddress);
  clients.push(client);
  const id = await client.enroll({ slots: 1 });
  await client.call('Heartbeat', {});
  return { client, id };
}

/** A Lease call parked on A for up to 20 s: how long it took to be answered, and how. */
async function parkedLease(client: AgentClient): Promise<{ ms: number; outcome: string }> {
  const started = Date.now();
  const outcome = await client
    .call<{ assignments: unknown[] }>('Lease', { freeSlots: 1, waitMs: 20_000 }, { deadlineMs: 30_000 })
    .then((r) => `answered with ${r.assignments.length} assignment(s)`)
    .catch((err: { code?: number }) => `refused (grpc ${err.code})`);
  return { ms: Date.now() - started, outcome };
}

it('draining an agent through B answers its Lease call parked on A at once', async () => {
  const { client, id } = await agentOnA();
  const lease = parkedLease(client);
  await new Promise((r) => setTimeout(r, 500));
  expect((await http(b, 'POST', `/v1/agents/${id}/drain`)).status).toBe(202);
  const r = await lease;
  process.stdout.write(`replica events: drained on B, the Lease on A answered after ${r.ms} ms (${r.outcome})\n`);
  expect(r.outcome).toBe('answered with 0 assignment(s)');
  expect(r.ms).toBeLessThan(15_000); // its own wait is 20 s
});

it('revoking an agent through B ends its Lease call parked on A at once', async () => {
  const { client, id } = await agentOnA();
  const lease = parkedLease(client);
  await new Promise((r) => setTimeout(r, 500));
  expect((await http(b, 'POST', `/v1/agents/${id}/revoke`)).status).toBe(200);
  const r = await lease;
  process.stdout.write(`replica events: revoked on B, the Lease on A ended after ${r.ms} ms (${r.outcome})\n`);
  expect(r.ms).toBeLessThan(15_000);
  // and A refuses the agent's next call
  await expect(client.call('Heartbeat', {})).rejects.toMatchObject({ code: expect.any(Number) });
});
