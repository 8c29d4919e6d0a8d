import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import type { SchedulePage, ScheduleView } from '@jr/contracts';
import { http, startTestApi, type HttpResult, type TestApi } from './harness';
import { fuzzCase, type FuzzCase } from './schedule-fuzz-gen';

// Hostile schedule documents against a real jr-api, Postgres and Redis (schedule-fuzz-gen.ts makes them).
// The invariant is the project's: every 2xx is later visible and applied (GET by id and by name show the
// name, the trigger and sane fire times; a 200 is the first create's id); every refusal is a 400 naming
// paths (or a 413), never a 5xx, and stores nothing; no request takes more than 10 s (a refused costly rule takes ~1 s alone, more beside the suite); the API still works
// after the burst. Seeded: JR_FUZZ_SEED=<seed> replays a run, case for case.

const SEED = Number(process.env.JR_FUZZ_SEED ?? Date.now() % 1_000_000);
const RUNS = 300;
/** Longest a request may take (a cron or rrule the API cannot evaluate must be refused, not computed). */
const SLOW_MS = 10_000;
/** A request blocking the event loop this long never returns: the watchdog reports it and ends the process. */
const HUNG_MS = 60_000;
const ANSWERS = [200, 201, 400, 409, 413];
const REPLAY = `JR_FUZZ_SEED=${SEED} JR_SKIP_LINT=1 node scripts/test.js test/integration/api/schedules-fuzz.test.ts`;

/**
 * The API runs in this process, so a request that loops for ever blocks the test too and no timer of this
 * thread fires. A worker thread watches: past HUNG_MS it prints the request and the violations found so
 * far straight to fd 2 and kills the process (a hang must fail the run, with its input, not stall it).
 */
const WATCHDOG = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const found = [];
let current;
parentPort.on('message', (m) => {
  if (m.kind === 'start') current = { label: m.label, at: Date.now() };
  else if (m.kind === 'done') current = undefined;
  else found.push(m.text);
});
setInterval(() => {
  if (!current || Date.now() - current.at < ${HUNG_MS}) return;
  fs.writeSync(2, '\\nschedules-fuzz seed ${SEED}: the API is stuck (no answer in ${HUNG_MS / 1000} s, event loop blocked) on ' +
    current.label + '\\nviolations before it:\\n' + (found.join('\\n') || '(none)') + '\\nreplay: ${REPLAY}\\n');
  process.kill(process.pid, 'SIGKILL');
}, 250);
`;

let t: TestApi;
let watchdog: Worker;
beforeAll(async () => {
  t = await startTestApi({ JR_SECRETS_KEY: `k1:${Buffer.alloc(32, 7).toString('base64')}` });
  watchdog = new Worker(WATCHDOG, { eval: true });
  watchdog.unref();
});
afterAll(async () => {
  await watchdog?.terminate();
  await t?.cleanup();
});

type Body = string | Buffer;
type Json = Record<string, unknown>;

/** A body as printed in a failure: escaped, its middle cut when long (the seed replays it whole). */
function excerpt(body: Body): string {
  const s = typeof body === 'string' ? body : `<bytes> ${body.toString('latin1')}`;
  return JSON.stringify(s.length > 400 ? `${s.slice(0, 300)}…(${s.length} chars)…${s.slice(-60)}` : s);
}

/** The document as the API reads the body (JSON.parse: the last of duplicate keys wins), if it is one. */
function documentOf(body: Body): Json | undefined {
  try {
    const v: unknown = JSON.parse(
      typeof body === 'string' ? body : new TextDecoder('utf-8', { fatal: true }).decode(body),
    );
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
  } catch {
    return undefined;
  }
}

describe('schedules under hostile input', () => {
  const violations: string[] = [];
  const created = new Map<string, string>(); // name -> the id its 201 answered
  const ids: string[] = [];
  const refused = new Set<string>(); // names of documents answered 400 or 413
  const sent: Body[] = [];
  const statuses = new Map<number, number>();
  let slowest = { ms: 0, what: '' };

  function flag(what: string): void {
    violations.push(what);
    watchdog.postMessage({ kind: 'violation', text: what });
  }

  /** One request, timed; a 5xx, an unexpected status or a slow answer is a violation. */
  async function request(what: string, method: string, url: string, body?: Body): Promise<HttpResult> {
    watchdog.postMessage({ kind: 'start', label: what });
    const started = performance.now();
    const r = await http(
      t,
      method,
      url,
      body === undefined ? {} : { raw: body, headers: { 'content-type': 'application/json' } },
    );
    const ms = Math.round(performance.now() - started);
    watchdog.postMessage({ kind: 'done' });
    if (ms > slowest.ms) slowest = { ms, what };
    if (ms > SLOW_MS) flag(`${what}: took ${ms} ms (limit ${SLOW_MS})`);
    if (r.status >= 500) flag(`${what}: answered ${r.status} ${r.text.slice(0, 300)}`);
    return r;
  }

  function bodyOf(c: FuzzCase): Body {
    switch (c.kind) {
      case 'doc':
        return JSON.stringify(c.doc);
      case 'raw':
        return c.raw;
      case 'again':
        return sent.length === 0 ? '{}' : (sent[c.pick % sent.length] as Body);
      case 'idName':
        return JSON.stringify({ ...c.doc, ...(ids.length > 0 ? { name: ids[c.pick % ids.length] } : {}) });
    }
  }

  /** GET by id and by name: the schedule as created, its next fire times ISO instants in strictly increasing order. */
  async function checkVisible(what: string, id: string, name: string, doc: Json): Promise<void> {
    const r = await request(`${what} GET ${id}`, 'GET', `/v1/schedules/${encodeURIComponent(id)}`);
    if (r.status !== 200)
      return flag(`${what}: acknowledged as ${id}, but GET ${id} answers ${r.status} ${r.text.slice(0, 200)}`);
    const v = r.json as ScheduleView;
    const wrong: string[] = [];
    if (v.id !== id || v.name !== name) wrong.push(`shows ${v.id} ${JSON.stringify(v.name)}`);
    const times = Array.isArray(v.nextFireTimes) ? v.nextFireTimes : undefined;
    const instants = (times ?? []).map((s) =>
      typeof s === 'string' && new Date(s).toISOString() === s ? Date.parse(s) : NaN,
    );
    if (!times || instants.some((ms, i) => !(ms > (instants[i - 1] ?? -Infinity))))
      wrong.push(`nextFireTimes ${JSON.stringify(v.nextFireTimes)}`);
    if (v.nextFireAt !== (times?.[0] ?? null)) wrong.push(`nextFireAt ${v.nextFireAt} vs ${times?.[0]}`);
    if (v.paused !== (doc.paused === true) || (v.paused && times?.length !== 0)) wrong.push(`paused ${v.paused}`);
    if (v.overlap !== (doc.overlap ?? 'skip')) wrong.push(`overlap ${v.overlap}`);
    if (typeof doc.cron === 'string' && v.cron !== doc.cron.trim().split(/\s+/).join(' ')) wrong.push(`cron ${v.cron}`);
    if (typeof doc.rrule === 'string' && v.rrule !== doc.rrule.trim()) wrong.push(`rrule ${JSON.stringify(v.rrule)}`);
    if (wrong.length > 0) flag(`${what}: GET ${id} is not what was acknowledged: ${wrong.join('; ')}`);
    // a name is a key of the same resource; "." and ".." are path segments no HTTP client sends as such
    if (name === '.' || name === '..') return;
    const byName = await request(`${what} GET by name`, 'GET', `/v1/schedules/${encodeURIComponent(name)}`);
    if (byName.status !== 200 || byName.json?.id !== id)
      flag(
        `${what}: GET /v1/schedules/${encodeURIComponent(name)} answers ${byName.status} ${byName.json?.id}, not ${id}`,
      );
  }

  async function post(i: number, body: Body): Promise<void> {
    const what = `#${i} POST ${excerpt(body)}`;
    const r = await request(what, 'POST', '/v1/schedules', body);
    sent.push(body);
    statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    const doc = documentOf(body);
    const name = typeof doc?.name === 'string' ? doc.name : undefined;
    if (!ANSWERS.includes(r.status))
      return r.status >= 500 ? undefined : flag(`${what}: answered ${r.status} ${r.text.slice(0, 200)}`);
    if (r.status === 400 || r.status === 413) {
      if (name !== undefined) refused.add(name);
      const errors: unknown = r.json?.errors;
      const wellFormed = (e: unknown) =>
        typeof (e as Json)?.path === 'string' && typeof (e as Json)?.message === 'string';
      if (r.status === 400 && !(Array.isArray(errors) && errors.length > 0 && errors.every(wellFormed)))
        flag(`${what}: 400 without errors [{path, message}]: ${r.text.slice(0, 200)}`);
      if (r.status === 413 && Buffer.byteLength(body) <= 256 * 1024)
        flag(`${what}: 413 for ${Buffer.byteLength(body)} bytes`);
      return;
    }
    const holder = name === undefined ? undefined : created.get(name);
    if (r.status === 409) return holder ? undefined : flag(`${what}: 409, but no schedule holds that name`);
    const id: unknown = r.json?.id;
    if (typeof id !== 'string' || name === undefined || doc === undefined)
      return flag(`${what}: ${r.status} ${r.text.slice(0, 100)} for a body without a document name`);
    if (r.status === 201 && holder !== undefined) flag(`${what}: 201 as ${id}, but ${holder} already holds the name`);
    if (r.status === 200 && holder !== id) flag(`${what}: 200 with ${id}, but the name was created as ${holder}`);
    if (r.status === 201 && holder === undefined) {
      created.set(name, id);
      ids.push(id);
    }
    await checkVisible(`#${i} (${r.status} ${id} for ${excerpt(body)})`, id, name, doc);
  }

  it('answers every document 2xx-and-visible or 400-and-stored-nowhere, each within 5 s', async () => {
    const cases = fc.sample(fuzzCase, { seed: SEED, numRuns: RUNS });
    process.stdout.write(`\nschedules fuzz: seed ${SEED}, ${RUNS} documents (replay: ${REPLAY})\n`);
    const began = Date.now();
    for (const [i, c] of cases.entries()) await post(i, bodyOf(c));

    // every acknowledged schedule is listed (and still itself by id); no refused name ever is
    const list = await request('GET /v1/schedules', 'GET', '/v1/schedules');
    const items = list.status === 200 ? (list.json as SchedulePage).items : [];
    if (list.status !== 200) flag(`GET /v1/schedules answers ${list.status}`);
    const listed = new Map(items.map((v) => [v.name, v.id]));
    for (const [name, id] of created) {
      if (listed.get(name) !== id)
        flag(`${id} ${JSON.stringify(name)} was acknowledged but is listed as ${listed.get(name)}`);
      const again = await request(`GET ${id} after the run`, 'GET', `/v1/schedules/${id}`);
      if (again.json?.id !== id || again.json?.name !== name)
        flag(
          `GET ${id} after the run shows ${again.json?.id} ${JSON.stringify(again.json?.name)}, not ${JSON.stringify(name)}`,
        );
    }
    for (const name of refused)
      if (!created.has(name) && listed.has(name)) flag(`${JSON.stringify(name)} was refused but is listed (stored)`);
    if (items.length !== created.size) flag(`${items.length} schedules listed, ${created.size} acknowledged`);

    // the API is still itself: healthy, and a normal schedule creates and shows its next fire times
    expect((await request('GET /healthz', 'GET', '/healthz')).status).toBe(200);
    const normal = {
      name: 'after-the-burst',
      cron: '0 3 * * *',
      timezone: 'Europe/Berlin',
      job: { steps: [{ run: 'true' }] },
    };
    const made = await request('POST after the burst', 'POST', '/v1/schedules', JSON.stringify(normal));
    expect(made.status).toBe(201);
    const shown = await request('GET after the burst', 'GET', `/v1/schedules/${made.json.id}`);
    expect((shown.json as ScheduleView).nextFireTimes).toHaveLength(5);

    const counts = Object.fromEntries([...statuses].sort(([a], [b]) => a - b));
    process.stdout.write(
      `schedules fuzz: seed ${SEED}: ${JSON.stringify(counts)}, ${created.size} schedules, slowest ${slowest.ms} ms ` +
        `(${slowest.what.slice(0, 160)}), ${Date.now() - began} ms, ${violations.length} violations\n`,
    );
    expect(violations).toEqual([]);
    // the run really was mixed: mostly refused, and enough odd-but-legal documents got through
    expect(statuses.get(400) ?? 0).toBeGreaterThan(RUNS / 4);
    expect((statuses.get(201) ?? 0) + (statuses.get(200) ?? 0)).toBeGreaterThan(RUNS / 10);
  }, 120_000);
});
