import type { JobView } from '@jr/contracts';
import { waitFor } from '@jr/testing';
import { AgentClient, http, startTestApi, type TestApi } from './harness';

// At-most-once jobs against a real jr-api (Postgres, Redis, gRPC): an attempt whose agent vanished (its lease
// ran out, or the agent was revoked) ends the job failed / lost and is never leased again, while the same job
// without atMostOnce runs again on a second attempt. A failed attempt still uses its retries: the command ran
// and said so; it is only a vanished one that may or may not have run.

let t: TestApi;
const clients: AgentClient[] = [];
beforeAll(async () => {
  t = await startTestApi();
});
afterAll(async () => {
  for (const c of clients) c.close();
  await t?.cleanup();
});

interface Leased {
  assignments: Array<{ jobId: string; attempt: number; leaseToken: string }>;
}

async function agentIn(pool: string): Promise<{ c: AgentClient; id: string }> {
  const c = new AgentClient(t.grpcAddress);
  clients.push(c);
  return { c, id: await c.enroll({ pool }) };
}
const lease = (c: AgentClient, waitMs = 5_000) =>
  c.call<Leased>('Lease', { freeSlots: 1, waitMs }, { deadlineMs: waitMs + 5_000 });

async function submit(body: object): Promise<string> {
  const r = await http(t, 'POST', '/v1/jobs', { body });
  expect(r.status).toBe(202);
  return (r.json as { id: string }).id;
}

const view = async (id: string): Promise<JobView> => (await http(t, 'GET', `/v1/jobs/${id}`)).json as JobView;
const viewWhen = (id: string, ready: (v: JobView) => boolean) =>
  waitFor(async () => ((v) => (ready(v) ? v : undefined))(await view(id)), { what: `job ${id}`, timeoutMs: 30_000 });

describe('atMostOnce', () => {
  it('a lost attempt ends the job failed / lost; the same job without it runs again', async () => {
    const { c } = await agentIn('once');
    const once = await submit({ pool: 'once', atMostOnce: true, retries: 3, steps: [{ run: 'charge-card' }] });
    expect((await lease(c)).assignments[0]).toMatchObject({ jobId: once, attempt: 1 });
    const again = await submit({ pool: 'once', steps: [{ run: 'idempotent' }] });
    expect((await lease(c)).assignments[0]).toMatchObject({ jobId: again, attempt: 1 });
    t.clock.advance(60_000); // both leases run out without a heartbeat
    const lost = await viewWhen(once, (v) => v.state === 'failed');
    expect(lost).toMatchObject({ state: 'failed', reason: 'lost', spec: { atMostOnce: true } });
    expect(lost.attempts).toMatchObject([{ n: 1, state: 'lost', reason: 'lease_expired' }]);
    // the ordinary job is leased again as attempt 2; the at-most-once one never is. The reaper may end
    // `again` a pass after `once` and its requeue goes through BullMQ, so under load it can take more
    // than one long poll: poll until something is offered, and check it is the ordinary job.
    const next = await waitFor(async () => (await lease(c, 5_000)).assignments[0], {
      what: 'attempt 2 of the ordinary job',
      timeoutMs: 60_000,
    });
    expect(next).toMatchObject({ jobId: again, attempt: 2 });
    expect((await lease(c, 1_500)).assignments).toEqual([]);
    expect((await view(once)).attempts).toHaveLength(1);
  }, 150_000);

  it('an agent revoked mid-run: its at-most-once job ends failed / lost at once', async () => {
    const { c, id: agentId } = await agentIn('revoked');
    const job = await submit({ pool: 'revoked', atMostOnce: true, steps: [{ run: 'migrate --once' }] });
    expect((await lease(c)).assignments[0]).toMatchObject({ jobId: job });
    expect((await http(t, 'POST', `/v1/agents/${agentId}/revoke`)).status).toBe(200);
    expect(await viewWhen(job, (v) => v.state === 'failed')).toMatchObject({ reason: 'lost' });
  });

  it('a failed attempt still uses its retries (the command ran and failed)', async () => {
    const { c } = await agentIn('retry-once');
    const job = await submit({ pool: 'retry-once', atMostOnce: true, retries: 1, steps: [{ run: 'false' }] });
    const a = (await lease(c)).assignments[0]!;
    const done = await c.call<{ jobState: string }>('Complete', {
      jobId: job,
      attempt: 1,
      leaseToken: a.leaseToken,
      outcome: 'OUTCOME_FAILED',
      exitCode: 1,
    });
    expect(done.jobState).toBe('queued');
    expect((await lease(c)).assignments[0]).toMatchObject({ jobId: job, attempt: 2 });
  });

  it('refuses an atMostOnce that is not a boolean', async () => {
    const r = await http(t, 'POST', '/v1/jobs', { body: { atMostOnce: 'yes', steps: [{ run: 'x' }] } });
    expect(r.status).toBe(400);
    expect(r.text).toContain('atMostOnce');
  });
});
