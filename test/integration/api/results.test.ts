/* eslint-disable @typescript-eslint/no-unsafe-return, @typescript-eslint/no-explicit-any -- HTTP answers' JSON bodies are untyped in these tests */
import * as path from 'node:path';
import { status } from '@grpc/grpc-js';
import { Journal } from '@jr/journal';
import { waitFor } from '@jr/testing';
import { encodeResult } from '../../../apps/api/src/results/results-record';
import { AgentClient, http, setDatabaseConnections, startTestApi, type TestApi } from './harness';

// The results path: Report/Complete are fenced and journaled (synced) before the answer; the results
// relay applies them to Postgres afterwards, also after a restart and after Postgres comes back.
let t: TestApi;
const clients: AgentClient[] = [];

beforeAll(async () => {
  t = await startTestApi({ JR_JOURNAL_MAX_BYTES: '8MiB' });
});

afterAll(async () => {
  for (const c of clients) c.close();
  await setDatabaseConnections(t, true).catch(() => undefined);
  await t?.cleanup();
});

async function agent(pool: string, name = `host-${pool}`): Promise<AgentClient> {
  const c = new AgentClient(t.grpcAddress);
  clients.push(c);
  await c.enroll({ pool, name });
  return c;
}

interface Assignment {
  jobId: string;
  attempt: number;
  leaseToken: string;
}

async function lease(c: AgentClient, waitMs = 10_000): Promise<Assignment> {
  const res = await c.call<{ assignments: Assignment[] }>(
    'Lease',
    { freeSlots: 1, waitMs },
    { deadlineMs: waitMs + 5_000 },
  );
  const a = res.assignments[0];
  if (!a) throw new Error('no assignment');
  return a;
}

async function submit(pool: string): Promise<string> {
  const r = await http(t, 'POST', '/v1/jobs', { body: { pool, steps: [{ run: 'echo hi' }] } });
  expect(r.status).toBe(202);
  return r.json.id;
}

async function viewWhen(id: string, ready: (v: any) => boolean, timeoutMs = 10_000): Promise<any> {
  return waitFor(
    async () => {
      const v = (await http(t, 'GET', `/v1/jobs/${id}`)).json;
      return ready(v) ? v : undefined;
    },
    { timeoutMs, what: `job ${id} to reach the expected state` },
  );
}

const log = (seq: number, text: string) => ({
  seq,
  atMs: Date.now(),
  log: { step: 0, stream: 'stdout', data: Buffer.from(text) },
});

it('a late result for an attempt whose lease went to another agent is kept as superseded (with its exit code) and answered superseded, every time', async () => {
  const slow = await agent('late', 'slow-host');
  const id = await submit('late');
  const first = await lease(slow);
  t.clock.advance(120_000); // the slow agent falls silent past its lease
  await viewWhen(id, (v) => v.attempts[0]?.state === 'lost', 15_000);
  const rescuer = await agent('late', 'rescuer-host');
  const second = await lease(rescuer);
  expect(second).toMatchObject({ jobId: id, attempt: 2 });

  const late = { jobId: id, attempt: 1, leaseToken: first.leaseToken };
  await expect(slow.call('Report', { ...late, events: [log(1, 'late output\n')] })).rejects.toMatchObject({
    code: status.FAILED_PRECONDITION,
    details: expect.stringMatching(/^superseded: attempt 1 of job j_\w+ ended lost/),
  });
  const done = { ...late, outcome: 'OUTCOME_SUCCEEDED', exitCode: 0 };
  await expect(slow.call('Complete', done)).rejects.toMatchObject({
    code: status.FAILED_PRECONDITION,
    details: expect.stringMatching(/^superseded/),
  });
  const view = await viewWhen(id, (v) => v.attempts[0]?.state === 'superseded' && v.attempts[0]?.exitCode === 0);
  expect(view.attempts).toMatchObject([
    { n: 1, state: 'superseded', exitCode: 0 },
    { n: 2, state: 'leased' },
  ]);
  expect(view.state).toBe('leased'); // the late success does not decide the job: attempt 2 does
  // the same answer again (no error loop, nothing new stored)
  await expect(slow.call('Complete', done)).rejects.toMatchObject({
    code: status.FAILED_PRECONDITION,
    details: expect.stringMatching(/^superseded/),
  });

  const key = { jobId: id, attempt: 2, leaseToken: second.leaseToken };
  await rescuer.call('Report', { ...key, events: [log(1, 'second\n')] });
  expect(await rescuer.call('Complete', { ...key, outcome: 'OUTCOME_FAILED', exitCode: 7 })).toEqual({
    jobState: 'failed',
  });
  const final = await viewWhen(id, (v) => v.state === 'failed');
  expect(final).toMatchObject({
    exitCode: 7,
    attempts: [
      { n: 1, state: 'superseded', exitCode: 0 },
      { n: 2, state: 'failed', exitCode: 7 },
    ],
  });
  expect((await http(t, 'GET', `/v1/jobs/${id}/logs`)).text).toBe('late output\n--- attempt 2 ---\nsecond\n');
});

it('keeps answering Report/Complete while Postgres is unreachable (journaled), and applies them when it returns', async () => {
  const c = await agent('pgdown');
  const id = await submit('pgdown');
  const a = await lease(c);
  const key = { jobId: id, attempt: 1, leaseToken: a.leaseToken };
  await setDatabaseConnections(t, false);
  try {
    expect(
      await c.call('Report', {
        ...key,
        events: [{ seq: 1, atMs: Date.now(), stepStarted: { step: 0, name: 's', try: 1 } }, log(2, 'while down\n')],
      }),
    ).toEqual({ ackedSeq: 2 });
    expect(await c.call('Complete', { ...key, outcome: 'OUTCOME_SUCCEEDED', exitCode: 0 })).toEqual({
      jobState: 'succeeded',
    });
    // a stale token is still refused synchronously
    await expect(
      c.call('Complete', { ...key, leaseToken: '0'.repeat(32), outcome: 'OUTCOME_SUCCEEDED' }),
    ).rejects.toMatchObject({ code: status.FAILED_PRECONDITION });
    // a repeat is answered from what is journaled here
    expect(await c.call('Complete', { ...key, outcome: 'OUTCOME_SUCCEEDED', exitCode: 0 })).toEqual({
      jobState: 'succeeded',
    });
  } finally {
    await setDatabaseConnections(t, true);
  }
  const view = await viewWhen(id, (v) => v.state === 'succeeded', 20_000);
  expect(view.attempts).toMatchObject([{ n: 1, state: 'succeeded', exitCode: 0 }]);
  expect((await http(t, 'GET', `/v1/jobs/${id}/logs`)).text).toBe('while down\n');
});

it('answers RESOURCE_EXHAUSTED (back off, not a breaker failure) when the results journal is full, and accepts again once it drains', async () => {
  const c = await agent('full');
  const id = await submit('full');
  const a = await lease(c);
  const key = { jobId: id, attempt: 1, leaseToken: a.leaseToken };
  const chunk = 'x'.repeat(1024 * 1024);
  let seq = 0;
  let refused: unknown;
  await setDatabaseConnections(t, false);
  try {
    for (let i = 0; i < 20 && refused === undefined; i++) {
      await c.call('Report', { ...key, events: [log(++seq, chunk)] }).catch((err: unknown) => (refused = err));
    }
  } finally {
    await setDatabaseConnections(t, true);
  }
  expect(refused).toMatchObject({ code: status.RESOURCE_EXHAUSTED });
  await waitFor(() => c.call('Report', { ...key, events: [log(seq, chunk)] }).then(() => true), {
    timeoutMs: 20_000,
    what: 'Report to be accepted again',
  });
  expect(await c.call('Complete', { ...key, outcome: 'OUTCOME_SUCCEEDED', exitCode: 0 })).toEqual({
    jobState: 'succeeded',
  });
  await viewWhen(id, (v) => v.state === 'succeeded', 20_000);
  expect((await http(t, 'GET', `/v1/jobs/${id}/logs`)).text.length).toBe(seq * chunk.length);
});

it('replays results journaled before a crash at start-up, before answering, exactly once', async () => {
  const c = await agent('replay');
  const id = await submit('replay');
  const a = await lease(c);
  await t.api.stop();
  const journal = await Journal.open({ dir: path.join(t.dataDir, 'results') });
  const base = {
    jobId: id,
    attempt: 1,
    agentId: a.leaseToken && (await agentIdOf(c)),
    leaseToken: a.leaseToken,
    late: false,
    at: Date.now(),
  };
  const events = [
    {
      seq: 1,
      at: new Date(),
      kind: 'log' as const,
      step: 0,
      stream: 'stdout',
      data: Buffer.from('replayed\n'),
      detail: null,
    },
  ];
  await journal.append(encodeResult({ type: 'report', ...base, events }));
  await journal.append(encodeResult({ type: 'report', ...base, events })); // a duplicate delivery
  await journal.append(
    encodeResult({
      type: 'complete',
      ...base,
      outcome: { end: 'succeeded', exitCode: 0, reason: null, startedAt: null, endedAt: new Date() },
    }),
  );
  await journal.close();
  await t.restart();
  const view = (await http(t, 'GET', `/v1/jobs/${id}`)).json; // applied before the API listened
  expect(view).toMatchObject({ state: 'succeeded', attempts: [{ n: 1, state: 'succeeded', exitCode: 0 }] });
  expect((await http(t, 'GET', `/v1/jobs/${id}/logs`)).text).toBe('replayed\n');
});

async function agentIdOf(c: AgentClient): Promise<string> {
  return c.credential.split('.')[0] as string;
}
