import type { JobView } from '@jr/contracts';
import { FakeApi } from './fake-api';
import { jrIn, type JrResult } from './harness';

let api: FakeApi;
let url: string;

const jr = (argv: string[], opts: { tty?: boolean; env?: Record<string, string> } = {}): Promise<JrResult> =>
  jrIn(
    argv,
    {
      JR_API_URL: url,
      JR_TOKEN: api.token,
      JR_REQUEST_TIMEOUT: '5s',
      JR_CONFIG: '/nonexistent/jr-config.yaml',
      ...opts.env,
    },
    opts,
  );

beforeEach(async () => {
  api = new FakeApi();
  url = await api.start();
});

afterEach(async () => {
  await api.stop();
});

const t0 = '2026-01-01T10:00:00.000Z';
const failedJob: Partial<JobView> = {
  name: 'deploy',
  reason: 'exit_code',
  exitCode: 2,
  steps: [
    {
      index: 0,
      name: 'build',
      state: 'succeeded',
      exitCode: 0,
      startedAt: t0,
      endedAt: '2026-01-01T10:00:01.500Z',
      durationMs: 1500,
    },
    {
      index: 1,
      name: 'test',
      state: 'failed',
      exitCode: 2,
      startedAt: '2026-01-01T10:00:01.500Z',
      endedAt: '2026-01-01T10:00:04.500Z',
      durationMs: 3000,
    },
    { index: 2, name: 'ship', state: 'skipped', exitCode: null, startedAt: null, endedAt: null, durationMs: null },
  ],
  failedStep: { index: 1, name: 'test' },
  startedAt: t0,
  endedAt: '2026-01-01T10:00:04.500Z',
  durationMs: 4500,
};

describe('jr status', () => {
  it('lists each step with state, exit code and duration, and names the step that failed', async () => {
    const job = api.addJob('failed', failedJob);
    const r = await jr(['status', job.id]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^failed at: step 2 "test" \(exit code 2\)$/m);
    expect(r.stdout).toMatch(/^run time: {2}4\.5s$/m);
    const steps = r.stdout.slice(r.stdout.indexOf('steps:\n')).split('\n').slice(1, 5);
    expect(steps[0]).toMatch(/^ {2}#\s+NAME\s+STATE\s+EXIT\s+DURATION$/);
    expect(steps[1]).toMatch(/^ {2}1\s+build\s+succeeded\s+0\s+1\.5s$/);
    expect(steps[2]).toMatch(/^ {2}2\s+test\s+failed\s+2\s+3\.0s$/);
    expect(steps[3]).toMatch(/^ {2}3\s+ship\s+skipped\s+-\s+-$/);
    expect(r.stdout).not.toContain('\x1b['); // not a terminal: no colour
  });

  it('shows why a queued job cannot be placed; --json is the whole document', async () => {
    const waiting = {
      code: 'no_agent_with_labels' as const,
      message: 'no active agent in pool web has labels gpu=true',
    };
    const job = api.addJob('queued', { pool: 'web', labels: { gpu: 'true' }, waiting });
    const r = await jr(['status', job.id]);
    expect(r.stdout).toMatch(/^waiting: {3}no active agent in pool web has labels gpu=true$/m);
    const doc = JSON.parse((await jr(['status', job.id, '--json'])).stdout) as JobView;
    expect(doc.waiting).toEqual(waiting);
    expect(doc.steps).toEqual([]);
    expect(doc.failedStep).toBeNull();
  });

  it('neutralises terminal escapes in step names and waiting messages', async () => {
    const job = api.addJob('queued', {
      waiting: { code: 'no_active_agent', message: 'no agent\x1b[2J' },
      steps: [
        {
          index: 0,
          name: 'evil\x1b]0;x\x07',
          state: 'pending',
          exitCode: null,
          startedAt: null,
          endedAt: null,
          durationMs: null,
        },
      ],
    });
    const r = await jr(['status', job.id]);
    expect(r.stdout).not.toContain('\x1b');
    expect(r.stdout).toContain('evil?]0;x?');
  });
});

describe('state colours', () => {
  it('colour states on a terminal, never with NO_COLOR, in --json or into a pipe; FORCE_COLOR forces them', async () => {
    const job = api.addJob('failed', failedJob);
    const red = '\x1b[31mfailed (exit_code)\x1b[0m';
    const tty = await jr(['status', job.id], { tty: true });
    expect(tty.stdout).toContain(red);
    expect(tty.stdout).toContain('\x1b[32msucceeded\x1b[0m');
    expect(tty.stdout).toContain('2  test   \x1b[31mfailed\x1b[0m     2     3.0s'); // padding measured on the plain text
    expect((await jr(['status', job.id], { tty: true, env: { NO_COLOR: '1' } })).stdout).not.toContain('\x1b[');
    expect((await jr(['status', job.id], { tty: true, env: { TERM: 'dumb' } })).stdout).not.toContain('\x1b[');
    expect((await jr(['status', job.id, '--json'], { tty: true })).stdout).not.toContain('\x1b[');
    expect((await jr(['list'], { tty: true })).stdout).toContain('\x1b[31mfailed\x1b[0m');
    expect((await jr(['list'], { env: { FORCE_COLOR: '1' } })).stdout).toContain('\x1b[31mfailed\x1b[0m');
    expect((await jr(['list'], { tty: true, env: { FORCE_COLOR: '0' } })).stdout).not.toContain('\x1b[');
  });
});

describe('jr submit warns when the job cannot be placed', () => {
  const waiting = { code: 'no_agent_with_labels' as const, message: 'no active agent in pool web has labels gpu=true' };

  it('prints the warning on stderr at once; stdout and the exit code are unchanged', async () => {
    api.waiting = waiting;
    const r = await jr(['submit', '--pool', 'web', '--label', 'gpu=true', '--', 'nvidia-smi']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^j_[0-9a-z]+\n$/);
    const id = r.stdout.trim();
    expect(r.stderr).toBe(
      `submitted ${id} (queued)\nwarning: job ${id} waiting: no active agent in pool web has labels gpu=true\n`,
    );
  });

  it('warns with --json too, leaving stdout the one JSON document', async () => {
    api.waiting = waiting;
    const r = await jr(['submit', '--json', '--', 'true']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { id: string };
    expect(r.stderr).toContain(`warning: job ${doc.id} waiting: no active agent in pool web has labels gpu=true\n`);
  });

  it('says nothing when the job can be placed, and a failed glance changes nothing', async () => {
    const placeable = await jr(['submit', '--', 'true']);
    expect(placeable.stderr).not.toContain('warning');
    expect(api.requests.map((q) => q.method)).toEqual(['POST', 'GET']);
    api.waiting = waiting;
    api.dropJobGets = 1; // the glance hits a dropped connection
    const r = await jr(['submit', '--', 'true']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^submitted j_[0-9a-z]+ \(queued\)\n$/);
  });
});

describe('jr list pages', () => {
  function addJobs(n: number): JobView[] {
    return Array.from({ length: n }, (_, i) =>
      api.addJob('succeeded', { name: `job-${i}`, exitCode: 0, durationMs: 1000 * i }),
    );
  }

  it('a full page ends with "more: --cursor X" on stderr, and --cursor X is the next page', async () => {
    const jobs = addJobs(5).reverse(); // newest first
    const first = await jr(['list', '--limit', '2']);
    expect(
      first.stdout
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split(/\s+/)[0]),
    ).toEqual([jobs[0]?.id, jobs[1]?.id]);
    const cursor = /^more: --cursor (\S+)$/m.exec(first.stderr)?.[1];
    expect(cursor).toBeDefined();
    const second = await jr(['list', '--limit', '2', '--cursor', cursor ?? '']);
    expect(
      second.stdout
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split(/\s+/)[0]),
    ).toEqual([jobs[2]?.id, jobs[3]?.id]);
    expect(api.requests[1]?.url).toBe(`/v1/jobs?limit=2&cursor=${cursor}`);
    const last = await jr([
      'list',
      '--limit',
      '2',
      '--cursor',
      /^more: --cursor (\S+)$/m.exec(second.stderr)?.[1] ?? '',
    ]);
    expect(last.stdout.trim().split('\n')).toHaveLength(2);
    expect(last.stderr).toBe('');
  });

  it('shows exit code and duration columns (- when unknown)', async () => {
    const done = api.addJob('failed', { exitCode: 3, durationMs: 65_000 });
    const queued = api.addJob('queued');
    const r = await jr(['list']);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+NAME\s+STATE\s+EXIT\s+DURATION\s+POOL\s+AGE$/);
    expect(lines[1]).toMatch(new RegExp(`^${queued.id}\\s+\\S+\\s+queued\\s+-\\s+-\\s+default\\s`));
    expect(lines[2]).toMatch(new RegExp(`^${done.id}\\s+\\S+\\s+failed\\s+3\\s+1m5s\\s+default\\s`));
  });

  it('--all walks every page into one table or one JSON document', async () => {
    const jobs = addJobs(1203).reverse();
    const r = await jr(['list', '--all', '--state', 'succeeded']);
    expect(r.code).toBe(0);
    const ids = r.stdout
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(/\s+/)[0]);
    expect(ids).toEqual(jobs.map((j) => j.id));
    expect(r.stderr).toBe('');
    expect(api.requests.map((q) => new URL(q.url, 'http://x').searchParams.get('limit'))).toEqual([
      '500',
      '500',
      '500',
    ]);
    const json = JSON.parse((await jr(['list', '--all', '--json'])).stdout) as { items: JobView[]; nextCursor: null };
    expect(json.items).toHaveLength(1203);
    expect(json.nextCursor).toBeNull();
  });

  it('refuses --all with --limit (64), and a server whose cursors go round in circles is 70, not a hang', async () => {
    const both = await jr(['list', '--all', '--limit', '5']);
    expect(both.code).toBe(64);
    expect(both.stderr).toBe('jr: --all walks every page; give --all or --limit, not both\n');
    expect(api.requests).toHaveLength(0);
    const job = api.addJob('succeeded');
    api.pages.push(
      { items: [job], nextCursor: 'c1' },
      { items: [job], nextCursor: 'c2' },
      { items: [job], nextCursor: 'c1' },
    );
    const loop = await jr(['list', '--all']);
    expect(loop.code).toBe(70);
    expect(loop.stderr).toContain('do not end');
  });

  it('a bad cursor is a usage error before any request', async () => {
    const r = await jr(['list', '--cursor', 'a b']);
    expect(r.code).toBe(64);
    expect(r.stderr).toContain("option '--cursor <cursor>' argument 'a b' is invalid. not a cursor");
    expect(api.requests).toHaveLength(0);
  });
});
