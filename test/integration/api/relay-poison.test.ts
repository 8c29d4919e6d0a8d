import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from 'pg';
import { status } from '@grpc/grpc-js';
import { newJobId, parseJobSpec, type NormalizedJob } from '@jr/contracts';
import type { Journal } from '@jr/journal';
import { waitFor } from '@jr/testing';
import { encodeRecord, requestHash, type SubmittedRecord } from '../../../apps/api/src/intake/intake-record';
import { IntakeRelayService } from '../../../apps/api/src/intake/intake-relay.service';
import { IntakeRepository } from '../../../apps/api/src/intake/intake.repository';
import { PendingSubmissions } from '../../../apps/api/src/intake/pending-submissions';
import { INTAKE_JOURNAL } from '../../../apps/api/src/journal/journal.module';
import { ResultsRepository } from '../../../apps/api/src/results/results.repository';
import { AgentClient, http, startTestApi, type TestApi } from './harness';

// The relays and records they cannot apply: a record Postgres refuses as bad data (as a crash or an
// older version could have journaled it) is quarantined at once and holds up nothing behind it; a
// Postgres that cannot take writes (read-only, as a hot standby answers) is an outage: the relays wait
// and apply everything once it can, and quarantine nothing.
let t: TestApi;
const clients: AgentClient[] = [];

beforeAll(async () => {
  t = await startTestApi();
});

afterAll(async () => {
  for (const c of clients) c.close();
  await setReadOnly(false).catch(() => undefined);
  await t?.cleanup();
});

const quarantined = (): string[] =>
  fs.existsSync(path.join(t.dataDir, 'quarantine')) ? fs.readdirSync(path.join(t.dataDir, 'quarantine')) : [];

/** Makes this test's own database read-only for every new session (and ends the current ones), or writable again. */
async function setReadOnly(on: boolean): Promise<void> {
  const admin = new Client({ connectionString: t.serverUrl });
  await admin.connect();
  try {
    await admin.query(
      on
        ? `ALTER DATABASE ${t.db.name} SET default_transaction_read_only = on`
        : `ALTER DATABASE ${t.db.name} RESET default_transaction_read_only`,
    );
    await admin.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [t.db.name],
    );
  } finally {
    await admin.end();
  }
}

function record(name: string, tamper: (job: NormalizedJob) => NormalizedJob = (j) => j): SubmittedRecord {
  const parsed = parseJobSpec({ name, steps: [{ run: 'true' }] });
  if (!parsed.ok) throw new Error('bad spec');
  const job = tamper(parsed.job);
  return {
    type: 'job.submitted',
    id: newJobId(),
    job,
    idempotencyKey: null,
    requestHash: requestHash(job),
    at: Date.now(),
  };
}

/** What intake does once a record is durable: append it to the journal, hand it to the relay. */
async function journal(records: SubmittedRecord[]): Promise<void> {
  const j = t.api.app.get<Journal>(INTAKE_JOURNAL);
  const relay = t.api.app.get(IntakeRelayService);
  for (const r of records) relay.accepted(await j.append(encodeRecord(r)), r);
}

it('quarantines records Postgres refuses as bad data at once, trying each alone once, and applies the records around them in the same go', async () => {
  const repo = t.api.app.get(IntakeRepository);
  const tries = new Map<string, number>();
  const apply = repo.apply.bind(repo);
  const spy = jest.spyOn(repo, 'apply').mockImplementation((jobs) => {
    if (jobs.length === 1) tries.set(jobs[0]?.id ?? '', (tries.get(jobs[0]?.id ?? '') ?? 0) + 1);
    return apply(jobs);
  });
  try {
    const poisonText = record('poison-text', (j) => ({ ...j, name: 'nul\u0000name' })); // text column: 22021
    const poisonJson = record('poison-json', (j) => ({ ...j, env: { K: 'lone\ud800' } })); // jsonb: unpaired surrogate
    const poisonNul = record('poison-jsonb-nul', (j) => ({ ...j, labels: { k: 'a\u0000' } })); // jsonb: \u0000
    const good = Array.from({ length: 40 }, (_, i) => record(`good-${i}`));
    await journal([
      ...good.slice(0, 10),
      poisonText,
      ...good.slice(10, 20),
      poisonJson,
      ...good.slice(20, 30),
      poisonNul,
      ...good.slice(30),
    ]);
    const pending = t.api.app.get(PendingSubmissions);
    await waitFor(() => pending.size === 0, { timeoutMs: 20_000, what: 'the relay to settle every record' });
    for (const g of good)
      expect((await http(t, 'GET', `/v1/jobs/${g.id}`)).json).toMatchObject({ id: g.id, state: 'queued' });
    for (const p of [poisonText, poisonJson, poisonNul]) {
      expect((await http(t, 'GET', `/v1/jobs/${p.id}`)).status).toBe(404);
      expect(tries.get(p.id)).toBe(1); // refused alone once: bad data is not retried (old: 3 tries, backing off between them)
    }
    expect(quarantined()).toHaveLength(3);
  } finally {
    spy.mockRestore();
  }
});

it('waits while Postgres is read-only (25006, as a hot standby answers) and applies everything once it takes writes, quarantining nothing', async () => {
  const before = quarantined().length;
  const c = new AgentClient(t.grpcAddress);
  clients.push(c);
  await c.enroll({ pool: 'ro', name: 'host-ro' });
  const leased = await http(t, 'POST', '/v1/jobs', { body: { pool: 'ro', steps: [{ run: 'echo x' }] } });
  const res = await c.call<{ assignments: Array<{ jobId: string; attempt: number; leaseToken: string }> }>(
    'Lease',
    { freeSlots: 1, waitMs: 10_000 },
    { deadlineMs: 15_000 },
  );
  const a = res.assignments[0];
  if (!a || a.jobId !== leased.json.id) throw new Error('no assignment');
  const key = { jobId: a.jobId, attempt: a.attempt, leaseToken: a.leaseToken };

  const refusals = { intake: 0, results: 0 };
  const countReadOnly = <T>(kind: keyof typeof refusals, p: Promise<T>): Promise<T> =>
    p.catch((err: unknown) => {
      if ((err as { code?: unknown }).code === '25006') refusals[kind]++;
      throw err;
    });
  const intakeRepo = t.api.app.get(IntakeRepository);
  const resultsRepo = t.api.app.get(ResultsRepository);
  const [applyIntake, applyReport, applyComplete] = [
    intakeRepo.apply.bind(intakeRepo),
    resultsRepo.applyReport.bind(resultsRepo),
    resultsRepo.applyComplete.bind(resultsRepo),
  ];
  const spies = [
    jest.spyOn(intakeRepo, 'apply').mockImplementation((jobs) => countReadOnly('intake', applyIntake(jobs))),
    jest.spyOn(resultsRepo, 'applyReport').mockImplementation((r) => countReadOnly('results', applyReport(r))),
    jest
      .spyOn(resultsRepo, 'applyComplete')
      .mockImplementation((r, n) => countReadOnly('results', applyComplete(r, n))),
  ];
  const ids: string[] = [];
  try {
    await setReadOnly(true);
    for (let i = 0; i < 5; i++) {
      const r = await http(t, 'POST', '/v1/jobs', { body: { name: `while-read-only-${i}`, steps: [{ run: 'true' }] } });
      expect(r.status).toBe(202);
      ids.push(r.json.id);
    }
    const log = { seq: 1, atMs: Date.now(), log: { step: 0, stream: 'stdout', data: Buffer.from('kept\n') } };
    expect(await c.call('Report', { ...key, events: [log] })).toEqual({ ackedSeq: 1 });
    expect(await c.call('Complete', { ...key, outcome: 'OUTCOME_SUCCEEDED', exitCode: 0 })).toEqual({
      jobState: 'succeeded',
    });
    // the relays keep trying (and are refused) for as long as it takes: several refusals each, nothing quarantined
    await waitFor(() => refusals.intake >= 3 && refusals.results >= 3, {
      timeoutMs: 30_000,
      what: 'the relays to be refused by the read-only database a few times',
    });
    expect(quarantined()).toHaveLength(before);
  } finally {
    await setReadOnly(false);
    for (const s of spies) s.mockRestore();
  }
  const pending = t.api.app.get(PendingSubmissions);
  await waitFor(() => pending.size === 0, { timeoutMs: 30_000, what: 'the intake relay to apply after read-only' });
  for (const id of ids) expect((await http(t, 'GET', `/v1/jobs/${id}`)).json).toMatchObject({ id, state: 'queued' });
  await waitFor(async () => (await http(t, 'GET', `/v1/jobs/${key.jobId}`)).json?.state === 'succeeded', {
    timeoutMs: 30_000,
    what: 'the results relay to apply after read-only',
  });
  expect((await http(t, 'GET', `/v1/jobs/${key.jobId}/logs`)).text).toBe('kept\n');
  expect(quarantined()).toHaveLength(before);
  // the attempt ended as reported: another outcome for it now is refused
  await expect(c.call('Complete', { ...key, outcome: 'OUTCOME_FAILED', exitCode: 1 })).rejects.toMatchObject({
    code: status.FAILED_PRECONDITION,
  });
});
