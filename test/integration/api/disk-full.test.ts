import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { status } from '@grpc/grpc-js';
import { fillDisk, tryMountTmpfs, tryUnmount, waitFor } from '@jr/testing';
import { AgentClient, http, setDatabaseConnections, startTestApi, type TestApi } from './harness';

/**
 * Backpressure on a really full disk: the API's data directory on a 32 MiB tmpfs (we run as root),
 * filled up with ballast. Where mounting is not permitted the same scenario runs against the journal
 * size limit instead (Postgres made unreachable so nothing drains), and says so.
 */
let mnt: string;
let mounted = false;
let t: TestApi;
let agent: AgentClient;

beforeAll(async () => {
  mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'jr-diskfull-'));
  mounted = process.env.JR_TEST_NO_TMPFS === '1' ? false : tryMountTmpfs(mnt, '32m');
  if (!mounted)
    console.warn(
      'disk-full test: mount -t tmpfs not permitted here; falling back to JR_JOURNAL_MAX_BYTES (ENOSPC itself is not exercised)',
    );
  t = await startTestApi({ JR_DATA_DIR: path.join(mnt, 'api'), ...(mounted ? {} : { JR_JOURNAL_MAX_BYTES: '8MiB' }) });
  agent = new AgentClient(t.grpcAddress);
  await agent.enroll({ pool: 'full' });
});

afterAll(async () => {
  agent?.close();
  await setDatabaseConnections(t, true).catch(() => undefined);
  await t?.cleanup();
  if (mounted) tryUnmount(mnt);
  fs.rmSync(mnt, { recursive: true, force: true });
});

const ballast = (): string => path.join(mnt, 'ballast');

const submit = (body: object = { pool: 'full', steps: [{ run: 'echo hi' }] }) => http(t, 'POST', '/v1/jobs', { body });

async function rejected(reason: string): Promise<number> {
  const text = (await http(t, 'GET', '/metrics')).text;
  return Number(new RegExp(`^jr_intake_rejected_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
}

it('answers 503 + Retry-After when the disk is full, harms nothing acknowledged, and resumes by itself once space frees', async () => {
  const acked: string[] = [];
  for (let i = 0; i < 5; i++) acked.push((await submit()).json.id);
  const res = await agent.call<{ assignments: Array<{ jobId: string; attempt: number; leaseToken: string }> }>(
    'Lease',
    { freeSlots: 1, waitMs: 5_000 },
    { deadlineMs: 10_000 },
  );
  const a = res.assignments[0]!;
  const key = { jobId: a.jobId, attempt: a.attempt, leaseToken: a.leaseToken };

  let refusal: Awaited<ReturnType<typeof submit>> | undefined;
  if (mounted) {
    fillDisk(ballast());
    // the journal's last page may still hold a record or two: the first append needing a block fails
    for (let i = 0; i < 100 && refusal?.status !== 503; i++) refusal = await submit();
  } else {
    await setDatabaseConnections(t, false);
    const big = {
      pool: 'full',
      steps: [{ run: 'x'.repeat(60_000) }, { run: 'y'.repeat(60_000) }, { run: 'z'.repeat(60_000) }],
    };
    for (let i = 0; i < 100 && refusal?.status !== 503; i++) refusal = await submit(big);
  }
  expect(refusal).toMatchObject({ status: 503, json: { status: 503, code: 'NOT_ACCEPTING' } });
  expect(Number(refusal?.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(await rejected(mounted ? 'disk_full' : 'journal_full')).toBeGreaterThan(0);
  const ready = await http(t, 'GET', '/readyz', { token: null });
  expect(ready.status).toBe(503);
  expect(ready.json.dependencies.journal).toMatchObject({
    up: false,
    detail: expect.stringMatching(/refusing submissions/),
  });
  if (mounted) {
    // results cannot be journaled either: the agent is told to back off (not a breaker failure), nothing is half-written
    await expect(
      agent.call('Report', {
        ...key,
        events: [{ seq: 1, atMs: Date.now(), log: { step: 0, stream: 'stdout', data: Buffer.alloc(200_000, 65) } }],
      }),
    ).rejects.toMatchObject({
      code: status.RESOURCE_EXHAUSTED,
    });
  }

  // nothing acknowledged was harmed (with the size-limit fallback Postgres is away: look after it is back)
  const intact = async (): Promise<void> => {
    for (const id of acked) expect((await http(t, 'GET', `/v1/jobs/${id}`)).status).toBe(200);
  };
  if (mounted) await intact();

  if (mounted) fs.rmSync(ballast());
  else await setDatabaseConnections(t, true);
  // readiness comes back without any submission probing it (a balancer that stopped sending resumes)
  await waitFor(async () => (await http(t, 'GET', '/readyz', { token: null })).status === 200, {
    timeoutMs: 20_000,
    what: 'readiness to return',
  });
  expect((await submit()).status).toBe(202);
  await intact();
  expect(
    await agent.call('Report', {
      ...key,
      events: [{ seq: 1, atMs: Date.now(), log: { step: 0, stream: 'stdout', data: Buffer.from('ok\n') } }],
    }),
  ).toEqual({ ackedSeq: 1 });
  expect(await agent.call('Complete', { ...key, outcome: 'OUTCOME_SUCCEEDED', exitCode: 0 })).toEqual({
    jobState: 'succeeded',
  });
  await waitFor(async () => (await http(t, 'GET', `/v1/jobs/${a.jobId}`)).json.state === 'succeeded', {
    what: 'the leased job to succeed',
  });
});
