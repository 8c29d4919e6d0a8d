/* eslint-disable @typescript-eslint/no-unsafe-return -- HTTP answers' JSON bodies are untyped in these tests */
import {
  generateSigningKeyPair,
  parseJobSpec,
  parseSigningKey,
  parseVerifyKeys,
  signJob,
  toProtoSpec,
  verifyJobSignature,
  type pb,
} from '@jr/contracts';
import { waitFor } from '@jr/testing';
import { AgentClient, http, startTestApi, type TestApi } from './harness';

// The API's side of signed jobs: it takes the `signature` field (checking only its shape), keeps it through
// the journal, the relay and Postgres, and hands it out unchanged in the lease, so the agent can verify the
// job it got against what the submitter signed. A refusal by the agent ends the job at once.
let t: TestApi;
const clients: AgentClient[] = [];
const pair = generateSigningKeyPair();
const key = parseSigningKey(pair.privatePem);
const inADay = (): string => new Date(Date.now() + 86_400_000).toISOString();

beforeAll(async () => {
  t = await startTestApi();
});

afterAll(async () => {
  for (const c of clients) c.close();
  await t?.cleanup();
});

function signedDoc(doc: Record<string, unknown>, notAfter = inADay()): Record<string, unknown> {
  const parsed = parseJobSpec(doc);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return { ...doc, signature: signJob(toProtoSpec(parsed.job), key, notAfter) };
}

async function leaseOne(pool: string): Promise<{ client: AgentClient; assignment: pb.Assignment__Output }> {
  const client = new AgentClient(t.grpcAddress);
  clients.push(client);
  await client.enroll({ pool, name: `host-${pool}` });
  const res = await client.call<pb.LeaseResponse__Output>(
    'Lease',
    { freeSlots: 1, waitMs: 10_000 },
    { deadlineMs: 15_000 },
  );
  const assignment = res.assignments[0];
  if (!assignment) throw new Error('no assignment');
  return { client, assignment };
}

it('stores the signature with the job and delivers it unchanged in the lease, where it verifies', async () => {
  const doc = signedDoc({
    pool: 'signed',
    labels: {},
    timeout: '10m',
    env: { STAGE: 'prod', NOTE: 'ünïcödé ✓' },
    uses: [{ url: 'https://example.com/a.tgz', sha256: 'c'.repeat(64) }],
    steps: [{ run: 'make deploy', timeout: 90 }, { run: ['sh', '-c', 'echo "$STAGE"'] }],
  });
  const r = await http(t, 'POST', '/v1/jobs', { body: doc });
  expect(r.status).toBe(202);
  const view = await waitFor(
    async () => {
      const v = await http(t, 'GET', `/v1/jobs/${r.json.id as string}`);
      return v.status === 200 ? v.json : undefined;
    },
    { what: 'the job in Postgres' },
  );
  expect(view.spec.signature).toEqual(doc.signature);
  const { assignment } = await leaseOne('signed');
  expect(assignment.jobId).toBe(r.json.id);
  expect(verifyJobSignature(assignment.spec!, parseVerifyKeys(pair.publicPem), Date.now())).toEqual({
    ok: true,
    keyId: key.keyId,
  });
});

it('answers a repeated Idempotency-Key with a fresh signature as the same job', async () => {
  const doc = { pool: 'idem', steps: [{ run: 'true' }] };
  const headers = { 'idempotency-key': 'signed-once' };
  const first = await http(t, 'POST', '/v1/jobs', { body: signedDoc(doc), headers });
  const again = await http(t, 'POST', '/v1/jobs', {
    body: signedDoc(doc, new Date(Date.now() + 2 * 86_400_000).toISOString()),
    headers,
  });
  expect([first.status, again.status]).toEqual([202, 200]);
  expect(again.json.id).toBe(first.json.id);
  const changed = await http(t, 'POST', '/v1/jobs', { body: signedDoc({ ...doc, pool: 'other' }), headers });
  expect(changed.status).toBe(409);
});

it.each([
  ['a short sig', { sig: 'abc' }, 'signature.sig'],
  ['another algorithm', { alg: 'rsa' }, 'signature.alg'],
  ['an upper-case key id', { keyId: 'ABCDEF0123456789' }, 'signature.keyId'],
  ['a local time', { notAfter: '2030-01-01T00:00:00' }, 'signature.notAfter'],
  ['an unknown field', { by: 'me' }, 'signature'],
])('refuses a signature with %s (400, by path)', async (_what, change, errorPath) => {
  const doc = signedDoc({ steps: [{ run: 'true' }] });
  const body = { ...doc, signature: { ...(doc.signature as object), ...change } };
  const r = await http(t, 'POST', '/v1/jobs', { body });
  expect(r.status).toBe(400);
  expect((r.json.errors as Array<{ path: string }>).map((e) => e.path)).toEqual([errorPath]);
});

it('ends the job failed/signature_invalid at once when the agent refuses it, whatever its retries', async () => {
  const r = await http(t, 'POST', '/v1/jobs', { body: { pool: 'refuse', retries: 3, steps: [{ run: 'true' }] } });
  expect(r.status).toBe(202);
  const { client, assignment } = await leaseOne('refuse');
  const now = Date.now();
  const done = await client.call<pb.CompleteResponse__Output>('Complete', {
    jobId: assignment.jobId,
    attempt: assignment.attempt,
    leaseToken: assignment.leaseToken,
    outcome: 'OUTCOME_FAILED',
    exitCode: -1,
    reason: 'signature_invalid',
    startedAtMs: now,
    endedAtMs: now,
    lastSeq: 0,
  });
  expect(done.jobState).toBe('failed');
  const view = await waitFor(
    async () => {
      const v = (await http(t, 'GET', `/v1/jobs/${assignment.jobId}`)).json;
      return v.state === 'failed' ? v : undefined;
    },
    { what: 'the job to end' },
  );
  expect({ reason: view.reason, attempts: view.attempts.length }).toEqual({ reason: 'signature_invalid', attempts: 1 });
});
