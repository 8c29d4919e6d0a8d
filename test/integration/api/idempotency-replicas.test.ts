import Redis from 'ioredis';
import { Client } from 'pg';
import { FaultProxy, testRedisUrl, waitFor } from '@jr/testing';
import { keyDigest } from '../../../apps/api/src/intake/idempotency-reservations';
import { requestHash } from '../../../apps/api/src/intake/intake-record';
import { parseJobSpec } from '@jr/contracts';
import { http, startTestApi, startTestReplica, type HttpResult, type TestApi } from './harness';

let a: TestApi;
let b: TestApi;
let redis: Redis;
let pg: Client;
/** Every id a replica acknowledged (202 or 200): each must be readable on both replicas in the end. */
const acknowledged = new Set<string>();

beforeAll(async () => {
  a = await startTestApi();
  b = await startTestReplica(a);
  redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: 1 });
  pg = new Client({ connectionString: a.db.url });
  await pg.connect();
});

afterAll(async () => {
  await pg?.end();
  redis?.disconnect();
  await b?.cleanup();
  await a?.cleanup();
});

const job = { name: 'replicated', steps: [{ run: 'true' }] };
let run = 0;
const unique = (name: string): string => `${name}-${++run}-${Date.now()}`;

async function submit(r: TestApi, key: string, body: unknown = job): Promise<HttpResult> {
  const res = await http(r, 'POST', '/v1/jobs', { body, headers: { 'idempotency-key': key } });
  if (res.status === 200 || res.status === 202) acknowledged.add(res.json.id as string);
  return res;
}

/** Both replicas at the same moment, A first in each pair: their answers. */
function both(key: string, body: unknown = job): Promise<HttpResult[]> {
  return Promise.all([a, b].map((r) => submit(r, key, body)));
}

async function jobsWithKey(key: string): Promise<number> {
  const res = await pg.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs WHERE idempotency_key = $1', [key]);
  return res.rows[0]?.n ?? 0;
}

async function redisNowMs(): Promise<number> {
  const [s, us] = await redis.time();
  return Number(s) * 1_000 + Math.floor(Number(us) / 1_000);
}

function hashOf(body: unknown): string {
  const parsed = parseJobSpec(body);
  if (!parsed.ok) throw new Error('bad job');
  return requestHash(parsed.job);
}

function expectOneIdOneAcceptance(answers: HttpResult[]): void {
  const [x, y] = answers as [HttpResult, HttpResult];
  expect(x.json.id).toMatch(/^j_/);
  expect(y.json.id).toBe(x.json.id);
  expect([x.status, y.status].sort()).toEqual([200, 202]);
}

it('30 keys, each sent to both replicas at once: one id per key, one 202 and one 200, one job', async () => {
  const keys = Array.from({ length: 30 }, (_, i) => unique(`both-${i}`));
  const answers = await Promise.all(keys.map((key) => both(key)));
  const split = answers.filter(([x, y]) => x?.json.id !== y?.json.id).length;
  const both202 = answers.filter(([x, y]) => x?.status === 202 && y?.status === 202).length;
  process.stderr.write(`idempotency across replicas: ${split} of 30 keys got two ids, ${both202} both 202\n`);
  for (const pair of answers) expectOneIdOneAcceptance(pair);
  // a later retry of an acknowledged key, to either replica: 200, the same id
  for (const [i, key] of keys.entries()) {
    const again = await submit(i % 2 === 0 ? a : b, key);
    expect(again).toMatchObject({ status: 200, json: { id: answers[i]?.[0]?.json.id } });
  }
  await waitFor(async () => (await Promise.all(keys.map(jobsWithKey))).every((n) => n === 1), {
    what: 'one job row per key',
  });
  const aliases = await pg.query<{ n: number }>('SELECT count(*)::int AS n FROM job_aliases');
  expect(aliases.rows[0]?.n).toBe(0);
});

it('a different body under a key the other replica acknowledged is a 409 there', async () => {
  const key = unique('conflict');
  expect((await submit(a, key)).status).toBe(202);
  const other = await http(b, 'POST', '/v1/jobs', {
    body: { name: 'other', steps: [{ run: 'false' }] },
    headers: { 'idempotency-key': key },
  });
  expect(other).toMatchObject({ status: 409, json: { code: 'CONFLICT' } });
});

it('hostile keys: the longest key, Redis-looking and URL-looking ones work across replicas; bad ones are 400 on both', async () => {
  const hostile = [
    'k'.repeat(200),
    `pending:j_00000000000000000000000000:${'0'.repeat(64)}:x:1`,
    `j_00000000000000000000000000:${'f'.repeat(64)}`,
    ' spaces, "quotes", \\backslash\\ and %2F%00 ',
    `*?[]{}${unique('glob')}`,
  ];
  for (const key of hostile) expectOneIdOneAcceptance(await both(key));
  for (const bad of ['k'.repeat(201), 'clé-ünïcödé', 'tab\there', '']) {
    for (const r of [a, b]) {
      const res = await http(r, 'POST', '/v1/jobs', { body: job, headers: { 'idempotency-key': bad } });
      expect(res.status).toBe(400);
    }
  }
});

it('a reservation left pending by a dead replica is taken over once stale; the job is accepted once', async () => {
  const key = unique('dead-replica');
  const deadId = 'j_00000000000000000000000001';
  // the dead replica reserved 10 s ago (by Redis' clock) and never journaled
  await redis.set(
    `${a.prefix}:idem:${keyDigest(key)}`,
    `pending:${deadId}:${hashOf(job)}:dead-replica-1:${(await redisNowMs()) - 10_000}`,
  );
  const taken = await submit(b, key);
  expect(taken.status).toBe(202);
  expect(taken.json.id).not.toBe(deadId);
  expect(await submit(a, key)).toMatchObject({ status: 200, json: { id: taken.json.id } });
  await waitFor(async () => (await jobsWithKey(key)) === 1, { what: 'the job row' });
  expect((await http(a, 'GET', `/v1/jobs/${deadId}`)).status).toBe(404);
});

it('a pending reservation that turns stale while a request waits for it is taken over by that request', async () => {
  const key = unique('turns-stale');
  // 4.5 s old: not stale yet when the request arrives, stale within its wait
  await redis.set(
    `${a.prefix}:idem:${keyDigest(key)}`,
    `pending:j_00000000000000000000000002:${hashOf(job)}:dead-replica-2:${(await redisNowMs()) - 4_500}`,
  );
  const answers = await both(key);
  expectOneIdOneAcceptance(answers);
  await waitFor(async () => (await jobsWithKey(key)) === 1, { what: 'the job row' });
});

it('a reservation still pending after the wait (its replica alive but slow) is a 503 with Retry-After; the retry is accepted', async () => {
  const key = unique('slow-replica');
  const redisKey = `${a.prefix}:idem:${keyDigest(key)}`;
  await redis.set(redisKey, `pending:j_00000000000000000000000003:${hashOf(job)}:slow-replica:${await redisNowMs()}`);
  const busy = await http(a, 'POST', '/v1/jobs', { body: job, headers: { 'idempotency-key': key } });
  expect(busy).toMatchObject({ status: 503, json: { code: 'NOT_ACCEPTING' } });
  expect(Number(busy.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  // the slow replica gave up (its journal refused): the key is free again
  await redis.del(redisKey);
  expect((await submit(a, key)).status).toBe(202);
});

describe('a replica whose Redis is unreachable', () => {
  let proxy: FaultProxy;
  let c: TestApi;

  beforeAll(async () => {
    const target = new URL(testRedisUrl());
    proxy = await FaultProxy.start({ host: target.hostname, port: Number(target.port || 6379) });
    target.host = proxy.address;
    c = await startTestReplica(a, { REDIS_URL: target.toString() });
  });

  afterAll(async () => {
    proxy?.setMode({ kind: 'pass' });
    await c?.cleanup();
    await proxy?.close();
  });

  it('still accepts keyed submissions (checked on that replica and in Postgres), and counts them', async () => {
    const warm = unique('through-proxy');
    const warmed = await submit(c, warm);
    expect(warmed.status).toBe(202);
    expect(await submit(b, warm)).toMatchObject({ status: 200, json: { id: warmed.json.id } });
    proxy.setMode({ kind: 'blackhole' });
    const keys = Array.from({ length: 3 }, (_, i) => unique(`blackholed-${i}`));
    for (const key of keys) {
      const first = await submit(c, key);
      expect(first.status).toBe(202);
      // a repeat on the same replica is answered from its own journal's index
      expect(await submit(c, key)).toMatchObject({ status: 200, json: { id: first.json.id } });
    }
    const metrics = await http(c, 'GET', '/metrics');
    const unavailable = /^jr_idempotency_reservations_total\{outcome="unavailable"\} (\d+)$/m.exec(metrics.text);
    expect(Number(unavailable?.[1] ?? 0)).toBeGreaterThanOrEqual(keys.length);
    proxy.setMode({ kind: 'pass' });
    await waitFor(async () => (await Promise.all(keys.map(jobsWithKey))).every((n) => n === 1), {
      what: 'the blackholed replica’s jobs in Postgres',
    });
    // applied: every replica answers the key from Postgres
    for (const key of keys) expect((await submit(a, key)).status).toBe(200);
  });
});

it('every acknowledged id is visible on both replicas', async () => {
  expect(acknowledged.size).toBeGreaterThan(40);
  for (const id of acknowledged) {
    for (const r of [a, b]) {
      const view = await waitFor(
        async () => {
          const v = await http(r, 'GET', `/v1/jobs/${id}`);
          return v.status === 200 ? v : undefined;
        },
        { what: `job ${id} on ${r.baseUrl}` },
      );
      expect(view.json.id).toBe(id);
    }
  }
});
