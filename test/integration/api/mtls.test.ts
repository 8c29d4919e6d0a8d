import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { status } from '@grpc/grpc-js';
import { Client } from 'pg';
import { createCa, createCsr, createKeyPem, issueClientCert } from '@jr/pki';
import { testTls, waitFor } from '@jr/testing';
import { AgentClient, http, startTestApi, testAgentKey, type TestApi } from './harness';

// Mutual TLS on gRPC against a real API (Postgres, Redis, grpc-js): every call but Enroll needs the
// client certificate Enroll gave, for the agent whose credential comes with it.
let t: TestApi;
let pg: Client;
const clients: AgentClient[] = [];

function agent(opts: ConstructorParameters<typeof AgentClient>[1] = {}, api: TestApi = t): AgentClient {
  const c = new AgentClient(api.grpcAddress, opts);
  clients.push(c);
  return c;
}

const beat = (c: AgentClient, req: object = {}) =>
  c.call<{ certificateChainPem: string }>('Heartbeat', req, { deadlineMs: 5_000 });
const lease = (c: AgentClient) => c.call('Lease', { freeSlots: 1, waitMs: 0 });
const serialsOf = async (id: string, db: Client = pg) =>
  (
    await db.query<{ serial: string; revoked_at: Date | null }>(
      'SELECT serial, revoked_at FROM agent_certificates WHERE agent_id = $1 ORDER BY issued_at',
      [id],
    )
  ).rows;
const refused = { code: status.UNAUTHENTICATED };

beforeAll(async () => {
  t = await startTestApi();
  pg = new Client({ connectionString: t.db.url });
  await pg.connect();
});

afterAll(async () => {
  for (const c of clients) c.close();
  await pg.end();
  await t.cleanup();
});

describe('client certificates', () => {
  it('Enroll signs the CSR into a certificate named by the agent id; without it Heartbeat, Lease, Report and Complete are refused', async () => {
    const c = agent();
    const id = await c.enroll({ name: 'mtls-1' });
    const leaf = new X509Certificate(c.certificatePem);
    expect(leaf.subject).toBe(`CN=${id}`);
    expect(leaf.subjectAltName).toBe(`URI:urn:jobrunner:agent:${id}`);
    expect(leaf.checkPrivateKey((await import('node:crypto')).createPrivateKey((await c.agentKey()).keyPem))).toBe(
      true,
    );
    expect((await serialsOf(id)).map((r) => r.serial)).toEqual([leaf.serialNumber.toLowerCase().replace(/^0+/, '')]);
    await expect(beat(c)).resolves.toMatchObject({ directives: [] });
    await expect(lease(c)).resolves.toMatchObject({ assignments: [] });

    const bare = agent(); // TLS, the right credential, no client certificate
    bare.credential = c.credential;
    await expect(beat(bare)).rejects.toMatchObject({
      ...refused,
      details: expect.stringContaining('client certificate'),
    });
    await expect(lease(bare)).rejects.toMatchObject(refused);
    const ref = { jobId: 'j_00000000000000000000', attempt: 1, leaseToken: '0'.repeat(32) };
    await expect(bare.call('Report', { ...ref, events: [] })).rejects.toMatchObject(refused);
    await expect(bare.call('Complete', { ...ref, outcome: 'OUTCOME_SUCCEEDED' })).rejects.toMatchObject(refused);
  });

  it('refuses a certificate of another CA, an expired one, one the API never issued, and another agent’s credential', async () => {
    const c = agent();
    const id = await c.enroll({ name: 'mtls-2' });
    const { keyPem, csrPem } = await testAgentKey();
    const withCert = (certPem: string): AgentClient => {
      const x = agent({ identity: { keyPem, certPem } });
      x.credential = c.credential;
      return x;
    };
    const otherCa = await createCa({ commonName: 'not the agent CA', validityDays: 1 });
    const foreign = await issueClientCert(otherCa, csrPem, { agentId: id, ttlMs: 60_000 });
    await expect(beat(withCert(foreign.certPem))).rejects.toMatchObject(refused);

    const tls = await testTls();
    const agentCa = {
      certPem: readFileSync(tls.agentCaFile, 'utf8'),
      keyPem: readFileSync(tls.agentCaKeyFile, 'utf8'),
    };
    const old = await issueClientCert(agentCa, csrPem, {
      agentId: id,
      ttlMs: 60_000,
      now: new Date(Date.now() - 120_000),
    });
    await pg.query('INSERT INTO agent_certificates (serial, agent_id, issued_at, not_after) VALUES ($1, $2, $3, $4)', [
      old.serial,
      id,
      old.notBefore,
      old.notAfter,
    ]);
    await expect(beat(withCert(old.certPem))).rejects.toMatchObject(refused);

    const unrecorded = await issueClientCert(agentCa, csrPem, { agentId: id, ttlMs: 60_000 });
    await expect(beat(withCert(unrecorded.certPem))).rejects.toMatchObject({
      ...refused,
      details: expect.stringContaining('not one the API issued'),
    });

    const other = agent();
    await other.enroll({ name: 'mtls-3' });
    const mixed = agent({ identity: { keyPem, certPem: c.certificatePem } });
    mixed.credential = other.credential;
    await expect(beat(mixed)).rejects.toMatchObject({
      ...refused,
      details: expect.stringContaining('client certificate agent'),
    });
    await expect(lease(mixed)).rejects.toMatchObject(refused);
    await expect(beat(c)).resolves.toMatchObject({ directives: [] }); // the real one goes on
  });

  it('revoking the agent revokes its certificates: refused at the next call', async () => {
    const c = agent();
    const id = await c.enroll({ name: 'mtls-4' });
    await expect(beat(c)).resolves.toBeDefined();
    expect((await http(t, 'POST', `/v1/agents/${id}/revoke`)).status).toBe(200);
    await expect(beat(c)).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
    await expect(lease(c)).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
    expect((await serialsOf(id)).every((r) => r.revoked_at !== null)).toBe(true);
  });

  it('the enroll token and the victim’s own credential do not take it over from another key', async () => {
    const victim = agent();
    const id = await victim.enroll({ name: 'mtls-victim' });
    const keyPem = await createKeyPem();
    const thief = agent({ key: { keyPem, csrPem: await createCsr(keyPem) } });
    await expect(
      thief.call(
        'Enroll',
        { name: 'mtls-victim', pool: 'default', slots: 2, labels: {}, previousCredential: victim.credential },
        {
          token: 'enroll-token-for-tests',
        },
      ),
    ).rejects.toMatchObject({ code: status.PERMISSION_DENIED, details: expect.stringContaining('another key') });
    // its own machine (its key) re-enrolls as itself
    const again = await victim.call<{ agentId: string }>(
      'Enroll',
      { name: 'mtls-victim', pool: 'default', slots: 2, labels: {}, previousCredential: victim.credential },
      { token: 'enroll-token-for-tests' },
    );
    expect(again.agentId).toBe(id);
    await expect(beat(victim)).resolves.toBeDefined();
  });
});

describe('renewal on the heartbeat', () => {
  let short: TestApi;
  beforeAll(async () => (short = await startTestApi({ JR_AGENT_CERT_TTL: '10s' })));
  afterAll(() => short.cleanup());

  it('a CSR past half the lifetime gets a new certificate for the same key; before, or for another key, none', async () => {
    const c = agent({}, short);
    const id = await c.enroll({ name: 'renew-1' });
    const { csrPem, keyPem } = await c.agentKey();
    expect((await beat(c, { csrPem })).certificateChainPem).toBe('');
    const first = new X509Certificate(c.certificatePem);
    await waitFor(async () => Date.now() > Date.parse(first.validFrom) + 5_500, { what: 'half the lifetime' });
    const otherKey = await createKeyPem();
    expect((await beat(c, { csrPem: await createCsr(otherKey) })).certificateChainPem).toBe('');
    const renewed = (await beat(c, { csrPem })).certificateChainPem;
    const leaf = new X509Certificate(renewed);
    expect(leaf.serialNumber).not.toBe(first.serialNumber);
    expect(leaf.subject).toBe(`CN=${id}`);
    c.useIdentity({ keyPem, certPem: renewed });
    await expect(beat(c)).resolves.toMatchObject({ directives: [] });
    const db = new Client({ connectionString: short.db.url });
    await db.connect();
    expect(await serialsOf(id, db).finally(() => db.end())).toHaveLength(2);
  });
});

describe('plain text (JR_INSECURE=1)', () => {
  let plain: TestApi;
  beforeAll(async () => (plain = await startTestApi({ JR_INSECURE: '1' })));
  afterAll(() => plain.cleanup());

  it('issues no certificate: the bearer credential alone authenticates', async () => {
    const c = agent({ ca: null }, plain);
    await c.enroll({ name: 'plain-1' });
    expect(c.certificatePem).toBe('');
    await expect(beat(c)).resolves.toMatchObject({ directives: [] });
  });
});
