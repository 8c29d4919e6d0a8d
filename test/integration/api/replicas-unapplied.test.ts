import Redis from 'ioredis';
import { FaultProxy, testRedisUrl, testServerUrl, waitFor } from '@jr/testing';
import { http, startTestApi, startTestReplica, type HttpResult, type TestApi } from './harness';

// A job replica C acknowledged but cannot apply (C is cut off from Postgres) must not be "404 unknown"
// on replica B: a client failing over from C to B (the CLI with an endpoint list) would take it as
// final. B answers 503 (retry) while C holds the job, and acts on it once it is stored.
let proxy: FaultProxy;
let redis: Redis;
let b: TestApi;
let c: TestApi;

beforeAll(async () => {
  const server = new URL(testServerUrl());
  proxy = await FaultProxy.start({ host: server.hostname || '127.0.0.1', port: Number(server.port || 5432) });
  redis = new Redis(testRedisUrl());
  b = await startTestApi();
  c = await startTestReplica(b, {}, { databaseUrl: via });
});

afterAll(async () => {
  proxy?.setMode({ kind: 'pass' });
  await c?.cleanup();
  await b?.cleanup();
  await proxy?.close();
  redis?.disconnect();
});

function via(testDbUrl: string): string {
  const u = new URL(testDbUrl);
  u.hostname = '127.0.0.1';
  u.port = String(proxy.port);
  return u.toString();
}

const job = { name: 'held-elsewhere', pool: 'nowhere', steps: [{ run: 'true' }] };

async function submit(t: TestApi): Promise<string> {
  const res = await http(t, 'POST', '/v1/jobs', { body: job });
  expect(res.status).toBe(202);
  return res.json.id as string;
}

const unappliedOf = (t: TestApi): Promise<string[]> => redis.hkeys(`${t.prefix}:unapplied:${t.config.replicaId}`);

async function poolToken(pool: string): Promise<string> {
  const r = await http(b, 'POST', '/v1/tokens', { body: { scopes: ['jobs:read', 'jobs:cancel'], pool } });
  expect(r.status).toBe(201);
  return r.json.token as string;
}

/** Redis drops C's directory connection, as a restart or failover of Redis would. */
async function killDirectoryConnection(t: TestApi): Promise<void> {
  const clients = (await redis.client('LIST')) as string;
  const ids = clients
    .split('\n')
    .filter((line) => line.includes(` name=jr-unapplied:${t.config.replicaId} `))
    .map((line) => /\bid=(\d+)/.exec(line)?.[1]);
  expect(ids.length).toBeGreaterThan(0);
  for (const id of ids) await redis.client('KILL', 'ID', id!);
}

function expectRetryLater(res: HttpResult): void {
  expect(res.status).toBe(503);
  expect(res.json.code).toBe('DEPENDENCY_DOWN');
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
}

it('an id no replica knows is 404 on every replica, at once', async () => {
  for (const t of [b, c]) {
    for (const url of ['/v1/jobs/j_00000000000000000000000009', '/v1/jobs/j_00000000000000000000000009/logs']) {
      expect((await http(t, 'GET', url)).status).toBe(404);
    }
    expect((await http(t, 'POST', '/v1/jobs/j_00000000000000000000000009/cancel')).status).toBe(404);
  }
});

it('a job C holds unapplied is 503 on B (read, logs, cancel), not 404; once stored, B reads and cancels it', async () => {
  const applied = await submit(c);
  await waitFor(async () => (await http(b, 'GET', `/v1/jobs/${applied}`)).status === 200, { what: 'relayed job on B' });
  await waitFor(async () => !(await unappliedOf(c)).includes(applied), { what: "applied id removed from C's set" });

  proxy.setMode({ kind: 'reset' }); // C cannot reach Postgres; its journal holds what it acknowledges
  const held = await submit(c);
  expect(await unappliedOf(c)).toContain(held);
  // it expires if C never comes back (a hash an empty resync deleted is created by this write, TTL and all)
  expect(await redis.pttl(`${c.prefix}:unapplied:${c.config.replicaId}`)).toBeGreaterThan(86_400_000);
  expect(await http(c, 'GET', `/v1/jobs/${held}`)).toMatchObject({ status: 200, json: { state: 'queued' } });

  const read = await http(b, 'GET', `/v1/jobs/${held}`);
  expectRetryLater(read);
  expect(read.json.detail).toContain(c.config.replicaId);
  expectRetryLater(await http(b, 'GET', `/v1/jobs/${held}/logs`));
  // a token of another pool learns nothing of it, exactly as of an id that does not exist; its own pool's does
  const other = await poolToken('elsewhere');
  for (const [method, url] of [
    ['GET', `/v1/jobs/${held}`],
    ['GET', `/v1/jobs/${held}/logs`],
    ['POST', `/v1/jobs/${held}/cancel`],
  ] as const)
    expect((await http(b, method, url, { token: other })).status).toBe(404);
  expectRetryLater(await http(b, 'GET', `/v1/jobs/${held}`, { token: await poolToken(job.pool) }));
  expectRetryLater(await http(b, 'POST', `/v1/jobs/${held}/cancel`)); // after waiting for the job (10 s)

  // a cancel on B waiting while C gets Postgres back: it acts on the job once C's relay stored it
  const cancel = http(b, 'POST', `/v1/jobs/${held}/cancel`);
  proxy.setMode({ kind: 'pass' });
  expect(await cancel).toMatchObject({ status: 202, json: { id: held, state: 'cancelled' } });
  expect(await http(b, 'GET', `/v1/jobs/${held}`)).toMatchObject({ status: 200, json: { state: 'cancelled' } });
  await waitFor(async () => (await unappliedOf(c)).length === 0, { what: "C's set emptied by its relay" });
}, 60_000);

it("C's set is rewritten from its journal after Redis lost it (a flush, a failover)", async () => {
  proxy.setMode({ kind: 'reset' });
  const held = await submit(c);
  await redis.del(`${c.prefix}:unapplied:${c.config.replicaId}`);
  expect((await http(b, 'GET', `/v1/jobs/${held}`)).status).toBe(404); // the window this test proves closes
  await killDirectoryConnection(c); // a reconnect rewrites the set (so do start-up and the minute's resync)
  await waitFor(async () => (await unappliedOf(c)).includes(held), { what: "C's set rewritten on reconnect" });
  expectRetryLater(await http(b, 'GET', `/v1/jobs/${held}`));
  proxy.setMode({ kind: 'pass' });
  await waitFor(async () => (await http(b, 'GET', `/v1/jobs/${held}`)).status === 200, { what: 'job stored' });
}, 60_000);
