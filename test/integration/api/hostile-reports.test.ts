/* eslint-disable @typescript-eslint/no-unsafe-return -- HTTP answers' JSON bodies are untyped in these tests */
import { status } from '@grpc/grpc-js';
import { waitFor } from '@jr/testing';
import { AgentClient, http, startTestApi, type TestApi } from './harness';

// Agents' reports that the API could not store or order are refused with INVALID_ARGUMENT in the call
// (the agent knows), never acknowledged and then dropped by the results relay. (An unpaired surrogate
// cannot arrive over gRPC: protobuf strings are UTF-8 on the wire and grpc-js decodes it as U+FFFD.)
let t: TestApi;
const clients: AgentClient[] = [];

beforeAll(async () => {
  t = await startTestApi();
});

afterAll(async () => {
  for (const c of clients) c.close();
  await t?.cleanup();
});

interface Assignment {
  jobId: string;
  attempt: number;
  leaseToken: string;
}

async function leasedJob(pool: string, steps = 2): Promise<{ c: AgentClient; key: Assignment }> {
  const c = new AgentClient(t.grpcAddress);
  clients.push(c);
  await c.enroll({ pool, name: `host-${pool}` });
  const r = await http(t, 'POST', '/v1/jobs', {
    body: { pool, steps: Array.from({ length: steps }, (_, i) => ({ name: `s${i}`, run: 'true' })) },
  });
  expect(r.status).toBe(202);
  const res = await c.call<{ assignments: Assignment[] }>(
    'Lease',
    { freeSlots: 1, waitMs: 10_000 },
    { deadlineMs: 15_000 },
  );
  const a = res.assignments[0];
  if (!a) throw new Error('no assignment');
  return { c, key: { jobId: a.jobId, attempt: a.attempt, leaseToken: a.leaseToken } };
}

const now = (): number => Date.now();
const log = (seq: number, text: string, step = 0, atMs = now()) => ({
  seq,
  atMs,
  log: { step, stream: 'stdout', data: Buffer.from(text) },
});
const started = (seq: number, step: number, name = `s${step}`) => ({
  seq,
  atMs: now(),
  stepStarted: { step, name, try: 1 },
});
const finished = (seq: number, step: number, signal = '') => ({
  seq,
  atMs: now(),
  stepFinished: { step, exitCode: 0, signal, outcome: 'succeeded' },
});

const YEAR_MS = 365 * 24 * 3_600_000;
const HOSTILE_REPORTS: Array<[string, object[]]> = [
  ['a repeated seq', [log(1, 'a\n'), log(1, 'b\n')]],
  ['a decreasing seq', [log(2, 'a\n'), log(1, 'b\n')]],
  ['a negative step index', [log(1, 'a\n', -1)]],
  ['a step index past the job', [started(1, 2)]],
  ['a step index far past the job', [log(1, 'a\n', 2 ** 31 - 1)]],
  ['a negative at_ms', [log(1, 'a\n', 0, -5)]],
  ['an at_ms in 1970', [log(1, 'a\n', 0, 1)]],
  ['an at_ms ten years ahead', [log(1, 'a\n', 0, now() + 10 * YEAR_MS)]],
  ['an at_ms past what a date holds', [log(1, 'a\n', 0, 9e15)]],
  ['NUL in a step name', [started(1, 0, 'bad\u0000name')]],
  ['NUL in a signal name', [finished(1, 0, 'SIG\u0000')]],
  ['an unknown stream', [{ seq: 1, atMs: now(), log: { step: 0, stream: 'stdin\u0000', data: Buffer.from('x') } }]],
];

it.each(HOSTILE_REPORTS)('refuses a report with %s (INVALID_ARGUMENT) and stores none of it', async (_what, events) => {
  const { c, key } = await leasedJob(`p${Math.random().toString(36).slice(2, 8)}`);
  await expect(c.call('Report', { ...key, events })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
  // the agent can still report the attempt properly: exactly what it sends then is stored, in order
  expect(
    await c.call('Report', {
      ...key,
      events: [
        started(1, 0),
        log(2, 'one\n'),
        log(3, 'two\n'),
        finished(4, 0),
        started(5, 1),
        log(6, 'three\n', 1),
        finished(7, 1),
      ],
    }),
  ).toEqual({ ackedSeq: 7 });
  expect(
    await c.call('Complete', {
      ...key,
      outcome: 'OUTCOME_SUCCEEDED',
      exitCode: 0,
      startedAtMs: now() - 1_000,
      endedAtMs: now(),
    }),
  ).toEqual({ jobState: 'succeeded' });
  const view = await waitFor(
    async () => {
      const v = (await http(t, 'GET', `/v1/jobs/${key.jobId}`)).json;
      return v?.state === 'succeeded' ? v : undefined;
    },
    { what: 'the job to succeed' },
  );
  expect(view.attempts).toMatchObject([{ n: 1, state: 'succeeded', exitCode: 0 }]);
  expect((await http(t, 'GET', `/v1/jobs/${key.jobId}/logs`)).text).toBe('one\ntwo\nthree\n');
});

it.each([
  ['NUL in the reason', { reason: 'step\u0000failed' }],
  ['a negative started_at_ms', { startedAtMs: -1 }],
  ['an ended_at_ms a century ahead', { endedAtMs: now() + 100 * YEAR_MS }],
])('refuses a completion with %s (INVALID_ARGUMENT), and takes the proper one after it', async (_what, bad) => {
  const { c, key } = await leasedJob(`c${Math.random().toString(36).slice(2, 8)}`, 1);
  const done = {
    ...key,
    outcome: 'OUTCOME_FAILED',
    exitCode: 3,
    reason: 'step_failed',
    startedAtMs: now() - 1_000,
    endedAtMs: now(),
  };
  await expect(c.call('Complete', { ...done, ...bad })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
  expect(await c.call('Complete', done)).toEqual({ jobState: 'failed' });
  await waitFor(async () => (await http(t, 'GET', `/v1/jobs/${key.jobId}`)).json?.state === 'failed', {
    what: 'the job to fail',
  });
});

it('refuses unstorable strings in Enroll and Heartbeat with INVALID_ARGUMENT, not an internal error', async () => {
  const c = new AgentClient(t.grpcAddress);
  clients.push(c);
  await expect(
    c.call(
      'Enroll',
      { name: 'host-x', pool: 'default', slots: 1, labels: {}, version: '1.0\u0000' },
      { token: 'enroll-token-for-tests' },
    ),
  ).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
  await c.enroll({ pool: 'hb', name: 'host-hb' });
  const state = { slots: 1, running: 0, breakerState: 'closed\u0000', outboxDepth: 0, outboxOldestAgeMs: 0 };
  await expect(c.call('Heartbeat', { running: [], state, sentAtMs: now() })).rejects.toMatchObject({
    code: status.INVALID_ARGUMENT,
  });
  await c.call('Heartbeat', { running: [], state: { ...state, breakerState: 'closed' }, sentAtMs: now() });
});
