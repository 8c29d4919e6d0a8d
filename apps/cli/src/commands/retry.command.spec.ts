import { parseJobSpec, TARGET_STATES, type NormalizedJob } from '@jr/contracts';
import { fleetSpecSchema } from '../api-schemas';
import { retryDocument } from './retry.command';
import { fakeCli } from './fake-cli.spec-helper';

const { api, jr } = fakeCli();

/** The original fleet job as a user wrote it; the view carries its normalized form. */
const ORIGINAL = {
  name: 'patch web',
  pool: 'web',
  timeout: '1h',
  retries: 1,
  env: { STAGE: 'prod' },
  uses: [{ url: 'https://example.com/patch.tgz', sha256: 'a'.repeat(64) }],
  steps: [{ name: 'apply', run: ['./patch', '--now'], timeout: '10m', retries: 2 }, { run: 'systemctl restart app' }],
  atMostOnce: true,
  targets: { labels: { role: 'web' }, continuous: true },
  rollout: {
    batch: '12.5%',
    mode: 'batching',
    maxFailures: 2,
    minSample: 4,
    deliveryTimeout: '10m',
    pause: '1500ms',
    undeliveredCountsAsFailure: true,
    successCriteria: { minSucceeded: '90%' },
  },
};

function normalized(doc: unknown): NormalizedJob {
  const parsed = parseJobSpec(doc);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.job;
}

const agentId = (i: number): string => `a_${String(i).padStart(20, '0')}`;

/** One target in each state, in TARGET_STATES order: agent i is in state i. */
const TARGETS = TARGET_STATES.map((state, i) => ({
  agentId: agentId(i),
  name: `web-${i}`,
  state,
  exitCode: null,
  batch: 1,
  jobId: state === 'pending' || state === 'skipped' || state === 'undelivered' ? null : `j_run${i}`,
  startedAt: null,
  endedAt: null,
}));

function view(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'j_f',
    state: 'failed',
    reason: 'rollout_aborted',
    attempts: [],
    exitCode: null,
    spec: normalized(ORIGINAL),
    targets: { total: 8, byState: Object.fromEntries(TARGET_STATES.map((s) => [s, 1])), batch: 2, aborted: true },
    ...over,
  };
}

function routes(over: Record<string, unknown> = {}, targets: unknown[] = TARGETS): void {
  api.routes = {
    'GET /v1/jobs/j_f': [200, view(over)],
    'GET /v1/jobs/j_f/targets?limit=500': [200, { items: targets, nextCursor: null }],
    'POST /v1/jobs': [202, { id: 'j_new', state: 'queued' }],
  };
}

describe('the retry document', () => {
  const spec = fleetSpecSchema.parse(JSON.parse(JSON.stringify(normalized(ORIGINAL))));

  it('is the original job from its normalized spec, over the given agents, with the original rollout', () => {
    expect(retryDocument(spec, [agentId(3), agentId(4)])).toEqual({
      name: 'patch web',
      pool: 'web',
      timeout: '3600s',
      retries: 1,
      env: { STAGE: 'prod' },
      uses: [{ url: 'https://example.com/patch.tgz', sha256: 'a'.repeat(64) }],
      steps: [
        { name: 'apply', run: ['./patch', '--now'], timeout: '600s', retries: 2 },
        { name: 'step-2', run: 'systemctl restart app' },
      ],
      atMostOnce: true,
      targets: { pool: 'web', agents: [agentId(3), agentId(4)] },
      rollout: {
        batch: '12.5%',
        mode: 'batching',
        maxFailures: 2,
        minSample: 4,
        deliveryTimeout: '600s',
        pause: '1500ms',
        undeliveredCountsAsFailure: true,
        successCriteria: { minSucceeded: '90%' },
      },
    });
  });

  it('normalizes back to the same job and rollout (round trip), only the targets differ', () => {
    const before = normalized(ORIGINAL);
    const after = normalized(retryDocument(spec, [agentId(3)]));
    expect(after.fleet?.rollout).toEqual(before.fleet?.rollout);
    expect(after.fleet?.targets).toEqual({ kind: 'agents', pool: 'web', agents: [{ kind: 'id', id: agentId(3) }] });
    expect({ ...after, fleet: undefined }).toEqual({ ...before, fleet: undefined });
  });

  it('round-trips the defaults too: a count batch, no success criteria, a job without name, pool or timeouts', () => {
    const plain = normalized({ steps: [{ run: 'true' }], targets: { pool: 'db', all: true }, rollout: { batch: 3 } });
    const doc = retryDocument(fleetSpecSchema.parse(plain), [agentId(1)]);
    expect(doc.rollout).toEqual({
      batch: 3,
      mode: 'rolling',
      maxFailures: 0,
      minSample: 0,
      deliveryTimeout: '600s',
      pause: '0s',
      undeliveredCountsAsFailure: false,
    });
    expect(normalized(doc).fleet?.rollout).toEqual(plain.fleet?.rollout);
    expect(normalized(doc).pool).toBe('db');
  });
});

describe('jr retry', () => {
  it('--failed submits the job over the failed, timed-out and cancelled targets and prints the new id', async () => {
    routes();
    const r = await jr('retry', 'j_f', '--failed');
    expect(r).toEqual({ code: 0, stdout: 'j_new\n', stderr: 'submitted j_new (queued): 3 failed targets of j_f\n' });
    const body = api.bodies[0] as { targets: unknown; rollout: unknown; signature?: unknown };
    expect(body.targets).toEqual({ pool: 'web', agents: [agentId(3), agentId(4), agentId(5)] });
    expect(body.rollout).toMatchObject({ batch: '12.5%', maxFailures: 2 });
    expect(api.seen).toEqual(['GET /v1/jobs/j_f', 'GET /v1/jobs/j_f/targets?limit=500', 'POST /v1/jobs']);
  });

  it('--remaining takes the targets that never ran: pending, skipped, undelivered; --json says how many', async () => {
    routes();
    const r = await jr('retry', 'j_f', '--remaining', '--json');
    expect(JSON.parse(r.stdout)).toEqual({ id: 'j_new', state: 'queued', targets: 3 });
    expect((api.bodies[0] as { targets: unknown }).targets).toEqual({
      pool: 'web',
      agents: [agentId(0), agentId(6), agentId(7)],
    });
  });

  it('nothing selected: exit 0, nothing submitted', async () => {
    const ok = TARGETS.filter((t) => t.state === 'succeeded');
    routes({}, ok);
    expect(await jr('retry', 'j_f', '--failed')).toEqual({
      code: 0,
      stdout: '',
      stderr: 'nothing to retry: no target is failed/timed_out/cancelled\n',
    });
    expect((await jr('retry', 'j_f', '--remaining')).stderr).toBe(
      'nothing to retry: no target is pending/skipped/undelivered\n',
    );
    expect(api.seen.filter((l) => l.startsWith('POST'))).toEqual([]);
  });

  it('refuses a job with secrets (64): their values cannot be read back', async () => {
    routes({ spec: { ...normalized(ORIGINAL), secrets: ['DB_PASSWORD'] } });
    const r = await jr('retry', 'j_f', '--failed');
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/^jr: job j_f has secrets \(DB_PASSWORD\) .* resubmit it with the values, jr submit -f/);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(api.seen.filter((l) => l.startsWith('POST'))).toEqual([]);
  });

  it.each([
    [[], 'say which targets: --failed'],
    [['--failed', '--remaining'], '--failed or --remaining, not both'],
  ])('%j exits 64 without asking the API', async (flags, message) => {
    const r = await jr('retry', 'j_f', ...flags);
    expect({ code: r.code, said: r.stderr.includes(message) }).toEqual({ code: 64, said: true });
    expect(api.seen).toEqual([]);
  });

  it('refuses a job that is not a fleet job, and --remaining while the fleet job still runs (64)', async () => {
    routes({ targets: undefined });
    expect((await jr('retry', 'j_f', '--failed')).stderr).toContain('is not a fleet job');
    routes({ state: 'running', reason: null });
    const r = await jr('retry', 'j_f', '--remaining');
    expect(r.code).toBe(64);
    expect(r.stderr).toContain('job j_f is running: its pending targets may still run');
    // --failed targets have ended: they may be retried while the rest of the rollout goes on
    expect((await jr('retry', 'j_f', '--failed')).code).toBe(0);
  });

  it('a view without a usable spec is an unusable answer (70)', async () => {
    routes({ spec: { name: 'x' } });
    const r = await jr('retry', 'j_f', '--failed');
    expect(r.code).toBe(70);
    expect(r.stderr).toContain("the API's view of job j_f has no job to retry");
  });

  it('--wait waits for the new fleet job and exits with its outcome', async () => {
    routes();
    const done = view({ id: 'j_new', state: 'succeeded', reason: null, durationMs: 5_000 });
    api.routes['GET /v1/jobs/j_new'] = [200, { ...done, targets: { total: 3, byState: { succeeded: 3 }, batch: 1 } }];
    const r = await jr('retry', 'j_f', '--failed', '--wait');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('j_new\n');
    expect(r.stderr).toContain('j_new succeeded after 5.0s · targets: 3 (succeeded 3)\n');
    expect(api.seen.filter((l) => l.includes('/logs'))).toEqual([]);
  });
});
