/* eslint-disable @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- HTTP answers' JSON bodies are untyped in these tests */
import { status } from '@grpc/grpc-js';
import { Client } from 'pg';
import { waitFor } from '@jr/testing';
import { ADMIN, AgentClient, apiFetch, ENROLL, grpcCode, http, startTestApi, type TestApi } from './harness';

let t: TestApi;
let pg: Client;
const clients: AgentClient[] = [];

function agent(): AgentClient {
  const c = new AgentClient(t.grpcAddress);
  clients.push(c);
  return c;
}

async function submit(body: object): Promise<string> {
  const r = await http(t, 'POST', '/v1/jobs', { body });
  expect(r.status).toBe(202);
  return r.json.id as string;
}

interface LeaseAnswer {
  assignments: Array<{
    jobId: string;
    attempt: number;
    leaseToken: string;
    leaseExpiresAtMs: number;
    spec: { steps: Array<{ shell?: string; run?: string }> };
  }>;
}

/** Results are applied by the results relay moments after the gRPC answer: wait for what GET shows. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function viewWhen(id: string, ready: (view: any) => boolean): Promise<any> {
  return waitFor(
    async () => {
      const v = (await http(t, 'GET', `/v1/jobs/${id}`)).json;
      return ready(v) ? v : undefined;
    },
    { what: `job ${id} to reach the expected view` },
  );
}

/** One agent of a `GET /v1/agents` answer (undefined when not listed). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function listed(list: { items: Array<{ id: string }> }, id: string): any {
  return list.items.find((a) => a.id === id);
}

const lease = (c: AgentClient, waitMs = 5_000) =>
  c.call<LeaseAnswer>('Lease', { freeSlots: 1, waitMs }, { deadlineMs: waitMs + 5_000 });

beforeAll(async () => {
  t = await startTestApi();
  pg = new Client({ connectionString: t.db.url });
  await pg.connect();
});

afterAll(async () => {
  for (const c of clients) c.close();
  await pg?.end();
  await t?.cleanup();
});

describe('gRPC authentication', () => {
  it('refuses every call without a valid credential with UNAUTHENTICATED', async () => {
    const c = agent();
    for (const method of ['Heartbeat', 'Lease', 'Report', 'Complete'] as const) {
      await expect(c.call(method, {}, { token: null })).rejects.toMatchObject({ code: status.UNAUTHENTICATED });
      await expect(c.call(method, {}, { token: `a_${'x'.repeat(20)}.${'s'.repeat(43)}` })).rejects.toMatchObject({
        code: status.UNAUTHENTICATED,
      });
    }
    await expect(c.call('Enroll', { name: 'h', pool: 'default', slots: 1 }, { token: 'wrong' })).rejects.toMatchObject({
      code: status.UNAUTHENTICATED,
    });
  });

  it('validates Enroll fields with INVALID_ARGUMENT', async () => {
    const c = agent();
    for (const bad of [
      { pool: 'A:B' },
      { slots: 0 },
      { slots: 257 },
      { name: 'x'.repeat(201) },
      { labels: { 'bad key!': 'v' } },
    ]) {
      const err = await c.enroll(bad).catch((e: unknown) => e);
      expect(grpcCode(err)).toBe(status.INVALID_ARGUMENT);
    }
  });

  it('re-enrolling with its credential keeps the id and the credential; the enroll token alone is refused', async () => {
    const c = agent();
    const id = await c.enroll({ name: 'reuse-host' });
    const old = c.credential;
    await expect(
      c.call('Enroll', { name: 'reuse-host', pool: 'default', slots: 1, previousAgentId: id }, { token: ENROLL }),
    ).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
    const again = await c.call<{ agentId: string; credential: string }>(
      'Enroll',
      { name: 'reuse-host', pool: 'default', slots: 1, previousAgentId: id, previousCredential: old },
      { token: ENROLL },
    );
    expect(again).toMatchObject({ agentId: id, credential: old });
    await expect(c.call('Heartbeat', {}, { token: old })).resolves.toMatchObject({ heartbeatIntervalMs: 1_000 });
  });
});

describe('dispatch and results', () => {
  it('a Lease long poll returns a job submitted after the call started', async () => {
    const c = agent();
    await c.enroll({ pool: 'lp' });
    const pending = lease(c, 10_000);
    await new Promise((r) => setTimeout(r, 300));
    const id = await submit({ pool: 'lp', steps: [{ run: 'echo hi' }] });
    const res = await pending;
    expect(res.assignments).toHaveLength(1);
    expect(res.assignments[0]).toMatchObject({
      jobId: id,
      attempt: 1,
      leaseToken: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
    expect(res.assignments[0]?.spec.steps[0]).toMatchObject({ shell: 'echo hi', run: 'shell' });
    expect((await http(t, 'GET', `/v1/jobs/${id}`)).json).toMatchObject({
      state: 'leased',
      attempts: [{ n: 1, state: 'leased' }],
    });
  });

  it('answers an empty Lease when nothing comes within waitMs, and only gives jobs whose labels the agent has', async () => {
    const c = agent();
    await c.enroll({ pool: 'labels', labels: { os: 'linux' } });
    await submit({ pool: 'labels', labels: { os: 'mac' }, steps: [{ run: 'true' }] });
    expect((await lease(c, 400)).assignments).toEqual([]);
    const id = await submit({ pool: 'labels', labels: { os: 'linux' }, steps: [{ run: 'true' }] });
    expect((await lease(c, 10_000)).assignments[0]?.jobId).toBe(id);
  });

  it('runs a job: reports (deduplicated by seq), logs, completion; refuses a stale token', async () => {
    const c = agent();
    await c.enroll({ pool: 'run' });
    const id = await submit({ pool: 'run', steps: [{ run: 'echo hi' }] });
    const a = (await lease(c)).assignments[0]!;
    const key = { jobId: id, attempt: 1, leaseToken: a.leaseToken };
    const events = [
      { seq: 1, atMs: Date.now(), stepStarted: { step: 0, name: 'step-1', try: 1 } },
      { seq: 2, atMs: Date.now(), log: { step: 0, stream: 'stdout', data: Buffer.from('hello\n') } },
    ];
    expect(await c.call('Report', { ...key, events })).toEqual({ ackedSeq: 2 });
    expect(await c.call('Report', { ...key, events })).toEqual({ ackedSeq: 2 });
    await viewWhen(id, (v) => v.state === 'running');
    const stale = { ...key, leaseToken: 'f'.repeat(32) };
    await expect(c.call('Report', { ...stale, events })).rejects.toMatchObject({
      code: status.FAILED_PRECONDITION,
      details: expect.stringMatching(/^superseded/),
    });
    await expect(c.call('Complete', { ...stale, outcome: 'OUTCOME_SUCCEEDED' })).rejects.toMatchObject({
      code: status.FAILED_PRECONDITION,
    });
    const done = { ...key, outcome: 'OUTCOME_SUCCEEDED', exitCode: 0, lastSeq: 2 };
    expect(await c.call('Complete', done)).toEqual({ jobState: 'succeeded' });
    expect(await c.call('Complete', done)).toEqual({ jobState: 'succeeded' });
    await expect(c.call('Complete', { ...done, outcome: 'OUTCOME_FAILED' })).rejects.toMatchObject({
      code: status.FAILED_PRECONDITION,
    });
    await expect(
      c.call('Report', {
        ...key,
        events: [{ seq: 3, atMs: Date.now(), log: { step: 0, stream: 'stdout', data: Buffer.from('late') } }],
      }),
    ).rejects.toMatchObject({ code: status.FAILED_PRECONDITION });
    const view = await viewWhen(id, (v) => v.state === 'succeeded');
    expect(view).toMatchObject({
      state: 'succeeded',
      exitCode: 0,
      attempts: [{ n: 1, state: 'succeeded', exitCode: 0 }],
    });
    expect((await http(t, 'GET', `/v1/jobs/${id}/logs`)).text).toBe('hello\n');
  });

  it('validates Report and Complete fields', async () => {
    const c = agent();
    await c.enroll({ pool: 'val' });
    const bad = [
      () => c.call('Report', { jobId: 'nope', attempt: 1, leaseToken: 'f'.repeat(32), events: [] }),
      () => c.call('Report', { jobId: `j_${'0'.repeat(26)}`, attempt: 0, leaseToken: 'f'.repeat(32), events: [] }),
      () =>
        c.call('Report', {
          jobId: `j_${'0'.repeat(26)}`,
          attempt: 1,
          leaseToken: 'f'.repeat(32),
          events: [{ seq: 0, atMs: 1 }],
        }),
      () => c.call('Complete', { jobId: `j_${'0'.repeat(26)}`, attempt: 1, leaseToken: 'f'.repeat(32) }),
      () => c.call('Heartbeat', { running: [{ jobId: 'x', attempt: 1, leaseToken: 'y' }] }),
    ];
    for (const p of bad) await expect(p()).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
  });

  it('lease expiry: the attempt ends lost, the job is requeued and leased again as attempt 2', async () => {
    const c = agent();
    await c.enroll({ pool: 'expiry' });
    const id = await submit({ pool: 'expiry', steps: [{ run: 'sleep 100' }] });
    const first = (await lease(c)).assignments[0]!;
    expect(first.attempt).toBe(1);
    t.clock.advance(60_000);
    const second = (await lease(c, 15_000)).assignments[0];
    expect(second).toMatchObject({ jobId: id, attempt: 2 });
    const view = (await http(t, 'GET', `/v1/jobs/${id}`)).json;
    expect(view.attempts).toMatchObject([
      { n: 1, state: 'lost', reason: 'lease_expired' },
      { n: 2, state: 'leased' },
    ]);
    await expect(
      c.call('Complete', { jobId: id, attempt: 1, leaseToken: first.leaseToken, outcome: 'OUTCOME_SUCCEEDED' }),
    ).rejects.toMatchObject({
      code: status.FAILED_PRECONDITION,
      details: expect.stringMatching(/^superseded/),
    });
    const hb = await c.call<{ directives: Array<{ cancel?: { jobId: string; reason: string } }> }>('Heartbeat', {
      running: [
        { jobId: id, attempt: 1, leaseToken: first.leaseToken },
        { jobId: id, attempt: 2, leaseToken: second!.leaseToken },
      ],
    });
    expect(hb.directives).toEqual([{ cancel: { jobId: id, attempt: 1, reason: 'lease_lost' }, kind: 'cancel' }]);
  });

  it('heartbeats extend the lease so a live attempt is not reaped', async () => {
    const c = agent();
    await c.enroll({ pool: 'hb' });
    const id = await submit({ pool: 'hb', steps: [{ run: 'true' }] });
    const a = (await lease(c)).assignments[0]!;
    t.clock.advance(2_000);
    await c.call('Heartbeat', { running: [{ jobId: id, attempt: 1, leaseToken: a.leaseToken }] });
    const row = await pg.query('SELECT lease_expires_at FROM attempts WHERE job_id = $1 AND n = 1', [id]);
    expect(row.rows[0].lease_expires_at.getTime()).toBeGreaterThan(a.leaseExpiresAtMs);
  });

  it('cancels a running job through the heartbeat; it ends cancelled', async () => {
    const c = agent();
    await c.enroll({ pool: 'cancel' });
    const id = await submit({ pool: 'cancel', retries: 3, steps: [{ run: 'sleep 100' }] });
    const a = (await lease(c)).assignments[0]!;
    const key = { jobId: id, attempt: 1, leaseToken: a.leaseToken };
    await c.call('Report', {
      ...key,
      events: [{ seq: 1, atMs: Date.now(), stepStarted: { step: 0, name: 's', try: 1 } }],
    });
    await viewWhen(id, (v) => v.state === 'running');
    expect(await http(t, 'POST', `/v1/jobs/${id}/cancel`)).toMatchObject({
      status: 202,
      json: { id, state: 'running' },
    });
    const hb = await c.call<{ directives: unknown[] }>('Heartbeat', { running: [key] });
    expect(hb.directives).toEqual([{ cancel: { jobId: id, attempt: 1, reason: 'cancelled' }, kind: 'cancel' }]);
    expect(
      await c.call('Complete', { ...key, outcome: 'OUTCOME_CANCELLED', exitCode: -1, reason: 'cancelled' }),
    ).toEqual({ jobState: 'cancelled' });
    expect(await viewWhen(id, (v) => v.state === 'cancelled')).toMatchObject({
      state: 'cancelled',
      reason: 'cancelled',
    });
  });

  it('a failed attempt with retries left requeues the job; logs show each attempt', async () => {
    const c = agent();
    await c.enroll({ pool: 'retry' });
    const id = await submit({ pool: 'retry', retries: 1, steps: [{ run: 'false' }] });
    for (const n of [1, 2]) {
      const a = (await lease(c)).assignments[0]!;
      expect(a.attempt).toBe(n);
      const key = { jobId: id, attempt: n, leaseToken: a.leaseToken };
      await c.call('Report', {
        ...key,
        events: [{ seq: 1, atMs: Date.now(), log: { step: 0, stream: 'stderr', data: Buffer.from(`try ${n}\n`) } }],
      });
      const res = await c.call<{ jobState: string }>('Complete', { ...key, outcome: 'OUTCOME_FAILED', exitCode: 1 });
      expect(res.jobState).toBe(n === 1 ? 'queued' : 'failed');
    }
    expect(await viewWhen(id, (v) => v.state === 'failed')).toMatchObject({
      state: 'failed',
      reason: 'attempts_exhausted',
      exitCode: 1,
    });
    expect((await http(t, 'GET', `/v1/jobs/${id}/logs`)).text).toBe('try 1\n--- attempt 2 ---\ntry 2\n');
  });

  it('follows logs over SSE until the job ends', async () => {
    const c = agent();
    await c.enroll({ pool: 'sse' });
    const id = await submit({ pool: 'sse', steps: [{ run: 'echo' }] });
    const a = (await lease(c)).assignments[0]!;
    const key = { jobId: id, attempt: 1, leaseToken: a.leaseToken };
    const res = await apiFetch(t, `/v1/jobs/${id}/logs?follow=1`, {
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const body = res.text();
    await c.call('Report', {
      ...key,
      events: [
        { seq: 1, atMs: Date.now(), log: { step: 0, stream: 'stdout', data: Buffer.from('line one\nline two\n') } },
      ],
    });
    await c.call('Complete', { ...key, outcome: 'OUTCOME_SUCCEEDED' });
    const text = await body;
    expect(text).toContain('event: log\ndata: line one\ndata: line two\ndata: \n\n');
    expect(text).toMatch(/event: end\ndata: \{"id":"j_[0-9a-z]+","state":"succeeded"/);
  });

  it('a cancelled Lease call is not handed a job', async () => {
    const c = agent();
    await c.enroll({ pool: 'gone' });
    const ac = new AbortController();
    const pending = c
      .call<LeaseAnswer>('Lease', { freeSlots: 1, waitMs: 10_000 }, { deadlineMs: 20_000, signal: ac.signal })
      .catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 200));
    ac.abort();
    expect(grpcCode(await pending)).toBe(status.CANCELLED);
    await new Promise((r) => setTimeout(r, 200));
    const id = await submit({ pool: 'gone', steps: [{ run: 'true' }] });
    const res = await lease(c, 10_000);
    expect(res.assignments[0]).toMatchObject({ jobId: id, attempt: 1 });
  });
});

describe('agent controls', () => {
  it('lists agents; drain stops leasing and is a directive; reporting enable is a one-shot directive', async () => {
    const c = agent();
    const id = await c.enroll({ name: 'ops-host', pool: 'ops', labels: { os: 'linux' } });
    await c.call('Heartbeat', {
      state: { slots: 2, running: 0, breakerState: 'open', outboxDepth: 7, outboxOldestAgeMs: 1_500 },
    });
    const list = await http(t, 'GET', '/v1/agents');
    expect(list.json.items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          id,
          pool: 'ops',
          labels: { os: 'linux' },
          state: 'active',
          breakerState: 'open',
          spoolDepth: 7,
          spoolOldestAgeMs: 1_500,
        }),
      ]),
    );
    expect((await http(t, 'POST', `/v1/agents/${id}/reporting/enable`)).status).toBe(202);
    const hb1 = await c.call<{ directives: unknown[] }>('Heartbeat', {});
    expect(hb1.directives).toEqual([{ enableReporting: {}, kind: 'enableReporting' }]);
    expect((await c.call<{ directives: unknown[] }>('Heartbeat', {})).directives).toEqual([]);
    expect((await http(t, 'POST', '/v1/agents/reporting/enable')).status).toBe(202);
    expect((await c.call<{ directives: unknown[] }>('Heartbeat', {})).directives).toEqual([
      { enableReporting: {}, kind: 'enableReporting' },
    ]);
    const pending = lease(c, 10_000);
    await new Promise((r) => setTimeout(r, 200));
    expect((await http(t, 'POST', `/v1/agents/${id}/drain`)).status).toBe(202);
    expect((await pending).assignments).toEqual([]);
    await submit({ pool: 'ops', steps: [{ run: 'true' }] });
    expect((await lease(c, 300)).assignments).toEqual([]);
    expect((await c.call<{ directives: unknown[] }>('Heartbeat', {})).directives).toEqual([
      { drain: {}, kind: 'drain' },
    ]);
    expect((await http(t, 'GET', '/v1/agents')).json.items.find((a: { id: string }) => a.id === id).state).toBe(
      'draining',
    );
    expect((await http(t, 'POST', '/v1/agents/a_00000000000000000000/drain')).status).toBe(404);
    expect((await http(t, 'POST', '/v1/agents/a_00000000000000000000/reporting/enable')).status).toBe(404);
  });

  it('undrain lifts a drain: the drain directive stops, the agent leases again and shows undrained', async () => {
    const c = agent();
    const id = await c.enroll({ name: 'undrain-host', pool: 'undrain' });
    expect(await http(t, 'POST', `/v1/agents/${id}/drain`)).toMatchObject({
      status: 202,
      json: { id, state: 'draining' },
    });
    expect((await c.call<{ directives: unknown[] }>('Heartbeat', {})).directives).toEqual([
      { drain: {}, kind: 'drain' },
    ]);
    expect(listed((await http(t, 'GET', '/v1/agents')).json, id)).toMatchObject({ state: 'draining', draining: true });
    expect(await http(t, 'POST', `/v1/agents/${id}/undrain`)).toMatchObject({
      status: 202,
      json: { id, state: 'active' },
    });
    expect((await c.call<{ directives: unknown[] }>('Heartbeat', {})).directives).toEqual([]);
    expect(listed((await http(t, 'GET', '/v1/agents')).json, id)).toMatchObject({ state: 'active', draining: false });
    const job = await submit({ pool: 'undrain', steps: [{ run: 'true' }] });
    expect((await lease(c, 10_000)).assignments[0]).toMatchObject({ jobId: job, attempt: 1 });
    expect(await http(t, 'POST', `/v1/agents/${id}/undrain`)).toMatchObject({
      status: 202,
      json: { id, state: 'active' },
    });
    expect((await http(t, 'POST', '/v1/agents/a_00000000000000000000/undrain')).status).toBe(404);
    for (const hostile of ['%00', '%F0%9F%98%80', 'x'.repeat(5_000)])
      expect((await http(t, 'POST', `/v1/agents/${hostile}/undrain`)).status).toBe(404);
    expect((await http(t, 'POST', '/v1/agents/a_%ED%A0%80/undrain')).status).toBe(400); // not UTF-8: a malformed URI
  });

  it('a drain outlives the agent re-enrolling under its id: only an undrain lifts it', async () => {
    const c = agent();
    const id = await c.enroll({ name: 'sticky-host', pool: 'sticky' });
    expect((await http(t, 'POST', `/v1/agents/${id}/drain`)).status).toBe(202);
    const again = await c.call<{ agentId: string; credential: string }>(
      'Enroll',
      { name: 'sticky-host', pool: 'sticky', slots: 2, previousAgentId: id, previousCredential: c.credential },
      { token: ENROLL },
    );
    expect(again.agentId).toBe(id);
    c.credential = again.credential;
    expect(listed((await http(t, 'GET', '/v1/agents')).json, id)).toMatchObject({ state: 'draining', draining: true });
    expect((await c.call<{ directives: unknown[] }>('Heartbeat', {})).directives).toEqual([
      { drain: {}, kind: 'drain' },
    ]);
    await submit({ pool: 'sticky', steps: [{ run: 'true' }] });
    expect((await lease(c, 300)).assignments).toEqual([]);
  });

  it('rm refuses a heartbeating agent; --force ends its credential and its running attempts lost, and their jobs run again', async () => {
    const a = agent();
    const b = agent();
    const id = await a.enroll({ name: 'doomed-host', pool: 'rm' });
    const job = await submit({ pool: 'rm', steps: [{ run: 'sleep 100' }] });
    const first = (await lease(a)).assignments[0]!;
    expect(first).toMatchObject({ jobId: job, attempt: 1 });
    const refused = await http(t, 'DELETE', `/v1/agents/${id}`);
    expect(refused).toMatchObject({
      status: 409,
      json: { code: 'CONFLICT', detail: expect.stringMatching(/is active .*--force/) },
    });
    expect((await http(t, 'DELETE', `/v1/agents/${id}?force=maybe`)).status).toBe(400);
    expect(await http(t, 'DELETE', `/v1/agents/${id}?force=true`)).toMatchObject({
      status: 200,
      json: { id, removed: true, attemptsEnded: 1 },
    });
    await expect(
      a.call('Heartbeat', { running: [{ jobId: job, attempt: 1, leaseToken: first.leaseToken }] }),
    ).rejects.toMatchObject({ code: status.UNAUTHENTICATED });
    await expect(lease(a, 300)).rejects.toMatchObject({ code: status.UNAUTHENTICATED });
    expect(listed((await http(t, 'GET', '/v1/agents')).json, id)).toBeUndefined();
    await b.enroll({ name: 'heir-host', pool: 'rm' });
    const second = (await lease(b, 15_000)).assignments[0];
    expect(second).toMatchObject({ jobId: job, attempt: 2 });
    expect((await http(t, 'GET', `/v1/jobs/${job}`)).json.attempts).toMatchObject([
      { n: 1, agentId: id, state: 'lost' },
      { n: 2, state: 'leased' },
    ]);
    expect((await http(t, 'DELETE', `/v1/agents/${id}`)).status).toBe(404);
  });

  it('marks a silent agent lost; a lost agent without attempts is removed without --force', async () => {
    const c = agent();
    const id = await c.enroll({ name: 'silent-host', pool: 'silent' });
    t.clock.advance(3_600_000);
    await waitFor(async () => listed((await http(t, 'GET', '/v1/agents')).json, id)?.state === 'lost', {
      what: 'agent lost',
    });
    expect(await http(t, 'DELETE', `/v1/agents/${id}`)).toMatchObject({
      status: 200,
      json: { id, removed: true, attemptsEnded: 0 },
    });
    expect(listed((await http(t, 'GET', '/v1/agents')).json, id)).toBeUndefined();
    await expect(c.call('Heartbeat', {})).rejects.toMatchObject({ code: status.UNAUTHENTICATED });
  });
});

describe('stale agents (30 s heartbeats, lost after 90 s)', () => {
  let slow: TestApi;
  beforeAll(async () => {
    slow = await startTestApi({ JR_HEARTBEAT_INTERVAL: '30s' });
  });
  afterAll(async () => {
    await slow?.cleanup();
  });

  it('shows an agent that stopped heartbeating as stale at once, with its heartbeat age by the API clock; rm waits for lost', async () => {
    const c = new AgentClient(slow.grpcAddress);
    clients.push(c);
    const id = await c.enroll({ name: 'quiet-host', pool: 'quiet' });
    await c.call('Heartbeat', {});
    const fresh = listed((await http(slow, 'GET', '/v1/agents')).json, id);
    expect(fresh).toMatchObject({ state: 'active', draining: false });
    expect(fresh.heartbeatAgeMs).toBeLessThan(30_000);
    slow.clock.advance(65_000);
    const silent = listed((await http(slow, 'GET', '/v1/agents')).json, id);
    expect(silent).toMatchObject({ state: 'stale', draining: false });
    expect(silent.heartbeatAgeMs).toBeGreaterThanOrEqual(65_000);
    expect(await http(slow, 'POST', `/v1/agents/${id}/drain`)).toMatchObject({ status: 202 });
    expect(listed((await http(slow, 'GET', '/v1/agents')).json, id)).toMatchObject({ state: 'stale', draining: true });
    expect(await http(slow, 'DELETE', `/v1/agents/${id}`)).toMatchObject({
      status: 409,
      json: { detail: expect.stringMatching(/is stale .*--force/) },
    });
    expect(await http(slow, 'POST', `/v1/agents/${id}/undrain`)).toMatchObject({
      status: 202,
      json: { id, state: 'stale' },
    });
    await c.call('Heartbeat', {});
    expect(listed((await http(slow, 'GET', '/v1/agents')).json, id)).toMatchObject({
      state: 'active',
      draining: false,
    });
  });
});
