/* eslint-disable @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- HTTP answers' JSON bodies are untyped in these tests */
import { Queue } from 'bullmq';
import { Client } from 'pg';
import { LIMITS } from '@jr/contracts';
import { testRedisUrl, waitFor } from '@jr/testing';
import { MetricsCollectors } from '../../../apps/api/src/telemetry/metrics-collectors.service';
import { http, startTestApi, type TestApi } from './harness';

const job = { name: 'hello', steps: [{ run: 'echo hi' }] };
let t: TestApi;
let pg: Client;

beforeAll(async () => {
  t = await startTestApi();
  pg = new Client({ connectionString: t.db.url });
  await pg.connect();
});

afterAll(async () => {
  await pg?.end();
  await t?.cleanup();
});

describe('POST /v1/jobs', () => {
  it('answers 202 {id, state} and the job is in Postgres and in the pool queue in BullMQ', async () => {
    const r = await http(t, 'POST', '/v1/jobs', { body: { ...job, pool: 'builds', labels: { os: 'linux' } } });
    expect(r.status).toBe(202);
    expect(r.json).toEqual({ id: expect.stringMatching(/^j_[0-9a-z]{26}$/), state: 'queued' });
    const row = await waitFor(
      async () => (await pg.query('SELECT state, pool, labels, rounds FROM jobs WHERE id = $1', [r.json.id])).rows[0],
      { what: 'the row' },
    );
    expect(row).toEqual({ state: 'queued', pool: 'builds', labels: { os: 'linux' }, rounds: 1 });
    const queue = new Queue('pool-builds', { connection: { url: testRedisUrl() }, prefix: t.prefix });
    try {
      const bull = await waitFor(() => queue.getJob(`${r.json.id}-r1`), { what: 'the BullMQ job' });
      expect(bull?.data).toEqual({
        jobId: r.json.id,
        pool: 'builds',
        labels: { os: 'linux' },
        queuedAtMs: expect.any(Number),
      });
    } finally {
      await queue.close();
    }
  });

  it('dedups on Idempotency-Key: same key => same id and 200; a different body => 409', async () => {
    const first = await http(t, 'POST', '/v1/jobs', { body: job, headers: { 'idempotency-key': 'deploy-42' } });
    expect(first.status).toBe(202);
    const again = await http(t, 'POST', '/v1/jobs', {
      body: { steps: [{ run: 'echo hi' }], name: 'hello' },
      headers: { 'idempotency-key': 'deploy-42' },
    });
    expect(again.status).toBe(200);
    expect(again.json.id).toBe(first.json.id);
    const other = await http(t, 'POST', '/v1/jobs', {
      body: { steps: [{ run: 'echo bye' }] },
      headers: { 'idempotency-key': 'deploy-42' },
    });
    expect(other.status).toBe(409);
    expect(other.json).toMatchObject({
      status: 409,
      type: expect.any(String),
      title: expect.any(String),
      detail: expect.stringContaining(first.json.id),
    });
    // the relay applies the journaled submission moments after the 202: exactly one row for the key
    const count = async () =>
      (await pg.query(`SELECT count(*)::int AS n FROM jobs WHERE idempotency_key = 'deploy-42'`)).rows[0].n as number;
    await waitFor(async () => (await count()) === 1, { what: 'the keyed job in Postgres' });
    const later = await http(t, 'POST', '/v1/jobs', { body: job, headers: { 'idempotency-key': 'deploy-42' } });
    expect(later).toMatchObject({ status: 200, json: { id: first.json.id } });
    expect(await count()).toBe(1);
  });

  it('dedups concurrent submissions with one key', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        http(t, 'POST', '/v1/jobs', { body: job, headers: { 'idempotency-key': 'burst-1' } }),
      ),
    );
    const ids = new Set(results.map((r) => r.json.id));
    expect(ids.size).toBe(1);
    expect(results.every((r) => r.status === 200 || r.status === 202)).toBe(true);
  });

  it.each([
    ['malformed JSON', '{"steps": [', 'application/json', 'malformed JSON'],
    ['a JSON string', '"steps"', 'application/json', 'invalid job'],
    ['a wrong content type', JSON.stringify(job), 'text/plain', 'Content-Type'],
    ['no content type', JSON.stringify(job), '', 'Content-Type'],
  ])('refuses %s with a 400 problem', async (_what, raw, type, detail) => {
    const headers: Record<string, string> = type ? { 'content-type': type } : {};
    const r = await http(t, 'POST', '/v1/jobs', { raw, headers });
    expect(r.status).toBe(400);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
    expect(r.json.detail).toContain(detail);
  });

  it.each([
    ['unknown fields', { ...job, colour: 'red' }, '(root)'],
    ['wrong types', { steps: [{ run: 42 }], retries: 'two' }, 'retries'],
    ['no steps', { name: 'x' }, 'steps'],
    ['an empty body', undefined, '(root)'],
    ['a hostile env key', { steps: [{ run: 'true' }], env: { JR_JOB_ID: 'x' } }, 'env.JR_JOB_ID'],
  ])('refuses %s with 400 and errors[]', async (_what, body, path) => {
    const r =
      body === undefined
        ? await http(t, 'POST', '/v1/jobs', { headers: { 'content-type': 'application/json' } })
        : await http(t, 'POST', '/v1/jobs', { body });
    expect(r.status).toBe(400);
    expect(r.json.errors.map((e: { path: string }) => e.path)).toContain(path);
  });

  it('refuses a bad Idempotency-Key', async () => {
    const r = await http(t, 'POST', '/v1/jobs', { body: job, headers: { 'idempotency-key': 'k'.repeat(201) } });
    expect(r.status).toBe(400);
  });

  it('refuses an oversized body with 413', async () => {
    const big = { steps: [{ run: 'x'.repeat(LIMITS.maxBodyBytes) }] };
    const r = await http(t, 'POST', '/v1/jobs', { body: big });
    expect(r.status).toBe(413);
    expect(r.json).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
  });

  it('refuses without a token, with a wrong token, and with another scheme (401)', async () => {
    for (const opts of [
      { token: null },
      { token: 'wrong' },
      { token: null, headers: { authorization: `Basic ${ADMIN_B64}` } },
    ]) {
      const r = await http(t, 'POST', '/v1/jobs', { ...opts, body: job });
      expect(r.status).toBe(401);
      expect(r.json).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
    }
    expect((await http(t, 'GET', '/v1/jobs', { token: null })).status).toBe(401);
    expect((await http(t, 'GET', '/v1/agents', { token: 'nope' })).status).toBe(401);
  });
});

const ADMIN_B64 = Buffer.from('admin:admin').toString('base64');

describe('reading and cancelling jobs', () => {
  it('GET /v1/jobs/:id shows the job; unknown and malformed ids are 404 problems', async () => {
    const { json } = await http(t, 'POST', '/v1/jobs', { body: { ...job, retries: 2, timeout: '5m' } });
    const r = await http(t, 'GET', `/v1/jobs/${json.id}`);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      id: json.id,
      state: 'queued',
      pool: 'default',
      labels: {},
      attempts: [],
      exitCode: null,
      spec: { retries: 2, timeoutMs: 300_000 },
    });
    expect(Date.parse(r.json.createdAt)).not.toBeNaN();
    for (const id of ['j_00000000000000000000000000', 'nope', '%00', 'j_' + 'z'.repeat(300)]) {
      const missing = await http(t, 'GET', `/v1/jobs/${id}`);
      expect(missing.status).toBe(404);
      expect(missing.json.status).toBe(404);
    }
  });

  it('lists newest first, pages with an opaque cursor, filters by state and pool', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push((await http(t, 'POST', '/v1/jobs', { body: { ...job, pool: 'paging' } })).json.id);
    const page1 = await http(t, 'GET', '/v1/jobs?pool=paging&limit=2');
    expect(page1.json.items.map((j: { id: string }) => j.id)).toEqual([ids[2], ids[1]]);
    const page2 = await http(t, 'GET', `/v1/jobs?pool=paging&limit=2&cursor=${page1.json.nextCursor}`);
    expect(page2.json.items.map((j: { id: string }) => j.id)).toEqual([ids[0]]);
    expect(page2.json.nextCursor).toBeNull();
    const queued = await http(t, 'GET', '/v1/jobs?state=queued&pool=paging');
    expect(queued.json.items).toHaveLength(3);
    for (const q of ['limit=0', 'limit=501', 'limit=abc', 'state=bogus', 'pool=A:B', 'cursor=!!!']) {
      expect((await http(t, 'GET', `/v1/jobs?${q}`)).status).toBe(400);
    }
  });

  it('cancels a queued job at once, then 409 when already terminal; 404 when unknown', async () => {
    const { json } = await http(t, 'POST', '/v1/jobs', { body: job });
    const r = await http(t, 'POST', `/v1/jobs/${json.id}/cancel`);
    expect(r.status).toBe(202);
    expect(r.json).toEqual({ id: json.id, state: 'cancelled' });
    expect((await http(t, 'GET', `/v1/jobs/${json.id}`)).json).toMatchObject({
      state: 'cancelled',
      reason: 'cancelled',
    });
    expect((await http(t, 'POST', `/v1/jobs/${json.id}/cancel`)).status).toBe(409);
    expect((await http(t, 'POST', '/v1/jobs/j_00000000000000000000000000/cancel')).status).toBe(404);
  });

  it('serves logs of a job without output as empty text', async () => {
    const { json } = await http(t, 'POST', '/v1/jobs', { body: job });
    const r = await http(t, 'GET', `/v1/jobs/${json.id}/logs`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/plain');
    expect(r.text).toBe('');
  });
});

describe('health, metrics, unknown routes', () => {
  it('healthz and readyz need no token; readyz reports each dependency', async () => {
    expect(await http(t, 'GET', '/healthz', { token: null })).toMatchObject({ status: 200, json: { status: 'ok' } });
    const ready = await http(t, 'GET', '/readyz', { token: null });
    expect(ready.status).toBe(200);
    expect(ready.json).toMatchObject({
      ready: true,
      dependencies: { journal: { up: true }, redis: { up: true }, postgres: { up: true } },
    });
  });

  it('exposes Prometheus metrics', async () => {
    // the Postgres-fed gauges are refreshed in the background (JR_METRICS_REFRESH_INTERVAL): one refresh now
    await t.api.app.get(MetricsCollectors).refresh();
    const r = await http(t, 'GET', '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(r.text).toMatch(/^jr_jobs_submitted_total\{pool="[^"]+"\} [1-9]\d*$/m);
    expect(r.text).toMatch(/^jr_jobs_finished_total\{pool="[^"]+",state="cancelled"\} [1-9]\d*$/m);
    // a job cancelled while queued ended too: its time from submission to the end is a job duration
    expect(r.text).toMatch(/^jr_job_duration_seconds_count\{pool="[^"]+",state="cancelled"\} [1-9]\d*$/m);
    expect(r.text).toContain('# TYPE jr_fleet_agents gauge'); // (series per pool once agents enroll)
    expect(r.text).toMatch(/^jr_queue_depth\{pool="[^"]+"\} \d+$/m);
    expect(r.text).toMatch(
      /^jr_http_request_duration_seconds_count\{method="POST",route="\/v1\/jobs",status="202"\} [1-9]\d*$/m,
    );
    expect(r.text).toMatch(/^jr_dependency_up\{dependency="postgres"\} 1$/m);
    expect(r.text).toContain(`route="/v1/jobs/:id"`);
    expect(r.text).not.toMatch(/route="[^"]*j_[0-9a-z]{26}/); // never a raw URL
  });

  it('answers unknown routes with a 404 problem, not HTML', async () => {
    const r = await http(t, 'GET', '/nope');
    expect(r.status).toBe(404);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
    expect(r.text).not.toContain('<');
  });

  it('still answers after all of that', async () => {
    const r = await http(t, 'POST', '/v1/jobs', { body: job });
    expect(r.status).toBe(202);
  });
});
