/* eslint-disable @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-explicit-any -- HTTP answers' JSON bodies are untyped in these tests */
import { Client } from 'pg';
import { waitFor } from '@jr/testing';
import { PendingSubmissions } from '../../../apps/api/src/intake/pending-submissions';
import { AgentClient, http, startTestApi, type TestApi } from './harness';

// What GET /v1/jobs/:id and GET /v1/jobs say about a job beyond its state: each step of its latest
// attempt (from the step events the agent reported), its own run time, why it cannot be placed, and
// pages that list every job once, also while some are still only in the intake journal.
let t: TestApi;
let pg: Client;
const clients: AgentClient[] = [];
const beats: NodeJS.Timeout[] = [];

beforeAll(async () => {
  t = await startTestApi();
  pg = new Client({ connectionString: t.db.url });
  await pg.connect();
});

afterAll(async () => {
  for (const b of beats) clearInterval(b);
  for (const c of clients) c.close();
  await pg?.end();
  await t?.cleanup();
});

interface Assignment {
  jobId: string;
  attempt: number;
  leaseToken: string;
}

interface TestAgent {
  c: AgentClient;
  id: string;
  /** The attempts its heartbeats keep leased. */
  running: Assignment[];
}

/** An enrolled agent (real gRPC); `beating`: it heartbeats every 300 ms (so it stays active and keeps its leases). */
async function agent(
  pool: string,
  name: string,
  opts: { labels?: Record<string, string>; beating?: boolean } = {},
): Promise<TestAgent> {
  const c = new AgentClient(t.grpcAddress);
  clients.push(c);
  const a: TestAgent = { c, id: await c.enroll({ pool, name, labels: opts.labels ?? {} }), running: [] };
  if (opts.beating)
    beats.push(setInterval(() => void c.call('Heartbeat', { running: a.running }).catch(() => undefined), 300));
  return a;
}

async function lease(a: TestAgent): Promise<Assignment> {
  const res = await a.c.call<{ assignments: Assignment[] }>(
    'Lease',
    { freeSlots: 1, waitMs: 10_000 },
    { deadlineMs: 15_000 },
  );
  const got = res.assignments[0];
  if (!got) throw new Error('no assignment');
  a.running = [{ jobId: got.jobId, attempt: got.attempt, leaseToken: got.leaseToken }];
  return got;
}

async function submit(body: object): Promise<string> {
  const r = await http(t, 'POST', '/v1/jobs', { body });
  expect(r.status).toBe(202);
  return r.json.id;
}

async function viewWhen(id: string, ready: (v: any) => boolean, timeoutMs = 10_000): Promise<any> {
  return waitFor(
    async () => {
      const v = (await http(t, 'GET', `/v1/jobs/${id}`)).json;
      return ready(v) ? v : undefined;
    },
    { timeoutMs, what: `job ${id} to reach the expected view` },
  );
}

const iso = (ms: number) => new Date(ms).toISOString();
const started = (seq: number, atMs: number, step: number, name: string, attemptTry = 1) => ({
  seq,
  atMs,
  stepStarted: { step, name, try: attemptTry },
});
const finished = (seq: number, atMs: number, step: number, exitCode: number, outcome: string) => ({
  seq,
  atMs,
  stepFinished: { step, exitCode, signal: '', outcome },
});
const pendingStep = (index: number, name: string) => ({
  index,
  name,
  state: 'pending',
  exitCode: null,
  startedAt: null,
  endedAt: null,
  durationMs: null,
});

describe('steps and run time', () => {
  it('shows each step as it runs (a retried step: its latest try), the step that failed, the ones skipped, and the job run time; the list says the same', async () => {
    const host = await agent('steps', 'steps-host', { beating: true });
    const { c } = host;
    const id = await submit({
      pool: 'steps',
      steps: [
        { name: 'build', run: 'make' },
        { name: 'test', run: 'make test', retries: 1 },
        { name: 'ship', run: 'make ship' },
      ],
    });
    const a = await lease(host);
    const key = { jobId: id, attempt: a.attempt, leaseToken: a.leaseToken };
    const leasedView = await viewWhen(id, (v) => v.state === 'leased');
    expect(leasedView).toMatchObject({
      steps: [pendingStep(0, 'build'), pendingStep(1, 'test'), pendingStep(2, 'ship')],
      failedStep: null,
      startedAt: null,
      endedAt: null,
      durationMs: null,
    });

    const base = Date.now() - 10_000;
    await c.call('Report', { ...key, events: [started(1, base, 0, 'build')] });
    const running = await viewWhen(id, (v) => v.state === 'running');
    expect(running.steps[0]).toMatchObject({ state: 'running', exitCode: null, startedAt: iso(base), endedAt: null });
    expect(running.steps[0].durationMs).toBeGreaterThanOrEqual(10_000);
    expect(running.steps.slice(1).map((s: any) => s.state)).toEqual(['pending', 'pending']);
    expect(running).toMatchObject({ startedAt: iso(base), endedAt: null, failedStep: null });
    expect(running.durationMs).toBeGreaterThanOrEqual(10_000);

    // build succeeds; test fails its first try (it has one retry left): still running, nothing failed yet
    const log = { seq: 2, atMs: base + 100, log: { step: 0, stream: 'stdout', data: Buffer.from('built\n') } };
    await c.call('Report', {
      ...key,
      events: [
        log,
        finished(3, base + 1_500, 0, 0, 'succeeded'),
        started(4, base + 2_000, 1, 'test'),
        finished(5, base + 2_500, 1, 3, 'failed'),
      ],
    });
    const retrying = await viewWhen(id, (v) => v.steps[0].state === 'succeeded');
    expect(retrying.steps).toEqual([
      {
        index: 0,
        name: 'build',
        state: 'succeeded',
        exitCode: 0,
        startedAt: iso(base),
        endedAt: iso(base + 1_500),
        durationMs: 1_500,
      },
      expect.objectContaining({ index: 1, state: 'running', exitCode: null }),
      pendingStep(2, 'ship'),
    ]);
    expect(retrying.failedStep).toBeNull();

    // an event for a step the spec does not have is refused, and nothing of that report is kept
    await expect(c.call('Report', { ...key, events: [started(6, base + 3_000, 99, 'bogus')] })).rejects.toMatchObject({
      code: 3,
    });
    // the second try starts, then fails for good
    await c.call('Report', {
      ...key,
      events: [
        started(6, base + 3_000, 1, 'test', 2),
        { seq: 7, atMs: base + 3_100, log: { step: 1, stream: 'stdout', data: Buffer.from('testing\n') } },
      ],
    });
    const second = await viewWhen(id, (v) => v.steps[1].startedAt === iso(base + 3_000));
    expect(second.steps).toHaveLength(3);
    expect(second.steps[1]).toMatchObject({ state: 'running', exitCode: null, endedAt: null });
    await c.call('Report', { ...key, events: [finished(8, base + 4_000, 1, 4, 'failed')] });
    expect(
      await c.call('Complete', {
        ...key,
        outcome: 'OUTCOME_FAILED',
        exitCode: 4,
        reason: 'step_failed',
        startedAtMs: base,
        endedAtMs: base + 4_100,
        lastSeq: 8,
      }),
    ).toEqual({ jobState: 'failed' });

    const done = await viewWhen(id, (v) => v.state === 'failed');
    const expected = {
      exitCode: 4,
      steps: [
        {
          index: 0,
          name: 'build',
          state: 'succeeded',
          exitCode: 0,
          startedAt: iso(base),
          endedAt: iso(base + 1_500),
          durationMs: 1_500,
        },
        {
          index: 1,
          name: 'test',
          state: 'failed',
          exitCode: 4,
          startedAt: iso(base + 3_000),
          endedAt: iso(base + 4_000),
          durationMs: 1_000,
        },
        { index: 2, name: 'ship', state: 'skipped', exitCode: null, startedAt: null, endedAt: null, durationMs: null },
      ],
      failedStep: { index: 1, name: 'test' },
      startedAt: iso(base),
      endedAt: iso(base + 4_100),
      durationMs: 4_100,
    };
    expect(done).toMatchObject(expected);
    const page = await http(t, 'GET', '/v1/jobs?pool=steps');
    expect(page.json.items).toHaveLength(1);
    expect(page.json.items[0]).toMatchObject({ id, ...expected });
  });

  it('across attempts: the latest attempt that started is shown; a step cut off by the job timeout is timed_out; run time spans every attempt', async () => {
    const host = await agent('steps2', 'steps2-host', { beating: true });
    const { c } = host;
    const id = await submit({
      pool: 'steps2',
      retries: 1,
      steps: [
        { name: 'one', run: 'a' },
        { name: 'two', run: 'b' },
      ],
    });
    const base = Date.now() - 20_000;
    const first = await lease(host);
    const k1 = { jobId: id, attempt: first.attempt, leaseToken: first.leaseToken };
    await c.call('Report', { ...k1, events: [started(1, base, 0, 'one'), finished(2, base + 1_000, 0, 2, 'failed')] });
    expect(
      await c.call('Complete', {
        ...k1,
        outcome: 'OUTCOME_FAILED',
        exitCode: 2,
        startedAtMs: base,
        endedAtMs: base + 1_000,
        lastSeq: 2,
      }),
    ).toEqual({ jobState: 'queued' });

    // queued again, and leased again but not started: attempt 1 is still the one shown
    const second = await lease(host);
    const between = await viewWhen(id, (v) => v.state === 'leased' && v.attempts.length === 2);
    expect(between.steps.map((s: any) => [s.state, s.exitCode])).toEqual([
      ['failed', 2],
      ['skipped', null],
    ]);
    expect(between).toMatchObject({ failedStep: { index: 0, name: 'one' }, startedAt: iso(base), endedAt: null });

    const k2 = { jobId: id, attempt: second.attempt, leaseToken: second.leaseToken };
    await c.call('Report', { ...k2, events: [started(1, base + 5_000, 0, 'one')] });
    const rerun = await viewWhen(id, (v) => v.state === 'running');
    expect(rerun.steps.map((s: any) => s.state)).toEqual(['running', 'pending']);
    expect(rerun.failedStep).toBeNull();

    expect(
      await c.call('Complete', {
        ...k2,
        outcome: 'OUTCOME_TIMED_OUT',
        exitCode: -1,
        reason: 'timeout',
        startedAtMs: base + 5_000,
        endedAtMs: base + 7_000,
        lastSeq: 1,
      }),
    ).toEqual({ jobState: 'timed_out' });
    const done = await viewWhen(id, (v) => v.state === 'timed_out');
    expect(done.steps).toEqual([
      {
        index: 0,
        name: 'one',
        state: 'timed_out',
        exitCode: null,
        startedAt: iso(base + 5_000),
        endedAt: iso(base + 7_000),
        durationMs: 2_000,
      },
      { index: 1, name: 'two', state: 'skipped', exitCode: null, startedAt: null, endedAt: null, durationMs: null },
    ]);
    expect(done).toMatchObject({
      failedStep: { index: 0, name: 'one' },
      startedAt: iso(base),
      endedAt: iso(base + 7_000),
      durationMs: 7_000,
    });
  });
});

describe('waiting: why a queued job is not placed', () => {
  it('names a pool without agents, labels no active agent has, and matching agents that are all draining or lost; nothing while a matching agent is just busy', async () => {
    const nowhere = await submit({ pool: 'nowhere', steps: [{ run: 'true' }] });
    expect((await viewWhen(nowhere, (v) => v.waiting !== null)).waiting).toEqual({
      code: 'no_agents_in_pool',
      message: 'pool nowhere has no agents',
    });

    await agent('web', 'web-plain', { labels: { os: 'linux' }, beating: true });
    const gpu = await submit({ pool: 'web', labels: { gpu: 'true', arch: 'x86' }, steps: [{ run: 'true' }] });
    expect((await viewWhen(gpu, (v) => v.waiting !== null)).waiting).toEqual({
      code: 'no_agent_with_labels',
      message: 'no active agent in pool web has labels arch=x86,gpu=true',
    });

    const drained = await agent('web', 'web-gpu-1', { labels: { gpu: 'true', arch: 'x86' }, beating: true });
    expect((await http(t, 'POST', `/v1/agents/${drained.id}/drain`)).status).toBe(202);
    await agent('web', 'web-gpu-2', { labels: { gpu: 'true', arch: 'x86', big: 'yes' } }); // never heartbeats: stale, then lost
    const message = '2 agents in pool web have labels arch=x86,gpu=true but none is active: 1 draining, 1 lost';
    const view = await viewWhen(gpu, (v) => v.waiting?.message === message, 30_000);
    expect(view.waiting.code).toBe('no_active_agent');
    const listed = await http(t, 'GET', '/v1/jobs?pool=web');
    expect(listed.json.items.find((j: any) => j.id === gpu).waiting).toEqual({ code: 'no_active_agent', message });

    // an active agent with the labels that takes no job right now (busy, or between its Lease calls): no reason
    await agent('web', 'web-gpu-3', { labels: { gpu: 'true', arch: 'x86' }, beating: true });
    const placeable = await viewWhen(gpu, (v) => v.waiting === null);
    expect(placeable.state).toBe('queued');
  });

  it('says why for a job still only in the intake journal (not yet in Postgres)', async () => {
    const lock = new Client({ connectionString: t.db.url });
    await lock.connect();
    try {
      await lock.query('BEGIN');
      await lock.query('LOCK TABLE jobs IN EXCLUSIVE MODE'); // reads go on, the intake relay's inserts wait
      const id = await submit({ pool: 'journal-only', steps: [{ name: 'only', run: 'true' }] });
      const v = (await http(t, 'GET', `/v1/jobs/${id}`)).json;
      expect(t.api.app.get(PendingSubmissions).get(id)).toBeDefined();
      expect(v).toMatchObject({ id, state: 'queued', steps: [pendingStep(0, 'only')], durationMs: null });
      expect(v.waiting).toEqual({ code: 'no_agents_in_pool', message: 'pool journal-only has no agents' });
    } finally {
      await lock.query('ROLLBACK');
      await lock.end();
    }
  });
});

describe('GET /v1/jobs pages', () => {
  it('walks every job exactly once, newest first, over Postgres rows and not-yet-applied submissions, and the last page has no cursor', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await submit({ pool: 'walk', steps: [{ run: 'true' }] }));
    const pending = t.api.app.get(PendingSubmissions);
    await waitFor(() => pending.size === 0, { what: 'the first jobs to reach Postgres' });
    const lock = new Client({ connectionString: t.db.url });
    await lock.connect();
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    try {
      await lock.query('BEGIN');
      await lock.query('LOCK TABLE jobs IN EXCLUSIVE MODE');
      for (let i = 0; i < 4; i++) ids.push(await submit({ pool: 'walk', steps: [{ run: 'true' }] }));
      expect(pending.size).toBe(4);
      // the first page while 4 of the 9 are only in the journal, the rest once they are all applied
      const first = await http(t, 'GET', '/v1/jobs?pool=walk&limit=3');
      seen.push(...first.json.items.map((j: any) => j.id));
      cursor = first.json.nextCursor;
      pages++;
    } finally {
      await lock.query('ROLLBACK');
      await lock.end();
    }
    await waitFor(() => pending.size === 0, { what: 'the journaled jobs to reach Postgres' });
    while (cursor !== null) {
      const page = await http(t, 'GET', `/v1/jobs?pool=walk&limit=3&cursor=${cursor}`);
      expect(page.status).toBe(200);
      seen.push(...page.json.items.map((j: any) => j.id));
      cursor = page.json.nextCursor;
      if (++pages > 10) throw new Error('paging does not end');
    }
    expect(seen).toEqual([...ids].reverse());
    expect(pages).toBe(3); // 9 jobs, 3 a page: the third page is full and the last one
  });
});
