import type { JobView, TargetPage, TargetView } from '@jr/contracts';
import { waitFor } from '@jr/testing';
import { AgentClient, http, startTestApi, type TestApi } from './harness';

// Fleet jobs against a real jr-api (Postgres, Redis, gRPC) with agents speaking the real protocol: the
// job expands into one target per matching agent, each target's run goes to that agent only, the rollout
// goes batch by batch, an abort skips the rest, unknown agents end undelivered, a cancel ends it all.
jest.setTimeout(60_000);

let t: TestApi;
const clients: AgentClient[] = [];
/** Agents that stopped heartbeating (gone offline). */
const silent = new Set<AgentClient>();
let beat: NodeJS.Timeout;

beforeAll(async () => {
  t = await startTestApi();
  // every agent heartbeats, so it counts as online (a due target starts only on an online agent)
  beat = setInterval(() => {
    for (const c of clients) if (!silent.has(c)) void c.call('Heartbeat', { running: [] }).catch(() => undefined);
  }, 300);
});
afterAll(async () => {
  clearInterval(beat);
  for (const c of clients) c.close();
  await t?.cleanup();
});

interface Assignment {
  jobId: string;
  attempt: number;
  leaseToken: string;
}

async function agents(pool: string, names: string[], labels: Record<string, string>) {
  const out = new Map<string, { c: AgentClient; id: string }>();
  for (const name of names) {
    const c = new AgentClient(t.grpcAddress);
    clients.push(c);
    out.set(name, { c, id: await c.enroll({ name, pool, labels, slots: 2 }) });
  }
  await new Promise((r) => setTimeout(r, 400)); // a heartbeat from each
  return out;
}

async function submit(body: object): Promise<string> {
  const r = await http(t, 'POST', '/v1/jobs', { body });
  if (r.status !== 202) throw new Error(`${r.status} ${r.text}`);
  return (r.json as { id: string }).id;
}

const view = async (id: string): Promise<JobView> => (await http(t, 'GET', `/v1/jobs/${id}`)).json as JobView;
const targets = async (id: string): Promise<TargetView[]> =>
  ((await http(t, 'GET', `/v1/jobs/${id}/targets`)).json as TargetPage).items;
const lease = async (c: AgentClient, waitMs = 3_000): Promise<Assignment[]> =>
  (await c.call<{ assignments: Assignment[] }>('Lease', { freeSlots: 1, waitMs }, { deadlineMs: waitMs + 5_000 }))
    .assignments;

async function complete(c: AgentClient, a: Assignment, ok: boolean): Promise<void> {
  await c.call('Complete', {
    jobId: a.jobId,
    attempt: a.attempt,
    leaseToken: a.leaseToken,
    outcome: ok ? 'OUTCOME_SUCCEEDED' : 'OUTCOME_FAILED',
    exitCode: ok ? 0 : 1,
  });
}

const states = async (id: string) => Object.fromEntries((await targets(id)).map((x) => [x.name, x.state]));

describe('fleet jobs', () => {
  it('batching by 2: each target runs on its own agent, batch after batch, and the job succeeds', async () => {
    const web = await agents('fleet-a', ['w1', 'w2', 'w3', 'w4'], { role: 'web' });
    await agents('fleet-a', ['d1'], { role: 'db' });
    const id = await submit({
      pool: 'fleet-a',
      targets: { labels: { role: 'web' } },
      rollout: { batch: 2, mode: 'batching' },
      steps: [{ run: 'apt-get upgrade -y' }],
    });
    await waitFor(async () => (await view(id)).targets?.total === 4, { what: 'expansion' });
    for (const batch of [
      ['w1', 'w2'],
      ['w3', 'w4'],
    ]) {
      await waitFor(async () => ((st) => batch.every((n) => st[n] === 'running'))(await states(id)), {
        what: `batch ${batch.join(',')} running`,
      });
      expect(await states(id)).toMatchObject(Object.fromEntries(batch.map((n) => [n, 'running'])));
      for (const name of batch) {
        const { c } = web.get(name)!;
        const [a] = await lease(c);
        expect(a).toBeDefined();
        const run = (await targets(id)).find((x) => x.name === name)!;
        expect(a!.jobId).toBe(run.jobId); // the run is this agent's, pinned
        await complete(c, a!, true);
      }
    }
    const done = await waitFor(async () => ((v) => (v.state === 'succeeded' ? v : undefined))(await view(id)), {
      what: 'fleet job succeeded',
    });
    expect(done.targets).toMatchObject({ total: 4, batch: 2, aborted: false, byState: { succeeded: 4 } });
    const metrics = (await http(t, 'GET', '/metrics')).text;
    expect(Number(/^jr_fleet_targets_total\{state="succeeded"\} (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(4);
    expect(Number(/^jr_fleet_batches_total (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(2);
    // runs are jobs of their own, listed under the fleet job, not in the job list
    const run = await view((await targets(id))[0]!.jobId!);
    expect(run).toMatchObject({ parentId: id, targetAgent: web.get('w1')!.id, state: 'succeeded' });
    const listed = ((await http(t, 'GET', '/v1/jobs?limit=500')).json as { items: JobView[] }).items.map((j) => j.id);
    expect(listed).toContain(id);
    expect(listed).not.toContain(run.id);
  });

  it("a target's run is never leased by another agent of the pool, even one claiming its pin label", async () => {
    const a = await agents('fleet-pin', ['p1', 'p2'], {});
    const id = await submit({ pool: 'fleet-pin', targets: { agents: ['p1'] }, steps: [{ run: 'true' }] });
    await waitFor(async () => (await targets(id))[0]?.state === 'running', { what: 'p1 running' });
    expect(await lease(a.get('p2')!.c, 1_500)).toEqual([]);
    // an agent holding the enroll token that declares p1's id as its pin label gets nothing either
    const rogue = await agents('fleet-pin', ['rogue'], { 'jr.agent': a.get('p1')!.id });
    expect(await lease(rogue.get('rogue')!.c, 1_500)).toEqual([]);
    const [mine] = await lease(a.get('p1')!.c);
    expect(mine?.jobId).toBe((await targets(id))[0]!.jobId);
  });

  it('rolling with maxFailures 0: the first failure aborts, the rest are skipped, the job fails rollout_aborted', async () => {
    const a = await agents('fleet-b', ['r1', 'r2', 'r3'], { tier: 'x' });
    const id = await submit({
      pool: 'fleet-b',
      targets: { all: true },
      rollout: { batch: 1, maxFailures: 0 },
      steps: [{ run: 'false' }],
    });
    await waitFor(async () => (await states(id)).r1 === 'running', { what: 'r1 running' });
    const [first] = await lease(a.get('r1')!.c);
    await complete(a.get('r1')!.c, first!, false);
    const done = await waitFor(async () => ((v) => (v.state === 'failed' ? v : undefined))(await view(id)), {
      what: 'aborted',
    });
    expect(done).toMatchObject({ reason: 'rollout_aborted', targets: { aborted: true } });
    expect(await states(id)).toEqual({ r1: 'failed', r2: 'skipped', r3: 'skipped' });
  });

  it('an agent named that does not exist ends undelivered; the job fails success_criteria_unmet', async () => {
    const a = await agents('fleet-c', ['u1'], {});
    const id = await submit({
      pool: 'fleet-c',
      targets: { agents: ['u1', 'no-such-agent'] },
      steps: [{ run: 'true' }],
    });
    await waitFor(async () => (await states(id)).u1 === 'running', { what: 'u1 running' });
    const [run] = await lease(a.get('u1')!.c);
    await complete(a.get('u1')!.c, run!, true);
    const done = await waitFor(async () => ((v) => (v.state === 'failed' ? v : undefined))(await view(id)), {
      what: 'ended',
    });
    expect(done.reason).toBe('success_criteria_unmet');
    expect(await states(id)).toEqual({ u1: 'succeeded', 'no-such-agent': 'undelivered' });
  });

  it('cancel: the running target is cancelled, the pending ones skipped, the job ends cancelled', async () => {
    const a = await agents('fleet-d', ['c1', 'c2'], {});
    const id = await submit({ pool: 'fleet-d', targets: { all: true }, rollout: { batch: 1 }, steps: [{ run: 'x' }] });
    await waitFor(async () => (await states(id)).c1 === 'running', { what: 'c1 running' });
    const [run] = await lease(a.get('c1')!.c);
    expect((await http(t, 'POST', `/v1/jobs/${id}/cancel`)).status).toBe(202);
    await waitFor(async () => (await view(run!.jobId)).spec && (await targets(id))[1]?.state === 'skipped', {
      what: 'c2 skipped',
    });
    await a.get('c1')!.c.call('Complete', { ...run!, outcome: 'OUTCOME_CANCELLED', exitCode: -1, reason: 'cancelled' });
    const done = await waitFor(async () => ((v) => (v.state === 'cancelled' ? v : undefined))(await view(id)), {
      what: 'cancelled',
    });
    expect(done.reason).toBe('cancelled');
    expect(await states(id)).toEqual({ c1: 'cancelled', c2: 'skipped' });
  });

  it('a run whose agent vanished goes back to that agent only, and runs when it returns', async () => {
    const a = await agents('fleet-e', ['v1', 'v2'], {});
    const id = await submit({ pool: 'fleet-e', targets: { agents: ['v1'] }, steps: [{ run: 'x' }] });
    await waitFor(async () => (await states(id)).v1 === 'running', { what: 'v1 running' });
    const [first] = await lease(a.get('v1')!.c);
    t.clock.advance(60_000); // its lease runs out: attempt 1 lost, the run queued again for v1
    const runId = (await targets(id))[0]!.jobId!;
    await waitFor(async () => (await view(runId)).attempts[0]?.state === 'lost', { what: 'attempt 1 lost' });
    expect(await lease(a.get('v2')!.c, 1_500)).toEqual([]);
    // the requeue goes through the reaper and BullMQ: under load it can take more than one long poll
    const second = await waitFor(async () => (await lease(a.get('v1')!.c))[0], {
      what: 'attempt 2 offered to v1',
      timeoutMs: 30_000,
    });
    expect(second).toMatchObject({ jobId: first!.jobId, attempt: 2 });
    await complete(a.get('v1')!.c, second, true);
    await waitFor(async () => (await view(id)).state === 'succeeded', { what: 'succeeded' });
  }, 90_000);

  it('a run stranded with its agent gone past the delivery deadline: the target ends undelivered', async () => {
    const a = await agents('fleet-f', ['s1'], {});
    const id = await submit({
      pool: 'fleet-f',
      targets: { agents: ['s1'] },
      rollout: { deliveryTimeout: '30s' },
      steps: [{ run: 'x' }],
    });
    await waitFor(async () => (await states(id)).s1 === 'running', { what: 's1 running' });
    await lease(a.get('s1')!.c);
    silent.add(a.get('s1')!.c); // the machine is gone
    t.clock.advance(60_000); // its lease runs out: the run is queued again for s1, the deadline counts from here
    const runId = (await targets(id))[0]!.jobId!;
    await waitFor(async () => (await view(runId)).attempts[0]?.state === 'lost', { what: 'attempt 1 lost' });
    await new Promise((r) => setTimeout(r, 1_200));
    expect((await states(id)).s1).toBe('running'); // still within the deadline: waiting for s1
    t.clock.advance(31_000);
    await waitFor(async () => (await states(id)).s1 === 'undelivered', { what: 's1 undelivered' });
    const done = await waitFor(async () => ((v) => (v.state === 'failed' ? v : undefined))(await view(id)), {
      what: 'ended',
    });
    expect(done.reason).toBe('success_criteria_unmet');
    expect((await view(runId)).state).toBe('cancelled');
  });

  it('a schedule can make a fleet job: each fire runs on every target', async () => {
    const a = await agents('fleet-g', ['g1', 'g2'], { role: 'nightly' });
    const made = await http(t, 'POST', '/v1/schedules', {
      body: {
        name: 'fleet-nightly',
        cron: '0 3 * * *',
        job: {
          pool: 'fleet-g',
          targets: { labels: { role: 'nightly' } },
          rollout: { batch: '50%' },
          steps: [{ run: 'x' }],
        },
      },
    });
    expect(made.status).toBe(201);
    const fired = await http(t, 'POST', `/v1/schedules/${(made.json as { id: string }).id}/trigger`);
    const id = (fired.json as { jobId: string }).jobId;
    await waitFor(async () => (await states(id)).g1 === 'running', { what: 'g1 running' });
    for (const name of ['g1', 'g2']) {
      await waitFor(async () => (await states(id))[name] === 'running', { what: `${name} running` });
      const [run] = await lease(a.get(name)!.c);
      await complete(a.get(name)!.c, run!, true);
    }
    const done = await waitFor(async () => ((v) => (v.state === 'succeeded' ? v : undefined))(await view(id)), {
      what: 'succeeded',
    });
    expect(done).toMatchObject({ scheduleId: (made.json as { id: string }).id, targets: { total: 2 } });
  });

  it('continuous: an agent that joins later becomes a target and runs; the job ends when cancelled', async () => {
    const first = await agents('fleet-h', ['h1'], { role: 'edge' });
    const id = await submit({
      pool: 'fleet-h',
      targets: { labels: { role: 'edge' }, continuous: true },
      steps: [{ run: 'x' }],
    });
    await waitFor(async () => (await states(id)).h1 === 'running', { what: 'h1 running' });
    const [r1] = await lease(first.get('h1')!.c);
    await complete(first.get('h1')!.c, r1!, true);
    await waitFor(async () => (await states(id)).h1 === 'succeeded', { what: 'h1 succeeded' });
    expect((await view(id)).state).toBe('running'); // every target ended, but more may join
    const later = await agents('fleet-h', ['h2'], { role: 'edge' });
    await waitFor(async () => (await states(id)).h2 === 'running', { what: 'h2 joined and running' });
    const [r2] = await lease(later.get('h2')!.c);
    await complete(later.get('h2')!.c, r2!, true);
    await waitFor(async () => (await states(id)).h2 === 'succeeded', { what: 'h2 succeeded' });
    expect((await http(t, 'POST', `/v1/jobs/${id}/cancel`)).status).toBe(202);
    const done = await waitFor(async () => ((v) => (v.state === 'cancelled' ? v : undefined))(await view(id)), {
      what: 'cancelled',
    });
    expect(done.targets).toMatchObject({ total: 2, byState: { succeeded: 2 } });
  });

  it('refuses hostile fleet documents with a 400 naming the field', async () => {
    for (const [body, path] of [
      [{ targets: { agents: ['a', 'a'] }, steps: [{ run: 'x' }] }, 'targets.agents.1'],
      [{ targets: { labels: { role: 'web' } }, rollout: { batch: '0%' }, steps: [{ run: 'x' }] }, 'rollout.batch'],
      [{ rollout: { batch: 1 }, steps: [{ run: 'x' }] }, 'rollout'],
      [{ targets: { all: true }, labels: { a: 'b' }, steps: [{ run: 'x' }] }, 'labels'],
      [{ pool: 'p', targets: { pool: 'q', all: true }, steps: [{ run: 'x' }] }, 'targets.pool'],
    ] as const) {
      const r = await http(t, 'POST', '/v1/jobs', { body });
      expect({ path, status: r.status }).toEqual({ path, status: 400 });
      expect((r.json as { errors: Array<{ path: string }> }).errors.map((e) => e.path)).toContain(path);
    }
  });
});
