import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { freePort, waitFor } from '@jr/testing';
import { problemFor } from '@jr/contracts';
import { run } from '../../../apps/cli/src/program';
import type { OutStream } from '../../../apps/cli/src/output';
import { FakeApi } from './fake-api';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
  raw: Buffer;
}

/** Everything written to stdout and stderr, in order, as `1:` / `2:` + text (which came first). */
let written: string[] = [];

function capture(isTTY = false, fd = 1): OutStream & { chunks: Buffer[] } {
  const s = {
    isTTY,
    chunks: [] as Buffer[],
    write: (c: string | Uint8Array) => (
      s.chunks.push(Buffer.from(c)),
      written.push(`${fd}:${Buffer.from(c).toString('utf8')}`),
      true
    ),
  };
  return s;
}

let api: FakeApi;
let url: string;

/** Runs jr in-process against the fake API over a real socket. */
async function jr(
  argv: string[],
  opts: {
    env?: Record<string, string>;
    stdin?: Readable;
    tty?: boolean;
    stdoutTty?: boolean;
    interrupt?: (press: () => void) => void;
  } = {},
): Promise<Result> {
  written = [];
  const stdout = capture(opts.stdoutTty, 1);
  const stderr = capture(opts.tty, 2);
  // JR_CONFIG: no config file of the machine's user leaks into these runs
  const env = {
    JR_API_URL: url,
    JR_TOKEN: api.token,
    JR_REQUEST_TIMEOUT: '5s',
    JR_CONFIG: '/nonexistent/jr-config.yaml',
    ...opts.env,
  };
  const onInterrupt = (handler: () => void) => {
    opts.interrupt?.(handler);
    return () => undefined;
  };
  const code = await run(argv, { stdout, stderr, env, onInterrupt, ...(opts.stdin ? { stdin: opts.stdin } : {}) });
  const raw = Buffer.concat(stdout.chunks);
  return { code, stdout: raw.toString('utf8'), stderr: Buffer.concat(stderr.chunks).toString('utf8'), raw };
}

beforeEach(async () => {
  api = new FakeApi();
  url = await api.start();
});

afterEach(async () => {
  await api.stop();
});

describe('jr submit', () => {
  it('--json prints exactly one JSON document on stdout and sends the argv job', async () => {
    const r = await jr([
      'submit',
      '--json',
      '--pool',
      'gpu',
      '--label',
      'os=linux',
      '--env',
      'A=1',
      '--timeout',
      '90s',
      '--retries',
      '2',
      '--name',
      'build',
      '--',
      'make',
      '-j',
      '4',
      'all things',
    ]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { id: string; state: string };
    expect(doc).toEqual({ id: expect.stringMatching(/^j_/), state: 'queued' });
    expect(r.stderr).toBe(`submitted ${doc.id} (queued)\n`);
    const sent = JSON.parse(api.requests[0]?.body ?? '{}');
    expect(sent).toEqual({
      name: 'build',
      pool: 'gpu',
      labels: { os: 'linux' },
      env: { A: '1' },
      timeout: '90s',
      retries: 2,
      steps: [{ run: ['make', '-j', '4', 'all things'] }],
    });
    expect(api.requests[0]?.headers['content-type']).toBe('application/json');
  });

  it('prints the id on stdout and the status line on stderr, and passes the idempotency key', async () => {
    const first = await jr(['submit', '--idempotency-key', 'deploy-42', '--shell', 'echo hi | wc -c']);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^j_[0-9a-z]+\n$/);
    const again = await jr(['submit', '--idempotency-key', 'deploy-42', '--shell', 'echo hi | wc -c']);
    expect(again.stdout).toBe(first.stdout);
    expect(again.stderr).toContain('already submitted with this idempotency key');
    expect(api.requests.filter((q) => q.method === 'POST').map((q) => q.headers['idempotency-key'])).toEqual([
      'deploy-42',
      'deploy-42',
    ]);
    expect(JSON.parse(api.requests[0]?.body ?? '{}').steps).toEqual([{ run: 'echo hi | wc -c' }]);
  });

  it('keeps one argument with spaces as argv and says so on stderr', async () => {
    const r = await jr(['submit', '--', 'make build']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('note: running "make build" as one program name');
    expect(JSON.parse(api.requests[0]?.body ?? '{}').steps).toEqual([{ run: ['make build'] }]);
  });

  it('submits a YAML job from stdin with flags overriding it', async () => {
    const yaml =
      'name: nightly\npool: default\nlabels: {os: linux}\nenv: {A: "1"}\nsteps:\n  - run: make\n  - run: [./deploy, --prod]\n';
    const r = await jr(['submit', '-f', '-', '--pool', 'big', '--env', 'B=2', '--json'], {
      stdin: Readable.from([yaml]),
    });
    expect(r.code).toBe(0);
    expect(JSON.parse(api.requests[0]?.body ?? '{}')).toEqual({
      name: 'nightly',
      pool: 'big',
      labels: { os: 'linux' },
      env: { A: '1', B: '2' },
      steps: [{ run: 'make' }, { run: ['./deploy', '--prod'] }],
    });
  });

  it('a malformed job file is 64 with line and column, and nothing is sent', async () => {
    const r = await jr(['submit', '-f', '-'], { stdin: Readable.from(['steps:\n  - run: x\n   bad: indent\n']) });
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/^jr: stdin:3:\d+: malformed YAML/);
    expect(api.requests).toHaveLength(0);
  });

  it("prints each of a 400 problem's errors as path: message and exits 64", async () => {
    api.refuseNextSubmit = problemFor('INVALID_INPUT', 'invalid job', {
      errors: [
        { path: 'steps.0.run', message: 'program not allowed here' },
        { path: 'pool', message: 'no agents serve this pool' },
      ],
    });
    const r = await jr(['submit', '--json', '--', 'rm', '-rf', '/']);
    expect(r.code).toBe(64);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      'jr: the API refused the request: invalid job\n  steps.0.run: program not allowed here\n  pool: no agents serve this pool\n',
    );
  });

  it('a 409 on submit (key reused for another job) is a usage error, not "already terminal"', async () => {
    api.refuseNextSubmit = problemFor('CONFLICT', 'idempotency key reused with a different body');
    const r = await jr(['submit', '--idempotency-key', 'k1', '--', 'true']);
    expect(r.code).toBe(64);
    expect(r.stderr).toContain('idempotency key');
  });

  it('retries a 503 with Retry-After and then succeeds', async () => {
    api.busyRequests = 2;
    const r = await jr(['submit', '--', 'true']);
    expect(r.code).toBe(0);
    expect(api.requests.filter((q) => q.method === 'POST')).toHaveLength(3);
  });

  it.each([
    [{ state: 'succeeded', reason: null, exitCode: 0 }, 0],
    [{ state: 'failed', reason: 'exit_code', exitCode: 2 }, 1],
    [{ state: 'cancelled', reason: 'cancelled', exitCode: null }, 2],
    [{ state: 'timed_out', reason: 'timeout', exitCode: null }, 3],
    [{ state: 'failed', reason: 'attempts_exhausted', exitCode: 1 }, 6],
  ] as const)('--wait exits with the outcome of a job ending %j', async (outcome, code) => {
    api.outcome = outcome;
    const r = await jr(['submit', '--wait', '--', 'job']);
    expect(r.code).toBe(code);
    const id = /submitted (j_\w+)/.exec(r.stderr)?.[1] ?? '';
    expect(id).toMatch(/^j_/);
    expect(r.stdout).toBe(''); // stdout is for the job's output, and it printed nothing
    expect(r.stderr).toContain(`${id} queued`);
    expect(r.stderr).toContain(`${id} running, attempt 1`);
    expect(r.stderr).toContain(`${id} ${outcome.state}`);
  });

  it('--wait --json prints only the final job as one document', async () => {
    api.outcome = { state: 'failed', reason: 'exit_code', exitCode: 3 };
    const r = await jr(['submit', '--wait', '--json', '--', 'job']);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as { state: string; exitCode: number; attempts: unknown[] };
    expect(doc).toMatchObject({ state: 'failed', exitCode: 3 });
    expect(doc.attempts).toHaveLength(1);
  });

  it('--wait shows a spinner rewritten in place on a TTY', async () => {
    const r = await jr(['submit', '--wait', '--', 'job'], { tty: true });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('\r\x1b[2K');
    expect(r.stderr).toMatch(/succeeded, exit code 0 after [\d.]+m?s\n$/);
  });

  it('--wait survives a transient outage after the submit', async () => {
    api.dropJobGets = 3; // the submit is answered; the next polls hit dropped connections
    const r = await jr(['submit', '--wait', '--', 'job']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('retrying');
    expect(r.stderr).toContain('the API answers again');
  });
});

describe('jr wait / status / cancel / list', () => {
  it('wait --timeout exits 7 while the job keeps running', async () => {
    api.hold = true;
    const id = (await jr(['submit', '--', 'sleep', '1000'])).stdout.trim();
    const r = await jr(['wait', id, '--timeout', '700ms']);
    expect(r.code).toBe(7);
    expect(r.stderr).toContain(`gave up waiting after`);
    expect(r.stderr).toContain(`${id} is running`);
  });

  it('unknown ids are 4 for wait, status, cancel and logs', async () => {
    for (const argv of [
      ['wait', 'j_nope'],
      ['status', 'j_nope'],
      ['cancel', 'j_nope'],
      ['logs', 'j_nope'],
      ['logs', '-f', 'j_nope'],
    ]) {
      const r = await jr(argv);
      expect({ argv, code: r.code, stderr: r.stderr }).toEqual({ argv, code: 4, stderr: 'jr: unknown job j_nope\n' });
    }
  });

  it('ids with path characters stay one path segment', async () => {
    const r = await jr(['status', '../agents']);
    expect(r.code).toBe(4);
    expect(api.requests[0]?.url).toBe('/v1/jobs/..%2Fagents');
  });

  it('cancel: 0 for a running job, 5 when already terminal', async () => {
    const running = api.addJob('running');
    expect((await jr(['cancel', running.id])).code).toBe(0);
    const done = api.addJob('succeeded');
    const r = await jr(['cancel', done.id]);
    expect(r.code).toBe(5);
    expect(r.stderr).toBe(`jr: cannot cancel: job ${done.id} is already succeeded\n`);
  });

  it('status shows state, attempts and exit code; --json is the job view', async () => {
    api.outcome = { state: 'failed', reason: 'exit_code', exitCode: 2 };
    const id = (await jr(['submit', '--name', 'build', '--', 'make'])).stdout.trim();
    for (let i = 0; i < 3; i++) await jr(['status', id, '--json']);
    const human = await jr(['status', id]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/state:\s+failed \(exit_code\)/);
    expect(human.stdout).toMatch(/exit code:\s+2/);
    expect(human.stdout).toMatch(/1\s+a_agent1\s+failed\s+2/);
    const json = JSON.parse((await jr(['status', id, '--json'])).stdout) as { id: string; spec: unknown };
    expect(json.id).toBe(id);
    expect(json.spec).toBeDefined();
  });

  it('status neutralises terminal escapes in names from the API', async () => {
    const job = api.addJob('queued', { name: 'evil\x1b]0;pwned\x07' });
    const r = await jr(['status', job.id]);
    expect(r.stdout).not.toContain('\x1b');
    expect(r.stdout).toContain('evil?]0;pwned?');
  });

  it('list prints a table newest first and passes the filters', async () => {
    const a = api.addJob('succeeded', { name: 'first' });
    const b = api.addJob('succeeded', { name: 'second' });
    const r = await jr(['list', '--state', 'succeeded', '--pool', 'default', '--limit', '10']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+NAME\s+STATE\s+EXIT\s+DURATION\s+POOL\s+AGE$/);
    expect(lines[1]).toContain(b.id);
    expect(lines[2]).toContain(a.id);
    expect(api.requests[0]?.url).toBe('/v1/jobs?state=succeeded&pool=default&limit=10');
    expect(JSON.parse((await jr(['list', '--json'])).stdout).items).toHaveLength(2);
  });
});

describe("--wait and jr wait show the job's output", () => {
  it('submit --wait: the output on stdout as it came, once, then the outcome line on stderr; a failed job too', async () => {
    api.outcome = { state: 'failed', reason: 'exit_code', exitCode: 3 };
    api.submitLogs = ['step one\n', 'step two: ✓ ', 'done\n'];
    const r = await jr(['submit', '--wait', '--', 'job']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('step one\nstep two: ✓ done\n');
    const outcome = written.findIndex((w) => /^2:j_\w+ failed \(exit_code\), exit code 3 after/.test(w));
    const lastOutput = written.map((w) => w.startsWith('1:')).lastIndexOf(true);
    expect(outcome).toBeGreaterThan(lastOutput);
    const follows = api.requests.filter((q) => q.url.includes('/logs'));
    expect(follows).toHaveLength(1);
    expect(follows[0]?.url).not.toContain('markers'); // raw output, no step lines
  });

  it('--json keeps stdout for the one document (no output); --quiet waits silently (only the id)', async () => {
    api.submitLogs = ['noise\n'];
    const json = await jr(['submit', '--wait', '--json', '--', 'job']);
    expect(JSON.parse(json.stdout)).toMatchObject({ state: 'succeeded' });
    const quiet = await jr(['submit', '--wait', '--quiet', '--', 'job']);
    expect(quiet.code).toBe(0);
    expect(quiet.stdout).toMatch(/^j_\w+\n$/);
    expect(quiet.stderr).toBe('');
    expect(api.requests.filter((q) => q.url.includes('/logs'))).toHaveLength(0);
  });

  it('jr wait prints the output of a job that already ended, then its outcome', async () => {
    const job = api.addJob('succeeded', { exitCode: 0 });
    api.logs.set(job.id, ['all of it\n']);
    const r = await jr(['wait', job.id]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('all of it\n');
    expect(r.stderr).toContain(`${job.id} succeeded`);
  });

  it('on a terminal the spinner steps aside for the output and comes back after it', async () => {
    api.submitLogs = ['line\n'];
    const r = await jr(['submit', '--wait', '--', 'job'], { tty: true, stdoutTty: true });
    expect(r.stdout).toBe('line\n');
    const i = written.indexOf('1:line\n');
    expect(written[i - 1]).toBe('2:\r\x1b[2K'); // the spinner line was cleared just before
  });

  it('the TTY spinner shows why the job cannot be placed while the API says so', async () => {
    const message = 'no active agent in pool web has labels gpu=true';
    const job = api.addJob('queued', { waiting: { code: 'no_agent_with_labels', message } });
    const r = await jr(['wait', job.id, '--timeout', '600ms'], { tty: true });
    expect(r.code).toBe(7);
    expect(r.stderr).toContain(`${job.id} queued · waiting: ${message}`);
  });

  it("reports the job's own run time, not how long the wait took", async () => {
    const startedAt = '2026-01-01T10:00:00.000Z';
    const endedAt = '2026-01-01T10:00:42.000Z';
    const timed = api.addJob('succeeded', { exitCode: 0, startedAt, endedAt, durationMs: 42_000 });
    expect((await jr(['wait', timed.id])).stderr).toMatch(/succeeded, exit code 0 after 42s\n$/);
    const attempts = [
      {
        n: 1,
        agentId: 'a_1',
        state: 'failed' as const,
        exitCode: 1,
        reason: null,
        startedAt,
        endedAt: '2026-01-01T10:00:05.000Z',
      },
    ];
    const fallback = api.addJob('failed', {
      exitCode: 1,
      reason: 'exit_code',
      attempts: [...attempts, { ...attempts[0]!, n: 2, endedAt: '2026-01-01T10:03:00.000Z' }],
    });
    expect((await jr(['wait', fallback.id])).stderr).toMatch(/failed \(exit_code\), exit code 1 after 3m0s\n$/);
  });

  it('Ctrl-C clears the spinner, says the job goes on and how to stop it, and exits 130', async () => {
    api.hold = true;
    const id = (await jr(['submit', '--', 'sleep', '1000'])).stdout.trim();
    const r = await jr(['wait', id], { tty: true, interrupt: (press) => setTimeout(press, 500) });
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(
      new RegExp(`\r\x1b\\[2Kstopped waiting; job ${id} goes on \\(jr cancel ${id} stops it\\)\n$`),
    );
    expect(api.requests.filter((q) => q.method === 'POST' && q.url.includes('cancel'))).toHaveLength(0);
  });
});

describe('jr logs', () => {
  it('asks for step markers; --raw does not (with and without -f)', async () => {
    const job = api.addJob('succeeded');
    for (const argv of [
      ['logs', job.id],
      ['logs', '-f', job.id],
      ['logs', '--raw', job.id],
      ['logs', '-f', '--raw', job.id],
    ])
      expect((await jr(argv)).code).toBe(0);
    const markers = api.requests
      .filter((q) => q.url.includes('/logs'))
      .map((q) => new URL(q.url, 'http://x').searchParams.get('markers'));
    expect(markers).toEqual(['1', '1', null, null]);
  });

  it('-f resumes after the Last-Event-ID of the last event it printed, so the server sends only the rest', async () => {
    const job = api.addJob('running');
    const chunks = ['line 1\n', 'line 2\n', 'line 3\n'];
    api.follow.set(job.id, [
      { chunks: chunks.slice(0, 2), then: 'drop', ids: true },
      { chunks, then: 'end', ids: true },
    ]);
    const r = await jr(['logs', job.id, '-f']);
    expect(r.stdout).toBe('line 1\nline 2\nline 3\n');
    expect(api.requests.filter((q) => q.url.includes('/logs')).map((q) => q.headers['last-event-id'])).toEqual([
      undefined,
      '2',
    ]);
  });

  it('prints the text as raw bytes', async () => {
    const job = api.addJob('succeeded');
    const bytes = Buffer.from([0x68, 0x69, 0x0a, 0xff, 0xfe, 0x00, 0x1b, 0x5b, 0x33, 0x31, 0x6d]);
    api.logs.set(job.id, [bytes]);
    const r = await jr(['logs', job.id]);
    expect(r.code).toBe(0);
    expect(r.raw.equals(bytes)).toBe(true);
  });

  it('-f prints every chunk exactly once across a dropped connection', async () => {
    const job = api.addJob('running');
    api.follow.set(job.id, [
      { chunks: ['line 1\n', 'line 2\n'], then: 'drop' },
      { chunks: ['line 1\n', 'line 2\n', 'line 3\n', 'no newline'], then: 'drop' },
      { chunks: ['line 1\n', 'line 2\n', 'line 3\n', 'no newline', ' – done\n'], then: 'end' },
    ]);
    const r = await jr(['logs', job.id, '-f']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('line 1\nline 2\nline 3\nno newline – done\n');
    expect(api.followConnections.get(job.id)).toBe(3);
    expect(r.stderr).toContain('reconnecting');
  });

  it('-f keeps the carriage returns of progress output', async () => {
    const job = api.addJob('running');
    api.follow.set(job.id, [{ chunks: ['build 50%\r60%\r', '100%\n'], then: 'end' }]);
    const r = await jr(['logs', '-f', job.id]);
    expect(r.stdout).toBe('build 50%\r60%\r100%\n');
  });

  it('-f decodes a UTF-8 character split across socket writes', async () => {
    const job = api.addJob('running');
    const event = Buffer.from('event: log\ndata: ✓ ok\ndata: \n\n');
    api.follow.set(job.id, [{ chunks: [event.subarray(0, 19), event.subarray(19)], then: 'end' }]);
    const r = await jr(['logs', '-f', job.id]);
    expect(r.stdout).toBe('✓ ok\n');
  });
});

describe('jr agents', () => {
  beforeEach(() => {
    api.agents.push({
      id: 'a_one',
      name: 'builder-1',
      pool: 'default',
      labels: { os: 'linux' },
      state: 'active',
      draining: false,
      heartbeatAgeMs: 1_000,
      slots: 4,
      running: 1,
      lastHeartbeatAt: new Date().toISOString(),
      breakerState: 'open',
      spoolDepth: 3,
      spoolOldestAgeMs: 45_000,
      enrolledAt: new Date().toISOString(),
      revokedAt: null,
    });
  });

  it('prints a table and --json', async () => {
    const r = await jr(['agents']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ID\s+NAME\s+POOL\s+LABELS\s+STATE\s+HEARTBEAT\s+RUNNING\s+BREAKER\s+SPOOL\n/);
    expect(r.stdout).toMatch(
      /a_one\s+builder-1\s+default\s+os=linux\s+active\s+[\d.]+m?s ago\s+1\/4\s+open\s+3 \(oldest 45s\)/,
    );
    expect(JSON.parse((await jr(['agents', '--json'])).stdout).items[0].id).toBe('a_one');
  });

  it('enable-reporting and drain reach the API; unknown agents are 4', async () => {
    expect((await jr(['agents', 'enable-reporting', 'a_one'])).code).toBe(0);
    expect((await jr(['agents', 'enable-reporting', '--all'])).code).toBe(0);
    expect((await jr(['agents', 'drain', 'a_one'])).code).toBe(0);
    expect(api.agentCalls).toEqual(['reporting/enable a_one', 'reporting/enable *', 'drain a_one']);
    expect((await jr(['agents', 'drain', 'a_ghost'])).code).toBe(4);
  });

  it('shows stale and drained agents, with the heartbeat age the API measured', async () => {
    const now = new Date().toISOString();
    api.agents.push(
      {
        ...api.agents[0]!,
        id: 'a_two',
        name: 'silent-1',
        state: 'stale',
        draining: true,
        heartbeatAgeMs: 400_000,
        lastHeartbeatAt: now,
      },
      {
        ...api.agents[0]!,
        id: 'a_three',
        name: 'drained-1',
        state: 'draining',
        draining: true,
        heartbeatAgeMs: 2_000,
        lastHeartbeatAt: now,
      },
    );
    const r = await jr(['agents']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/a_two\s+silent-1\s+default\s+os=linux\s+stale,draining\s+6m40s ago\s/);
    expect(r.stdout).toMatch(/a_three\s+drained-1\s+default\s+os=linux\s+draining\s+2(\.0)?s ago\s/);
    const json = JSON.parse((await jr(['agents', '--json'])).stdout) as {
      items: Array<{ id: string; state: string; draining: boolean; heartbeatAgeMs: number }>;
    };
    expect(json.items.find((a) => a.id === 'a_two')).toMatchObject({
      state: 'stale',
      draining: true,
      heartbeatAgeMs: 400_000,
    });
  });

  it('undrain reaches the API and says when the agent leases again; unknown agents are 4', async () => {
    api.agents[0]!.draining = true;
    const r = await jr(['agents', 'undrain', 'a_one']);
    expect(r).toMatchObject({
      code: 0,
      stdout: '',
      stderr: 'undrained a_one: it leases jobs again from its next heartbeat\n',
    });
    expect(api.agentCalls).toEqual(['undrain a_one']);
    expect(api.requests.at(-1)).toMatchObject({ method: 'POST', url: '/v1/agents/a_one/undrain' });
    expect((await jr(['agents', 'undrain', 'a_ghost'])).code).toBe(4);
  });

  it('rm is refused (5) while the agent is in use, says why, and --force removes it', async () => {
    const refused = await jr(['agents', 'rm', 'a_one']);
    expect(refused).toMatchObject({
      code: 5,
      stderr: 'jr: cannot remove agent a_one: agent a_one is active: stop it first, or remove it with --force\n',
    });
    expect(api.agents).toHaveLength(1);
    const forced = await jr(['agents', 'rm', '--force', 'a_one']);
    expect(forced).toMatchObject({
      code: 0,
      stderr: 'removed agent a_one; 1 running attempt(s) end lost and their jobs go back to the queue\n',
    });
    expect(api.requests.at(-1)).toMatchObject({ method: 'DELETE', url: '/v1/agents/a_one?force=true' });
    expect(api.agentCalls).toEqual(['rm a_one --force']);
    expect((await jr(['agents', 'rm', 'a_one'])).code).toBe(4);
  });
});

describe('failures at the edges', () => {
  it('401 is 77 with the reason, and no token at all is 77 too', async () => {
    const wrong = await jr(['list'], { env: { JR_TOKEN: 'wrong' } });
    expect(wrong.code).toBe(77);
    expect(wrong.stderr).toBe(
      'jr: authentication refused (401): missing or invalid bearer token; set JR_TOKEN to an API token\n',
    );
    expect((await jr(['submit', '--wait', '--', 'x'], { env: { JR_TOKEN: '' } })).code).toBe(77);
    expect(api.requests[0]?.headers.authorization).toBe('Bearer wrong');
  });

  it('nothing listening is 69 for every command, including wait', async () => {
    const port = await freePort();
    for (const argv of [['submit', '--', 'x'], ['wait', 'j_1', '--timeout', '1m'], ['logs', '-f', 'j_1'], ['agents']]) {
      const r = await jr(argv, { env: { JR_API_URL: `http://127.0.0.1:${port}` } });
      expect({ argv, code: r.code, stderr: r.stderr }).toEqual({
        argv,
        code: 69,
        stderr: `jr: cannot reach the API at http://127.0.0.1:${port}/ (ECONNREFUSED)\n`,
      });
    }
  });

  it('a server that never answers is 69 after the request deadline', async () => {
    api.stall = true;
    const r = await jr(['status', 'j_1'], { env: { JR_REQUEST_TIMEOUT: '300ms' } });
    expect(r.code).toBe(69);
    expect(r.stderr).toBe(`jr: no answer from the API at ${url}/ within 300 ms\n`);
  });

  it('an answer that is not the contract is 70 with one line (e.g. a proxy page)', async () => {
    api.garbage = { status: 200, body: '<html>login</html>' };
    const r = await jr(['status', 'j_1']);
    expect(r.code).toBe(70);
    expect(r.stderr).toBe("jr: the API's answer to v1/jobs/j_1 is not JSON\n");
  });

  it('a 502 from a proxy (after retries) is 69', async () => {
    api.garbage = { status: 502, body: '<html>bad gateway</html>' };
    const r = await jr(['list']);
    expect(r.code).toBe(69);
    expect(r.stderr).toBe('jr: the API answered HTTP 502 Bad Gateway\n');
    expect(api.requests).toHaveLength(3);
  });
});

describe('the compiled bin', () => {
  const root = path.resolve(__dirname, '../../..');
  const bin = path.join(root, 'apps/cli/bin/jr.js');

  beforeAll(() => {
    if (!existsSync(path.join(root, 'apps/cli/dist/main.js')))
      throw new Error('apps/cli is not built: run `npx tsc -b apps/cli` (npm ci builds it)');
  });

  function spawnJr(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [bin, ...argv],
        {
          env: {
            PATH: process.env.PATH ?? '',
            JR_API_URL: url,
            JR_TOKEN: api.token,
            JR_CONFIG: '/nonexistent/jr-config.yaml',
          },
        },
        (err, stdout, stderr) => {
          resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
        },
      );
    });
  }

  it('submit --json prints one JSON document and exits 0; --wait exits with the outcome', async () => {
    const r = await spawnJr(['submit', '--json', '--', 'echo', 'hi']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ state: 'queued' });
    api.outcome = { state: 'failed', reason: 'attempts_exhausted', exitCode: 1 };
    expect((await spawnJr(['submit', '--wait', '--', 'false'])).code).toBe(6);
  });

  it('Ctrl-C (SIGINT) during jr wait: exit 130, the job goes on, and how to stop it', async () => {
    api.hold = true;
    const id = (await jr(['submit', '--', 'sleep', '1000'])).stdout.trim();
    const child = spawn(process.execPath, [bin, 'wait', id], {
      env: { PATH: process.env.PATH ?? '', JR_API_URL: url, JR_TOKEN: api.token },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await waitFor(() => stderr.includes(`${id} running`), { timeoutMs: 15_000, what: 'jr wait to be polling' });
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toContain(`stopped waiting; job ${id} goes on (jr cancel ${id} stops it)`);
    expect(api.jobs.get(id)?.view.state).toBe('running');
  });

  it('usage errors are 64 without a stack trace', async () => {
    const r = await spawnJr(['submit', '--env', 'A']);
    expect(r.code).toBe(64);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
