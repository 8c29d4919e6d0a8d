/* eslint-disable @typescript-eslint/no-unsafe-return -- HTTP answers' JSON bodies are untyped in these tests */
import { Client } from 'pg';
import { waitFor } from '@jr/testing';
import { SseParser } from '../../../apps/cli/src/sse-parser';
import { ADMIN, AgentClient, apiFetch, http, startTestApi, type TestApi } from './harness';

// GET /v1/jobs/:id/logs (plain and ?follow=1) on thousands of chunks over two attempts: every byte once,
// in (attempt, seq) order, page after page; step markers only when asked; a follower that joins in the
// middle or resumes from its Last-Event-ID sees exactly the same text. And JR_MAX_LOG_BYTES.
/** The API the helpers below talk to (each describe starts its own). */
let t: TestApi;
const apis: TestApi[] = [];
const clients: AgentClient[] = [];

async function useApi(env: Record<string, string> = {}): Promise<void> {
  t = await startTestApi(env);
  apis.push(t);
}

afterAll(async () => {
  for (const c of clients) c.close();
  for (const api of apis) await api.cleanup();
});

interface Assignment {
  jobId: string;
  attempt: number;
  leaseToken: string;
}

async function agent(pool: string): Promise<AgentClient> {
  const c = new AgentClient(t.grpcAddress);
  clients.push(c);
  await c.enroll({ pool, name: `host-${pool}` });
  return c;
}

async function lease(c: AgentClient): Promise<Assignment> {
  const res = await c.call<{ assignments: Assignment[] }>(
    'Lease',
    { freeSlots: 1, waitMs: 10_000 },
    { deadlineMs: 15_000 },
  );
  const a = res.assignments[0];
  if (!a) throw new Error('no assignment');
  return a;
}

async function submit(body: object): Promise<string> {
  const r = await http(t, 'POST', '/v1/jobs', { body });
  expect(r.status).toBe(202);
  return r.json.id;
}

async function stateIs(id: string, state: string): Promise<void> {
  await waitFor(async () => (await http(t, 'GET', `/v1/jobs/${id}`)).json?.state === state, {
    timeoutMs: 20_000,
    what: `job ${id} to be ${state}`,
  });
}

type Event = {
  seq: number;
  atMs: number;
  log?: { step: number; stream: string; data: Buffer };
  stepStarted?: { step: number; name: string; try: number };
};
const logEvent = (seq: number, step: number, data: Buffer | string): Event => ({
  seq,
  atMs: Date.now(),
  log: { step, stream: 'stdout', data: Buffer.from(data) },
});
const stepEvent = (seq: number, step: number, name: string): Event => ({
  seq,
  atMs: Date.now(),
  stepStarted: { step, name, try: 1 },
});

/** Sends events in reports of at most 400. */
async function report(c: AgentClient, a: Assignment, events: Event[]): Promise<void> {
  for (let i = 0; i < events.length; i += 400)
    await c.call('Report', {
      jobId: a.jobId,
      attempt: a.attempt,
      leaseToken: a.leaseToken,
      events: events.slice(i, i + 400),
    });
}

/** An SSE reader: the concatenated `log` data, the ids seen, and whether `end` came. */
async function follow(
  id: string,
  opts: { markers?: boolean; lastEventId?: string; stopAfterChars?: number } = {},
): Promise<{ text: string; ids: Array<{ id: string; at: number }>; ended: boolean }> {
  const headers: Record<string, string> = { authorization: `Bearer ${ADMIN}` };
  if (opts.lastEventId) headers['last-event-id'] = opts.lastEventId;
  const res = await apiFetch(t, `/v1/jobs/${id}/logs?follow=1${opts.markers ? '&markers=1' : ''}`, { headers });
  expect(res.status).toBe(200);
  const parser = new SseParser();
  const decoder = new TextDecoder();
  const out = { text: '', ids: [] as Array<{ id: string; at: number }>, ended: false };
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    for (const e of parser.feed(decoder.decode(value, { stream: true }))) {
      if (e.event === 'end') out.ended = true;
      if (e.event !== 'log') continue;
      out.text += e.data;
      if (e.id) out.ids.push({ id: e.id, at: out.text.length });
    }
    if (out.ended || (opts.stopAfterChars !== undefined && out.text.length >= opts.stopAfterChars)) break;
  }
  await reader.cancel().catch(() => undefined);
  return out;
}

describe('a job with thousands of chunks over two attempts', () => {
  let id: string;
  let plain = '';
  let marked = '';
  let midway: Promise<Awaited<ReturnType<typeof follow>>>;

  beforeAll(async () => {
    await useApi();
    const c = await agent('many');
    id = await submit({
      pool: 'many',
      retries: 1,
      steps: [
        { name: 'build', run: 'make' },
        { name: 'test', run: 'make test' },
      ],
    });

    // attempt 1: 1,500 chunks, every one of them ending in half of a '✓' that the next completes
    const tick = Buffer.from('✓');
    const first = await lease(c);
    const events1: Event[] = [stepEvent(1, 0, 'build')];
    for (let i = 1; i <= 1_500; i++) {
      const head = i === 1 ? Buffer.alloc(0) : Buffer.concat([tick.subarray(1), Buffer.from('\n')]);
      events1.push(logEvent(i + 1, 0, Buffer.concat([head, Buffer.from(`a1 tick ${i} `), tick.subarray(0, 1)])));
    }
    events1.push(logEvent(1_502, 0, Buffer.concat([tick.subarray(1), Buffer.from('\n')])));
    await report(c, first, events1);
    await c.call('Complete', { ...first, outcome: 'OUTCOME_FAILED', exitCode: 1 });
    plain += `${Array.from({ length: 1_500 }, (_, i) => `a1 tick ${i + 1} ✓\n`).join('')}`;
    marked += `--- step 1/2: build ---\n${plain}`;

    // attempt 2: step 1 prints 1,000 lines, step 2 700 more; a follower joins between the two
    const second = await lease(c);
    expect(second.attempt).toBe(2);
    const step1 = Array.from({ length: 1_000 }, (_, i) => logEvent(i + 2, 0, `a2 build ${i + 1}\n`));
    await report(c, second, [stepEvent(1, 0, 'build'), ...step1]);
    await waitFor(async () => (await http(t, 'GET', `/v1/jobs/${id}/logs`)).text.includes('a2 build 1000\n'), {
      what: 'attempt 2 step 1 to be applied',
    });
    midway = follow(id, { markers: true });
    const step2 = Array.from({ length: 700 }, (_, i) => logEvent(i + 1_003, 1, `a2 test ${i + 1}\n`));
    await report(c, second, [stepEvent(1_002, 1, 'test'), ...step2]);
    await c.call('Complete', { ...second, outcome: 'OUTCOME_SUCCEEDED', exitCode: 0 });
    await stateIs(id, 'succeeded');
    const a2build = Array.from({ length: 1_000 }, (_, i) => `a2 build ${i + 1}\n`).join('');
    const a2test = Array.from({ length: 700 }, (_, i) => `a2 test ${i + 1}\n`).join('');
    plain += `--- attempt 2 ---\n${a2build}${a2test}`;
    marked += `--- attempt 2 ---\n--- step 1/2: build ---\n${a2build}--- step 2/2: test ---\n${a2test}`;
  }, 120_000);

  it('GET without parameters: every chunk once and in order, pages of 500 rows and more', async () => {
    const r = await http(t, 'GET', `/v1/jobs/${id}/logs`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/plain');
    expect(r.text).toBe(plain);
  });

  it('?markers=1 puts a "--- step N/M: NAME ---" line before each step of each attempt', async () => {
    expect((await http(t, 'GET', `/v1/jobs/${id}/logs?markers=1`)).text).toBe(marked);
  });

  it('?follow=1 streams the same text (characters split across chunks and pages intact), then end', async () => {
    const r = await follow(id);
    expect(r.ended).toBe(true);
    expect(r.text).toBe(plain);
    expect(r.ids.length).toBeGreaterThan(3); // several pages
    expect((await follow(id, { markers: true })).text).toBe(marked);
  });

  it('a follower that joined in the middle of attempt 2 got everything once', async () => {
    const r = await midway;
    expect(r.ended).toBe(true);
    expect(r.text).toBe(marked);
  });

  it('a follower resuming from a Last-Event-ID gets exactly the rest', async () => {
    const first = await follow(id, { markers: true, stopAfterChars: 30_000 });
    const last = first.ids[first.ids.length - 1];
    expect(last).toBeDefined();
    const rest = await follow(id, { markers: true, lastEventId: last?.id });
    expect(rest.ended).toBe(true);
    expect(first.text.slice(0, last?.at) + rest.text).toBe(marked);
  });

  it('refuses a Last-Event-ID it did not write, and bad flags, with 400', async () => {
    const bad = await apiFetch(t, `/v1/jobs/${id}/logs?follow=1`, {
      headers: { authorization: `Bearer ${ADMIN}`, 'last-event-id': '1.2.0.ff' },
    });
    expect(bad.status).toBe(400);
    expect((await http(t, 'GET', `/v1/jobs/${id}/logs?markers=yes`)).status).toBe(400);
  });
});

describe('JR_MAX_LOG_BYTES', () => {
  beforeAll(() => useApi({ JR_MAX_LOG_BYTES: '64KiB' }));

  it('stores at most the cap per job over all attempts, cut on a character with one marker line; the agent is never refused', async () => {
    const c = await agent('cap');
    const id = await submit({ pool: 'cap', retries: 1, steps: [{ run: 'spew' }] });
    const line = `${'é'.repeat(499)}\n`; // 999 bytes
    const first = await lease(c);
    await report(
      c,
      first,
      Array.from({ length: 40 }, (_, i) => logEvent(i + 1, 0, line)),
    );
    await c.call('Complete', { ...first, outcome: 'OUTCOME_FAILED', exitCode: 1 });
    const second = await lease(c);
    const events = Array.from({ length: 40 }, (_, i) => logEvent(i + 1, 0, line));
    await report(c, second, events);
    await report(c, second, events); // a repeat (the agent retried): counted once
    expect(await c.call('Report', { ...second, events: [logEvent(41, 0, 'more after the cap\n')] })).toEqual({
      ackedSeq: 41,
    });
    await c.call('Complete', { ...second, outcome: 'OUTCOME_SUCCEEDED', exitCode: 0 });
    await stateIs(id, 'succeeded');

    const text = (await http(t, 'GET', `/v1/jobs/${id}/logs`)).text;
    const marker = "\n--- output truncated: the job's log reached JR_MAX_LOG_BYTES (65536 bytes) ---\n";
    expect(text.split(marker)).toHaveLength(2); // exactly once
    expect(text.endsWith(marker)).toBe(true);
    expect(text).not.toContain('more after the cap');
    expect(text).not.toContain('\ufffd'); // the cut did not split an 'é'
    const body = text.replace('--- attempt 2 ---\n', '').replace(marker, '');
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(65_536);
    expect(Buffer.byteLength(body)).toBeGreaterThan(65_536 - 4);
    expect(text.indexOf(marker)).toBeGreaterThan(text.indexOf('--- attempt 2 ---'));
    const pg = new Client({ connectionString: t.db.url });
    await pg.connect();
    try {
      const row = await pg.query<{ log_bytes: string; log_truncated: boolean }>(
        'SELECT log_bytes, log_truncated FROM jobs WHERE id = $1',
        [id],
      );
      expect(row.rows[0]).toEqual({ log_bytes: String(Buffer.byteLength(body)), log_truncated: true });
    } finally {
      await pg.end();
    }
  });
});
