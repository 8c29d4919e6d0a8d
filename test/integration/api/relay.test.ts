/* eslint-disable @typescript-eslint/no-unsafe-return -- HTTP answers' JSON bodies are untyped in these tests */
import * as path from 'node:path';
import { Queue } from 'bullmq';
import { Client } from 'pg';
import { newJobId, parseJobSpec } from '@jr/contracts';
import { Journal } from '@jr/journal';
import { deleteRedisPrefix, testRedisUrl, waitFor } from '@jr/testing';
import { encodeRecord, requestHash } from '../../../apps/api/src/intake/intake-record';
import { PendingSubmissions } from '../../../apps/api/src/intake/pending-submissions';
import { http, setDatabaseConnections, startTestApi, type TestApi } from './harness';

let t: TestApi;

beforeAll(async () => {
  t = await startTestApi({ JR_JOURNAL_MAX_BYTES: '8MiB' });
});

afterAll(async () => {
  await setConnections(true).catch(() => undefined);
  await t?.cleanup();
});

const setConnections = (allow: boolean): Promise<void> => setDatabaseConnections(t, allow);

async function inBullmq(jobId: string, pool = 'default'): Promise<boolean> {
  const queue = new Queue(`pool-${pool}`, { connection: { url: testRedisUrl() }, prefix: t.prefix });
  try {
    return (await queue.getJob(`${jobId}-r1`)) !== undefined;
  } finally {
    await queue.close();
  }
}

it('replays journal records after the checkpoint at start-up, before answering', async () => {
  await t.api.stop();
  const parsed = parseJobSpec({ name: 'from-journal', steps: [{ run: 'true' }] });
  if (!parsed.ok) throw new Error('bad spec');
  const id = newJobId();
  const journal = await Journal.open({ dir: path.join(t.dataDir, 'intake') });
  await journal.append(
    encodeRecord({
      type: 'job.submitted',
      id,
      job: parsed.job,
      idempotencyKey: null,
      requestHash: requestHash(parsed.job),
      at: Date.now(),
    }),
  );
  await journal.close();
  await t.restart();
  const r = await http(t, 'GET', `/v1/jobs/${id}`);
  expect(r.status).toBe(200);
  expect(r.json).toMatchObject({ name: 'from-journal', state: 'queued' });
  expect(await inBullmq(id)).toBe(true);
});

it('accepts submissions while Postgres is down (202, durable) and applies them when it is back', async () => {
  await setConnections(false);
  try {
    const r = await http(t, 'POST', '/v1/jobs', {
      body: { steps: [{ run: 'echo durable' }] },
      headers: { 'idempotency-key': 'while-down' },
    });
    expect(r.status).toBe(202);
    // still ready: intake accepts (journal); /readyz names what is down
    const ready = await http(t, 'GET', '/readyz', { token: null });
    expect(ready.status).toBe(200);
    expect(ready.json.dependencies.postgres.up).toBe(false);
    expect(ready.json.degraded).toEqual(['postgres']);
    expect((await http(t, 'GET', `/v1/jobs/${r.json.id}`)).json).toMatchObject({
      id: r.json.id,
      state: 'queued',
      attempts: [],
    });
    const again = await http(t, 'POST', '/v1/jobs', {
      body: { steps: [{ run: 'echo durable' }] },
      headers: { 'idempotency-key': 'while-down' },
    });
    expect(again).toMatchObject({ status: 200, json: { id: r.json.id } });
    await setConnections(true);
    const view = await waitFor(
      async () => {
        const v = await http(t, 'GET', `/v1/jobs/${r.json.id}`);
        return v.status === 200 ? v.json : undefined;
      },
      { timeoutMs: 20_000, what: 'the relay to apply the journaled job' },
    );
    expect(view).toMatchObject({ state: 'queued', spec: { steps: [{ run: 'echo durable' }] } });
    await waitFor(() => inBullmq(r.json.id), { timeoutMs: 10_000, what: 'the job in BullMQ' });
  } finally {
    await setConnections(true);
  }
});

it('answers 503 with Retry-After when the journal is full, and accepts again once records are applied', async () => {
  await setConnections(false);
  const body = { steps: Array.from({ length: 3 }, () => ({ run: 'x'.repeat(60_000) })) };
  let full: Awaited<ReturnType<typeof http>> | undefined;
  try {
    for (let i = 0; i < 80 && !full; i++) {
      const r = await http(t, 'POST', '/v1/jobs', { body });
      if (r.status === 503) full = r;
      else expect(r.status).toBe(202);
    }
    expect(full?.json).toMatchObject({ status: 503, code: 'NOT_ACCEPTING' });
    expect(Number(full?.headers.get('retry-after'))).toBeGreaterThan(0);
  } finally {
    await setConnections(true);
  }
  await waitFor(
    async () => (await http(t, 'POST', '/v1/jobs', { body: { steps: [{ run: 'true' }] } })).status === 202,
    { timeoutMs: 30_000, what: 'intake to accept again' },
  );
});

it('a key repeated while Postgres was down: same body -> its new id becomes an alias of the existing job; other body -> a job of its own', async () => {
  const keyA = { 'idempotency-key': 'repeated-while-down-a' };
  const keyB = { 'idempotency-key': 'repeated-while-down-b' };
  const body = { name: 'aliased', steps: [{ run: 'echo same' }] };
  const first = await http(t, 'POST', '/v1/jobs', { body, headers: keyA });
  const holderB = await http(t, 'POST', '/v1/jobs', {
    body: { name: 'holder-b', steps: [{ run: 'echo b' }] },
    headers: keyB,
  });
  const pending = t.api.app.get(PendingSubmissions);
  await waitFor(() => pending.size === 0, { what: 'the relay to apply both' });
  await setConnections(false);
  let same: Awaited<ReturnType<typeof http>>;
  let other: Awaited<ReturnType<typeof http>>;
  try {
    // while Redis remembers the keys' reservations, a repeat is answered from there, Postgres or not
    expect(await http(t, 'POST', '/v1/jobs', { body, headers: keyA })).toMatchObject({
      status: 200,
      json: { id: first.json.id },
    });
    // Redis forgot them (its TTL passed, or it lost its data) and Postgres cannot be asked whether the
    // keys are taken: accepted (durable), resolved by the relay later
    await deleteRedisPrefix(testRedisUrl(), `${t.prefix}:idem:`);
    same = await http(t, 'POST', '/v1/jobs', { body, headers: keyA });
    other = await http(t, 'POST', '/v1/jobs', {
      body: { name: 'other-body', steps: [{ run: 'echo other' }] },
      headers: keyB,
    });
    expect([same.status, other.status]).toEqual([202, 202]);
    expect(same.json.id).not.toBe(first.json.id);
    // the same key again while its record is pending: answered from the journal's index (and a new body conflicts)
    expect(await http(t, 'POST', '/v1/jobs', { body, headers: keyA })).toMatchObject({
      status: 200,
      json: { id: same.json.id },
    });
    expect((await http(t, 'POST', '/v1/jobs', { body: { steps: [{ run: 'x' }] }, headers: keyA })).status).toBe(409);
  } finally {
    await setConnections(true);
  }
  const aliased = await waitFor(
    async () => {
      const v = await http(t, 'GET', `/v1/jobs/${same.json.id}`);
      return v.status === 200 && v.json.id === first.json.id ? v.json : undefined;
    },
    { timeoutMs: 20_000, what: 'the repeated id to resolve to the first job' },
  );
  expect(aliased).toMatchObject({ id: first.json.id, name: 'aliased' });
  expect(await http(t, 'POST', `/v1/jobs/${same.json.id}/cancel`)).toMatchObject({
    status: 202,
    json: { state: 'cancelled' },
  });
  expect((await http(t, 'GET', `/v1/jobs/${first.json.id}`)).json.state).toBe('cancelled');
  // acknowledged with another body under a taken key: it runs as a job of its own (the holder is untouched)
  const own = await waitFor(
    async () => {
      const v = await http(t, 'GET', `/v1/jobs/${other.json.id}`);
      return v.status === 200 && v.json.name === 'other-body' ? v.json : undefined;
    },
    { timeoutMs: 20_000, what: 'the other job applied' },
  );
  expect(own).toMatchObject({ id: other.json.id, state: 'queued' });
  expect((await http(t, 'GET', `/v1/jobs/${holderB.json.id}`)).json).toMatchObject({
    name: 'holder-b',
    state: 'queued',
  });
  expect(
    await http(t, 'POST', '/v1/jobs', { body: { name: 'holder-b', steps: [{ run: 'echo b' }] }, headers: keyB }),
  ).toMatchObject({ status: 200, json: { id: holderB.json.id } });
});

it('a clean stop applies what the journal holds before it exits, once Postgres answers: nothing is left on this disk alone', async () => {
  await setConnections(false);
  const ids: string[] = [];
  try {
    for (let i = 0; i < 20; i++) {
      const r = await http(t, 'POST', '/v1/jobs', { body: { name: `drain-${i}`, steps: [{ run: 'true' }] } });
      expect(r.status).toBe(202);
      ids.push(r.json.id as string);
    }
  } finally {
    await setConnections(true);
  }
  // the relay is backing off (up to 2 s) after the outage: stop now, before its next pass
  await t.api.stop();
  const client = new Client({ connectionString: t.db.url });
  await client.connect();
  try {
    const rows = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1)', [ids]);
    expect(rows.rows[0]?.n).toBe(20);
  } finally {
    await client.end();
  }
  await t.restart();
});

it('submissions racing a clean stop: every one answered 202 is in Postgres when the stop returns (the rest 503)', async () => {
  const statuses = new Map<number, number>();
  const ids: string[] = [];
  let stopping: Promise<void> | undefined;
  const send = async (i: number): Promise<void> => {
    const r = await http(t, 'POST', '/v1/jobs', { body: { name: `race-${i}`, steps: [{ run: 'true' }] } }).catch(
      () => undefined,
    );
    if (!r) return; // the listener closed: never acknowledged
    statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    if (r.status === 202) ids.push(r.json.id as string);
    if (i === 20) stopping = t.api.stop();
  };
  await Promise.all(Array.from({ length: 200 }, (_, i) => send(i)));
  await stopping;
  console.log(`submissions racing a stop: ${JSON.stringify(Object.fromEntries(statuses))}`);
  const client = new Client({ connectionString: t.db.url });
  await client.connect();
  try {
    const rows = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1)', [ids]);
    expect(rows.rows[0]?.n).toBe(ids.length);
  } finally {
    await client.end();
  }
  expect(ids.length).toBeGreaterThan(0);
  await t.restart();
});
