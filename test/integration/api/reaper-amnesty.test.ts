import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '@jr/testing';
import { AgentClient, http, startTestApi, type TestApi } from './harness';

// A 4 s heartbeat interval: leases live 12 s, the reaper passes every 1.6-2.4 s, an amnesty gives a lease 22 s.
let t: TestApi;
let c: AgentClient;

interface LeaseAnswer {
  assignments: Array<{ jobId: string; attempt: number; leaseToken: string }>;
}

const lease = (waitMs: number) =>
  c.call<LeaseAnswer>('Lease', { freeSlots: 1, waitMs }, { deadlineMs: waitMs + 5_000 });

async function attempts(id: string): Promise<Array<{ n: number; state: string }>> {
  return (await http(t, 'GET', `/v1/jobs/${id}`)).json.attempts as Array<{ n: number; state: string }>;
}

beforeAll(async () => {
  t = await startTestApi({ JR_HEARTBEAT_INTERVAL: '4s' });
  c = new AgentClient(t.grpcAddress);
});

afterAll(async () => {
  c?.close();
  await t?.cleanup();
});

describe('lease reaper start-up amnesty', () => {
  it('does not extend a lease this process granted before its first pass; it does extend leases from before a restart', async () => {
    await c.enroll({ pool: 'amnesty' });
    const r = await http(t, 'POST', '/v1/jobs', { body: { pool: 'amnesty', steps: [{ run: 'sleep 100' }] } });
    const id = r.json.id as string;
    expect((await lease(5_000)).assignments[0]).toMatchObject({ jobId: id, attempt: 1 }); // before the first reaper pass
    await sleep(2_600); // the first pass (and its amnesty) has run
    t.clock.advance(10_000); // past the lease's 12 s, well inside the 22 s from the first pass an amnesty would have given
    expect((await lease(6_000)).assignments[0]).toMatchObject({ jobId: id, attempt: 2 });
    expect(await attempts(id)).toMatchObject([
      { n: 1, state: 'lost' },
      { n: 2, state: 'leased' },
    ]);

    await t.restart(); // attempt 2 was granted by the previous process: its agent may have been unable to heartbeat
    await sleep(2_600);
    t.clock.advance(13_000); // past attempt 2's own 12 s
    await sleep(2_600); // another pass: attempt 2 is under amnesty (until the first pass + 22 s)
    expect(await attempts(id)).toMatchObject([
      { n: 1, state: 'lost' },
      { n: 2, state: 'leased' },
    ]);
    t.clock.advance(10_000);
    await waitFor(async () => (await attempts(id))[1]?.state === 'lost', {
      what: 'attempt 2 lost once the amnesty ran out',
      timeoutMs: 15_000,
    });
  }, 90_000);
});
