import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { newJobId, parseJobSpec } from '@jr/contracts';
import { Journal } from '@jr/journal';
import { encodeRecord, requestHash } from '../../../apps/api/src/intake/intake-record';
import { startApi } from '../../../apps/api/src/api';
import { http, startTestApi, type TestApi } from './harness';

// What the API does with its intake journal at start-up after a crash: a torn tail is cut off (it was
// never acknowledged), a record it cannot decode is quarantined (kept, not silently dropped), and real
// corruption stops the start with the file and offset named.
let t: TestApi;

beforeAll(async () => {
  t = await startTestApi();
});

afterAll(async () => {
  await t?.cleanup();
});

const intakeDir = (): string => path.join(t.dataDir, 'intake');

function submission(name: string): Buffer {
  const parsed = parseJobSpec({ name, steps: [{ run: 'true' }] });
  if (!parsed.ok) throw new Error('bad spec');
  return encodeRecord({
    type: 'job.submitted',
    id: newJobId(),
    job: parsed.job,
    idempotencyKey: null,
    requestHash: requestHash(parsed.job),
    at: Date.now(),
  });
}

const idOf = (record: Buffer): string => (JSON.parse(record.toString('utf8')) as { id: string }).id;

/** Appends records to the stopped API's intake journal; returns the last segment file. */
async function appendOffline(...records: Buffer[]): Promise<string> {
  const journal = await Journal.open({ dir: intakeDir() });
  for (const r of records) await journal.append(r);
  await journal.close();
  const segments = fs
    .readdirSync(intakeDir())
    .filter((f) => f.startsWith('seg-'))
    .sort();
  return path.join(intakeDir(), segments.at(-1) as string);
}

it('cuts off a torn tail (a write that never finished) and applies every complete record', async () => {
  await t.api.stop();
  const a = submission('before-crash-1');
  const b = submission('before-crash-2');
  const segment = await appendOffline(a, b);
  fs.appendFileSync(segment, Buffer.from([0x4a, 0x52, 0x4c, 0x01, 0xff, 0x00])); // half a header: the crash
  await t.restart();
  for (const r of [a, b]) expect((await http(t, 'GET', `/v1/jobs/${idOf(r)}`)).json).toMatchObject({ state: 'queued' });
  expect((await http(t, 'POST', '/v1/jobs', { body: { steps: [{ run: 'true' }] } })).status).toBe(202);
});

it('quarantines a record it cannot decode instead of dropping it or refusing to start', async () => {
  await t.api.stop();
  const good = submission('next-to-garbage');
  const garbage = Buffer.from('{"type":"job.submitted","id":"not an id"}');
  await appendOffline(garbage, good);
  await t.restart();
  expect((await http(t, 'GET', `/v1/jobs/${idOf(good)}`)).status).toBe(200);
  const quarantined = fs.readdirSync(path.join(t.dataDir, 'quarantine'));
  expect(quarantined).toHaveLength(1);
  expect(fs.readFileSync(path.join(t.dataDir, 'quarantine', quarantined[0] as string))).toEqual(garbage);
});

it('refuses a second jr-api on the same data directory, and takes over the lock of one that was SIGKILLed', async () => {
  await expect(startApi(t.config, { clock: t.clock })).rejects.toThrow(/JR_DATA_DIR .* is in use by jr-api pid \d+/);
  expect((await http(t, 'GET', '/healthz')).status).toBe(200); // the first one is unharmed
  await t.api.stop();
  const other = spawn('sleep', ['30']); // another live process owning the lock
  try {
    fs.writeFileSync(path.join(t.dataDir, 'jr-api.lock'), `${other.pid}\n`);
    await expect(startApi(t.config, { clock: t.clock })).rejects.toThrow(`is in use by jr-api pid ${other.pid}`);
  } finally {
    other.kill('SIGKILL');
  }
  const dead = spawnSync('true').pid; // a pid that no longer runs: the lock of a crashed API
  fs.writeFileSync(path.join(t.dataDir, 'jr-api.lock'), `${dead}\n`);
  await t.restart();
  expect((await http(t, 'POST', '/v1/jobs', { body: { steps: [{ run: 'true' }] } })).status).toBe(202);
  await t.api.stop();
  fs.writeFileSync(path.join(t.dataDir, 'jr-api.lock'), `${process.pid}\n`); // our own pid, from an earlier incarnation (containers reuse pid 1)
  await t.restart();
  expect((await http(t, 'GET', '/healthz')).status).toBe(200);
});

it('refuses to start on corruption inside the log, naming the file and offset', async () => {
  await t.api.stop();
  const segment = await appendOffline(submission('c-1'), submission('c-2'), submission('c-3'));
  const bytes = fs.readFileSync(segment);
  const at = bytes.lastIndexOf(Buffer.from('c-2'));
  bytes.writeUInt8((bytes[at] as number) ^ 0xff, at); // a flipped byte in a record that has a valid one after it
  fs.writeFileSync(segment, bytes);
  await expect(startApi(t.config, { clock: t.clock })).rejects.toThrow(
    new RegExp(`journal corrupt: ${segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} at offset \\d+`),
  );
});
