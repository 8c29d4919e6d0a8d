import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { run } from '../program';
import type { Io, OutStream } from '../output';

function capture(): OutStream & { text: string } {
  const s = {
    text: '',
    write: (c: string | Uint8Array) => ((s.text += typeof c === 'string' ? c : Buffer.from(c).toString()), true),
  };
  return s;
}

const NOW = Date.parse('2026-03-01T12:00:00Z');
const clock = { now: () => NOW, sleep: () => Promise.resolve() };

/** A canned answer by `METHOD /path?query`; anything else is a 404 problem document. */
type Answer = [status: number, body?: unknown];
interface Seen {
  method: string;
  url: string;
  body: unknown;
}

/** A fake API on a loopback socket: answers from `routes`, records every request. */
class FakeApi {
  readonly seen: Seen[] = [];
  routes: Record<string, Answer> = {};
  private readonly server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      const key = `${req.method ?? ''} ${req.url ?? ''}`;
      this.seen.push({ method: req.method ?? '', url: req.url ?? '', body: text ? JSON.parse(text) : undefined });
      const [status, body] = this.routes[key] ?? [404, { title: 'Not Found', status: 404, detail: `no ${key}` }];
      res.writeHead(status, { 'content-type': 'application/json' }).end(body === undefined ? '' : JSON.stringify(body));
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** The requests, as `METHOD url`. */
  lines(): string[] {
    return this.seen.map((s) => `${s.method} ${s.url}`);
  }
}

const api = new FakeApi();
let apiUrl = '';
beforeAll(async () => (apiUrl = await api.start()));
afterAll(() => api.stop());
beforeEach(() => {
  api.seen.length = 0;
  api.routes = {};
});

async function jr(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const [stdout, stderr] = [capture(), capture()];
  const env = {
    JR_API_URL: apiUrl,
    JR_REQUEST_TIMEOUT: '5s',
    JR_CONFIG: '/nonexistent/jr-config.yaml',
    SECRET_X: 's3cr3t-value',
  };
  const io: Io = { stdout, stderr, env };
  return { code: await run(argv, io, clock), stdout: stdout.text, stderr: stderr.text };
}

function view(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 's_1',
    name: 'nightly',
    cron: '0 3 * * *',
    rrule: null,
    timezone: 'Europe/Berlin',
    exclusions: [],
    overlap: 'skip',
    catchup: { policy: 'latest', window: '24h' },
    dst: { ambiguous: 'first', gap: 'shift' },
    paused: false,
    job: { name: '', pool: 'default', steps: [{ name: 'step-1', run: ['make', 'nightly'] }] },
    createdAt: '2026-02-01T00:00:00Z',
    updatedAt: '2026-02-01T00:00:00Z',
    lastFireAt: '2026-03-01T02:00:00Z',
    nextFireAt: '2026-03-02T02:00:00Z',
    nextFireTimes: ['2026-03-02T02:00:00Z', '2026-03-03T02:00:00Z'],
    missed: [],
    missedOmitted: 0,
    bufferedFireAt: null,
    activeJobs: [],
    ...over,
  };
}

function job(id: string, state: string, fireTime: string): Record<string, unknown> {
  return { id, state, exitCode: state === 'succeeded' ? 0 : null, scheduleId: 's_1', fireTime, createdAt: fireTime };
}

describe('jr schedule create usage (nothing reaches the API)', () => {
  it.each([
    [['nightly', '--cron', '0 3 * * *', '--rrule', 'FREQ=DAILY', '--', 'true'], 'either --cron or --rrule, not both'],
    [['nightly', '--', 'true'], 'a schedule needs --cron "EXPR" or --rrule "TEXT"'],
    [['--cron', '0 3 * * *'], 'a schedule needs a name'],
    [['nightly', '--cron', '0 3 * * *'], 'no job to run'],
    [['nightly', '--cron', '* * * * *', '--overlap', 'queue', '--', 'true'], 'Allowed choices are skip, buffer_one'],
    [['nightly', '--cron', '* * * * *', '--catchup', 'some', '--', 'true'], 'Allowed choices are none, latest, all'],
    [['nightly', '--cron', '* * * * *', '--catchup-window', 'soon', '--', 'true'], 'such as 30m, 6h or 2d'],
    [['nightly', '--cron', '* * * * *', '--catchup-window', '6h', '--', 'true'], '--catchup-window needs --catchup'],
    [['nightly', '--cron', '* * * * *', '--retries', '99', '--', 'true'], 'from 0 to'],
    [['nightly', '--cron', '* * * * *', '--env', 'BAD KEY=1', '--', 'true'], 'env names'],
  ])('%j exits 64: %s', async (args, message) => {
    const r = await jr('schedule', 'create', ...args);
    expect({ code: r.code, said: r.stderr.includes(message) }).toEqual({ code: 64, said: true });
    expect(api.seen).toEqual([]);
  });

  it('refuses a job the contract refuses, naming the field under job. (exit 64, no request)', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'jr-schedule-'));
    const file = path.join(dir, 'job.yaml');
    await fs.writeFile(file, 'steps: []\n');
    const r = await jr('schedule', 'create', 'nightly', '--cron', '0 3 * * *', '--job-file', file);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/job is not valid:\n {2}job\.steps: /);
    expect(api.seen).toEqual([]);
  });
});

describe('jr schedule create', () => {
  it('sends the document built from the flags and the command after --, prints the id and the next fire', async () => {
    api.routes = { 'POST /v1/schedules': [201, { id: 's_1' }], 'GET /v1/schedules/s_1': [200, view()] };
    const r = await jr(
      ...['schedule', 'create', 'nightly', '--cron', '0 3 * * *', '--timezone', 'Europe/Berlin'],
      ...['--overlap', 'buffer_one', '--catchup', 'all', '--catchup-window', '6h', '--pool', 'linux'],
      ...['--label', 'os=linux', '--env', 'STAGE=prod', '--secret', 'SECRET_X', '--', 'make', '-j4', 'nightly'],
    );
    expect(r).toMatchObject({ code: 0, stdout: 's_1\n' });
    expect(r.stderr).toContain('created schedule nightly (s_1); next fire 2026-03-02T02:00:00Z (in 14h0m0s)');
    expect(api.seen[0]?.body).toEqual({
      name: 'nightly',
      cron: '0 3 * * *',
      timezone: 'Europe/Berlin',
      overlap: 'buffer_one',
      catchup: { policy: 'all', window: '6h' },
      job: {
        steps: [{ run: ['make', '-j4', 'nightly'] }],
        pool: 'linux',
        labels: { os: 'linux' },
        env: { STAGE: 'prod' },
        secrets: { SECRET_X: 's3cr3t-value' },
      },
    });
  });

  it('-f sends the schedule file, with NAME and flags over it; --json prints {id}', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'jr-schedule-'));
    const file = path.join(dir, 'nightly.yaml');
    await fs.writeFile(
      file,
      [
        'name: template',
        'rrule: "FREQ=DAILY;BYHOUR=3"',
        'exclusions: [{dates: ["2026-12-25"]}]',
        'catchup: {policy: latest, window: 2d}',
        'dst: {ambiguous: both, gap: skip}',
        'job: {pool: web, env: {A: "1"}, steps: [{run: make nightly}]}',
        '',
      ].join('\n'),
    );
    api.routes = { 'POST /v1/schedules': [200, { id: 's_1' }], 'GET /v1/schedules/s_1': [200, view({ paused: true })] };
    const r = await jr(
      'schedule',
      'create',
      'eu-nightly',
      '-f',
      file,
      '--cron',
      '0 3 * * *',
      '--env',
      'B=2',
      '--paused',
      '--json',
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ id: 's_1' });
    expect(r.stderr).toContain('already exists with this document: eu-nightly (s_1); paused');
    expect(api.seen[0]?.body).toEqual({
      name: 'eu-nightly',
      cron: '0 3 * * *',
      exclusions: [{ dates: ['2026-12-25'] }],
      catchup: { policy: 'latest', window: '2d' },
      dst: { ambiguous: 'both', gap: 'skip' },
      paused: true,
      job: { pool: 'web', env: { A: '1', B: '2' }, steps: [{ run: 'make nightly' }] },
    });
  });

  it('-f: every word after -- is the command, also without NAME before it', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'jr-schedule-'));
    const file = path.join(dir, 'nightly.json');
    await fs.writeFile(file, JSON.stringify({ name: 'nightly', cron: '0 3 * * *' }));
    api.routes = { 'POST /v1/schedules': [201, { id: 's_1' }], 'GET /v1/schedules/s_1': [200, view()] };
    expect((await jr('schedule', 'create', '-f', file, '--', 'make', 'test')).code).toBe(0);
    expect(api.seen[0]?.body).toEqual({
      name: 'nightly',
      cron: '0 3 * * *',
      job: { steps: [{ run: ['make', 'test'] }] },
    });
  });

  it("shows the API's refusal by path (exit 64)", async () => {
    api.routes = {
      'POST /v1/schedules': [
        400,
        {
          title: 'Bad Request',
          status: 400,
          detail: 'the schedule is not valid',
          errors: [
            { path: 'cron', message: 'expected 5 or 6 fields' },
            { path: 'timezone', message: 'unknown time zone' },
          ],
        },
      ],
    };
    const r = await jr('schedule', 'create', 'nightly', '--cron', '0 3 *', '--timezone', 'Mars/Base', '--', 'true');
    expect(r.code).toBe(64);
    expect(r.stderr).toContain(
      'the API refused the request: the schedule is not valid\n  cron: expected 5 or 6 fields\n  timezone: unknown time zone\n',
    );
  });

  it('a name taken by a different document is a usage error (64), not "already ended"', async () => {
    api.routes = { 'POST /v1/schedules': [409, { title: 'Conflict', status: 409, detail: 'nightly is s_9' }] };
    const r = await jr('schedule', 'create', 'nightly', '--cron', '0 3 * * *', '--', 'true');
    expect(r.code).toBe(64);
    expect(r.stderr).toContain('the name is taken by a different schedule: nightly is s_9');
  });
});

describe('jr schedule list', () => {
  it('prints one row per schedule: rule, zone, next (relative and absolute), last, state, active jobs', async () => {
    const weekly = view({
      id: 's_2',
      name: 'weekly',
      cron: null,
      rrule: 'DTSTART;TZID=UTC:20260101T060000\nRRULE:FREQ=WEEKLY;BYDAY=MO',
      timezone: 'UTC',
      paused: true,
      nextFireAt: null,
      lastFireAt: null,
      activeJobs: ['j_1', 'j_2'],
    });
    api.routes = { 'GET /v1/schedules': [200, { items: [view({ name: 'night\u001b[31mly' }), weekly] }] };
    const r = await jr('schedule', 'list');
    expect(r.code).toBe(0);
    const [head, first, second] = r.stdout.split('\n');
    expect(head).toMatch(/^NAME +ID +WHEN +TZ +NEXT +LAST +STATE +ACTIVE$/);
    expect(first).toMatch(
      /^night\?\[31mly +s_1 +0 3 \* \* \* +Europe\/Berlin +in 14h0m0s \(2026-03-02T02:00:00Z\) +10h0m0s ago +active +0$/,
    );
    expect(second).toMatch(/^weekly +s_2 +FREQ=WEEKLY;BYDAY=MO +UTC +- +- +paused +2$/);
  });

  it('--json prints {items} as the API gave them', async () => {
    api.routes = { 'GET /v1/schedules': [200, { items: [view()] }] };
    const r = await jr('schedule', 'list', '--json');
    expect((JSON.parse(r.stdout) as { items: Array<{ id: string }> }).items.map((s) => s.id)).toEqual(['s_1']);
    expect(r.stderr).toBe('');
  });
});

describe('jr schedule show', () => {
  const missed = view({
    missed: [
      { fireTime: '2026-02-27T02:00:00Z', reason: 'downtime' },
      { fireTime: '2026-02-28T02:00:00Z', reason: 'overlap' },
    ],
    missedOmitted: 7,
    bufferedFireAt: '2026-03-01T02:00:00Z',
    activeJobs: ['j_run'],
  });

  it('shows the fields, next fires, missed fires with reasons and how many older, and recent jobs', async () => {
    api.routes = {
      'GET /v1/schedules/nightly': [200, missed],
      'GET /v1/jobs?schedule=s_1&limit=5': [
        200,
        {
          items: [job('j_run', 'running', '2026-03-01T02:00:00Z'), job('j_ok', 'succeeded', '2026-02-26T02:00:00Z')],
          nextCursor: null,
        },
      ],
    };
    const r = await jr('schedule', 'show', 'nightly');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('cron:        0 3 * * *\n');
    expect(r.stdout).toContain('catch-up:    latest, window 24h\n');
    expect(r.stdout).toContain('job:         pool default, 1 step: make nightly\n');
    expect(r.stdout).toContain('buffered:    2026-03-01T02:00:00Z');
    expect(r.stdout).toContain('active jobs: j_run\n');
    expect(r.stdout).toContain('next fires:\n  2026-03-02T02:00:00Z  in 14h0m0s\n  2026-03-03T02:00:00Z  in 38h0m0s\n');
    expect(r.stdout).toMatch(
      /missed:\n {2}FIRE TIME +REASON\n {2}2026-02-27T02:00:00Z +downtime \(the catch-up policy passed it over\)\n {2}2026-02-28T02:00:00Z +overlap .*\n {2}7 older not listed\n/,
    );
    expect(r.stdout).toMatch(
      /recent jobs:\n {2}ID +STATE +EXIT +FIRE TIME +CREATED\n {2}j_run +running +- +2026-03-01T02:00:00Z/,
    );
    expect(r.stdout).toMatch(/\n {2}j_ok +succeeded +0 +2026-02-26T02:00:00Z/);
  });

  it('--json prints the schedule with its recent jobs; the name is URL-encoded', async () => {
    api.routes = {
      'GET /v1/schedules/a%2Fb%20c': [200, missed],
      'GET /v1/jobs?schedule=s_1&limit=5': [200, { items: [job('j_ok', 'succeeded', '2026-02-26T02:00:00Z')] }],
    };
    const r = await jr('schedule', 'show', 'a/b c', '--json');
    const doc = JSON.parse(r.stdout) as { missedOmitted: number; recentJobs: Array<{ id: string; fireTime: string }> };
    expect(doc.missedOmitted).toBe(7);
    expect(doc.recentJobs).toEqual([expect.objectContaining({ id: 'j_ok', fireTime: '2026-02-26T02:00:00Z' })]);
  });
});

describe('jr schedule pause|resume|trigger|delete', () => {
  it('an unknown schedule exits 4 with "unknown schedule X"', async () => {
    for (const cmd of ['show', 'pause', 'resume', 'trigger', 'delete']) {
      const r = await jr('schedule', cmd, 'nope');
      expect({ cmd, code: r.code, stderr: r.stderr }).toEqual({ cmd, code: 4, stderr: 'jr: unknown schedule nope\n' });
    }
  });

  it('trigger prints the job id on stdout (for jr wait $(…)) and never retries the POST', async () => {
    api.routes = {
      'GET /v1/schedules/nightly': [200, view()],
      'POST /v1/schedules/s_1/trigger': [202, { id: 's_1', jobId: 'j_new', fireTime: '2026-03-01T12:00:00Z' }],
    };
    const r = await jr('schedule', 'trigger', 'nightly');
    expect(r).toMatchObject({ code: 0, stdout: 'j_new\n' });
    expect(r.stderr).toContain('triggered schedule nightly: job j_new for fire time 2026-03-01T12:00:00Z');
    const json = await jr('schedule', 'trigger', 'nightly', '--json');
    expect(JSON.parse(json.stdout)).toEqual({ id: 's_1', jobId: 'j_new', fireTime: '2026-03-01T12:00:00Z' });
    api.routes['POST /v1/schedules/s_1/trigger'] = [503, { title: 'Service Unavailable', status: 503 }];
    api.seen.length = 0;
    expect((await jr('schedule', 'trigger', 'nightly')).code).toBe(69);
    expect(api.lines()).toEqual(['GET /v1/schedules/nightly', 'POST /v1/schedules/s_1/trigger']);
  });

  it('pause and resume go by id after looking the name up, and say what the schedule does now', async () => {
    api.routes = {
      'GET /v1/schedules/nightly': [200, view()],
      'POST /v1/schedules/s_1/pause': [200, view({ paused: true, nextFireAt: null })],
      'POST /v1/schedules/s_1/resume': [200, view()],
    };
    const paused = await jr('schedule', 'pause', 'nightly');
    expect(paused.stderr).toBe('paused schedule nightly (s_1); paused: no fires until jr schedule resume nightly\n');
    const resumed = await jr('schedule', 'resume', 'nightly');
    expect(resumed.stderr).toContain('resumed schedule nightly (s_1); next fire 2026-03-02T02:00:00Z');
    expect(api.lines()).toEqual([
      'GET /v1/schedules/nightly',
      'POST /v1/schedules/s_1/pause',
      'GET /v1/schedules/nightly',
      'POST /v1/schedules/s_1/resume',
    ]);
  });

  it('delete asks nothing and exits 0', async () => {
    api.routes = { 'GET /v1/schedules/s_1': [200, view()], 'DELETE /v1/schedules/s_1': [204] };
    const r = await jr('schedule', 'delete', 's_1');
    expect(r).toEqual({ code: 0, stdout: '', stderr: 'deleted schedule nightly (s_1)\n' });
  });
});

describe('jr list --schedule', () => {
  it('passes schedule=ID through', async () => {
    api.routes = {
      'GET /v1/jobs?schedule=s_1': [
        200,
        { items: [job('j_ok', 'succeeded', '2026-02-26T02:00:00Z')], nextCursor: null },
      ],
    };
    const r = await jr('list', '--schedule', 's_1');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('j_ok');
  });
});
