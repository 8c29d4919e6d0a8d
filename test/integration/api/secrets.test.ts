/* eslint-disable @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- HTTP answers' JSON bodies are untyped in these tests */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import pino from 'pino';
import { Client } from 'pg';
import { waitFor } from '@jr/testing';
import { startApi } from '../../../apps/api/src/api';
import { parseSecretKeys } from '../../../apps/api/src/secrets/secret-box';
import { AgentClient, http, startTestApi, type TestApi } from './harness';

// Job secrets through a real API, Postgres, Redis and gRPC: sealed in the journal and in Postgres, shown
// by name only, opened in the lease; keys rotate; an altered or foreign ciphertext fails the job without
// handing it out; without a key a job with secrets is refused.
const K1 = `k1:${randomBytes(32).toString('base64')}`;
const K2 = `k2:${randomBytes(32).toString('base64')}`;

let t: TestApi;
let pg: Client;
const clients: AgentClient[] = [];

interface Assignment {
  jobId: string;
  secrets: Record<string, string>;
}

function agent(): AgentClient {
  const c = new AgentClient(t.grpcAddress);
  clients.push(c);
  return c;
}

const value = (): string => `v-${randomBytes(12).toString('base64url')}/ü+"`;

async function submit(body: object, key?: string): Promise<{ status: number; id: string; text: string }> {
  const r = await http(t, 'POST', '/v1/jobs', { body, headers: key ? { 'idempotency-key': key } : {} });
  return { status: r.status, id: r.json?.id as string, text: r.text };
}

/** The job's row once the relay applied it. */
async function stored(id: string): Promise<{ spec: unknown; secrets: Record<string, string> | null }> {
  return waitFor(async () => (await pg.query('SELECT spec, secrets FROM jobs WHERE id = $1', [id])).rows[0], {
    what: `job ${id} in Postgres`,
  });
}

/** Leases until `id` is handed out (other queued jobs of the test are taken along). */
async function leaseJob(c: AgentClient, id: string): Promise<Assignment> {
  return waitFor(
    async () => {
      const r = await c.call<{ assignments: Assignment[] }>('Lease', { freeSlots: 1, waitMs: 1_000 });
      return r.assignments.find((a) => a.jobId === id);
    },
    { what: `a lease of ${id}` },
  );
}

async function restartWithKeys(keys: string): Promise<void> {
  await t.api.stop();
  const parsed = parseSecretKeys(keys);
  if (!parsed.ok) throw new Error(parsed.message);
  t.config = { ...t.config, secretsKeys: parsed.keys };
  t.api = await startApi(t.config, { clock: t.clock, logger: pino({ level: 'silent' }) });
}

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? filesUnder(p) : e.isFile() ? [p] : [];
  });
}

beforeAll(async () => {
  t = await startTestApi({ JR_SECRETS_KEY: K1 });
  pg = new Client({ connectionString: t.db.url });
  await pg.connect();
});

afterAll(async () => {
  for (const c of clients) c.close();
  await pg?.end();
  await t?.cleanup();
});

describe('job secrets in the API', () => {
  it('are sealed in the journal and Postgres, shown by name only, and opened in the lease', async () => {
    const token = value();
    const body = { env: { STAGE: 'prod' }, secrets: { DEPLOY_TOKEN: token }, steps: [{ run: 'true' }] };
    const first = await submit(body, 'secret-key-1');
    expect(first.status).toBe(202);
    // same key, same body: the same job; same key, another value: a conflict (the hash covers the value)
    expect(await submit(body, 'secret-key-1')).toMatchObject({ status: 200, id: first.id });
    const other = await submit({ ...body, secrets: { DEPLOY_TOKEN: value() } }, 'secret-key-1');
    expect(other.status).toBe(409);
    expect(other.text).not.toContain(token);

    const row = await stored(first.id);
    expect(row.spec).toMatchObject({ secrets: ['DEPLOY_TOKEN'] });
    expect(row.secrets?.DEPLOY_TOKEN).toMatch(/^jrs1\.k1\./);
    const view = await http(t, 'GET', `/v1/jobs/${first.id}`);
    expect(view.json.spec.secrets).toEqual(['DEPLOY_TOKEN']);
    const list = await http(t, 'GET', '/v1/jobs?limit=50');
    for (const r of [view, list, first]) expect(r.text).not.toContain(token);
    for (const file of filesUnder(t.dataDir))
      expect({ file, found: fs.readFileSync(file).includes(token) }).toEqual({ file, found: false });
    const hash = (await pg.query('SELECT request_hash FROM jobs WHERE id = $1', [first.id])).rows[0].request_hash;
    expect(hash).toMatch(/^hmac:[0-9a-f]{64}$/);

    const c = agent();
    await c.enroll();
    const a = await leaseJob(c, first.id);
    expect(a.secrets).toEqual({ DEPLOY_TOKEN: token });
  });

  it('refuses short values, names also in env, and never repeats the value in the 400', async () => {
    const short = await http(t, 'POST', '/v1/jobs', { body: { secrets: { A: 'abc12' }, steps: [{ run: 'true' }] } });
    expect(short.status).toBe(400);
    expect(short.json.errors).toEqual([{ path: 'secrets.A', message: expect.stringMatching(/at least 6/) }]);
    expect(short.text).not.toContain('abc12');
    const both = await http(t, 'POST', '/v1/jobs', {
      body: { env: { X: 'a' }, secrets: { X: 'long-enough' }, steps: [{ run: 'true' }] },
    });
    expect(both.status).toBe(400);
    expect(both.json.errors[0].path).toBe('secrets.X');
    expect(both.text).not.toContain('long-enough');
  });

  it('a rotated key still opens what the old one sealed; a key no longer configured fails the job, nothing is handed out', async () => {
    const old = value();
    const sealedOld = await submit({ name: 'old', secrets: { S: old }, steps: [{ run: 'true' }] });
    await stored(sealedOld.id);
    await restartWithKeys(`${K2},${K1}`);
    const fresh = value();
    const sealedNew = await submit({ name: 'new', secrets: { S: fresh }, steps: [{ run: 'true' }] });
    expect((await stored(sealedNew.id)).secrets?.S).toMatch(/^jrs1\.k2\./);
    const c = agent();
    await c.enroll({ name: 'rotation' });
    expect((await leaseJob(c, sealedOld.id)).secrets).toEqual({ S: old });
    expect((await leaseJob(c, sealedNew.id)).secrets).toEqual({ S: fresh });

    const orphan = await submit({ name: 'orphan', secrets: { S: value() }, steps: [{ run: 'true' }] });
    await stored(orphan.id);
    await restartWithKeys(K2.replace('k2:', 'k3:'));
    await expectRefusedAtLease(orphan.id, 'rotation-2');
  });

  it('an altered, foreign or deleted ciphertext fails the job safe with secrets_unreadable', async () => {
    const a = await submit({ name: 'a', secrets: { S: value() }, steps: [{ run: 'true' }] });
    const b = await submit({ name: 'b', secrets: { S: value() }, steps: [{ run: 'true' }] });
    const gone = await submit({ name: 'gone', secrets: { S: value() }, steps: [{ run: 'true' }] });
    await stored(gone.id);
    // the spec still names S: running without it would run with a wrong (empty) secret
    await pg.query('UPDATE jobs SET secrets = NULL WHERE id = $1', [gone.id]);
    const sealedA = (await stored(a.id)).secrets?.S ?? '';
    await stored(b.id);
    // one bit of the ciphertext flipped (the last character of the body is part of the GCM tag)
    const body = sealedA.split('.');
    const last = body[3] ?? '';
    body[3] = `${last.slice(0, 10)}${last[10] === 'A' ? 'B' : 'A'}${last.slice(11)}`;
    await pg.query(`UPDATE jobs SET secrets = jsonb_build_object('S', $2::text) WHERE id = $1`, [a.id, body.join('.')]);
    // b gets a's (intact) ciphertext: bound to a's id, it does not open for b
    await pg.query(`UPDATE jobs SET secrets = jsonb_build_object('S', $2::text) WHERE id = $1`, [b.id, sealedA]);
    await expectRefusedAtLease(a.id, 'tamper-1');
    await expectRefusedAtLease(b.id, 'tamper-2');
    await expectRefusedAtLease(gone.id, 'tamper-3');
  });
});

/** The job fails `secrets_unreadable` while an agent leases, and that agent is never handed it. */
async function expectRefusedAtLease(id: string, agentName: string): Promise<void> {
  const c = agent();
  await c.enroll({ name: agentName });
  const handed: string[] = [];
  const view = await waitFor(
    async () => {
      const r = await c.call<{ assignments: Assignment[] }>('Lease', { freeSlots: 1, waitMs: 500 });
      handed.push(...r.assignments.map((x) => x.jobId));
      const v = (await http(t, 'GET', `/v1/jobs/${id}`)).json;
      return v.state === 'failed' ? v : undefined;
    },
    { what: `job ${id} to fail at lease` },
  );
  expect(view.reason).toBe('secrets_unreadable');
  expect(view.attempts.map((x: { state: string }) => x.state)).toEqual(['failed']);
  expect(handed).not.toContain(id);
}

describe('JR_DEV=1 without JR_SECRETS_KEY', () => {
  it('keeps a development key (mode 0600) in the data directory that survives a restart', async () => {
    const dev = await startTestApi({ JR_DEV: '1' });
    const c = new AgentClient(dev.grpcAddress);
    try {
      const token = value();
      const r = await http(dev, 'POST', '/v1/jobs', { body: { secrets: { S: token }, steps: [{ run: 'true' }] } });
      expect(r.status).toBe(202);
      const keyFile = path.join(dev.dataDir, 'secrets.key');
      expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
      await dev.restart();
      await c.enroll();
      const a = await waitFor(
        async () =>
          (await c.call<{ assignments: Assignment[] }>('Lease', { freeSlots: 1, waitMs: 1_000 })).assignments.find(
            (x) => x.jobId === r.json.id,
          ),
        { what: 'the lease' },
      );
      expect(a.secrets).toEqual({ S: token });
    } finally {
      c.close();
      await dev.cleanup();
    }
  });
});

describe('an API without a secrets key', () => {
  it('refuses a job with secrets with a 400 that says why, and takes jobs without', async () => {
    const plain = await startTestApi();
    try {
      const r = await http(plain, 'POST', '/v1/jobs', {
        body: { secrets: { S: 'long-value' }, steps: [{ run: 'true' }] },
      });
      expect(r.status).toBe(400);
      expect(r.json.detail).toMatch(/JR_SECRETS_KEY/);
      expect(r.text).not.toContain('long-value');
      expect((await http(plain, 'POST', '/v1/jobs', { body: { steps: [{ run: 'true' }] } })).status).toBe(202);
    } finally {
      await plain.cleanup();
    }
  });
});
