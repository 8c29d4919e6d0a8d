import { fakeCli } from './fake-cli.spec-helper';

const { api, jr, jrWith, sleeps } = fakeCli();

function fleet(state: string, byState: Record<string, number>, over: Record<string, unknown> = {}): unknown {
  const total = Object.values(byState).reduce((a, b) => a + b, 0);
  return {
    id: 'j_f',
    state,
    reason: null,
    attempts: [],
    exitCode: null,
    durationMs: state === 'running' ? null : 90_000,
    targets: { total, byState, batch: 3, aborted: false },
    ...over,
  };
}

const running1 = fleet('running', { pending: 26, running: 4, succeeded: 8, failed: 2 });
const running2 = fleet('running', { pending: 20, running: 4, succeeded: 13, failed: 3 });
const aborted = fleet(
  'failed',
  { succeeded: 13, failed: 3, skipped: 24 },
  {
    reason: 'rollout_aborted',
    targets: { total: 40, byState: { succeeded: 13, failed: 3, skipped: 24 }, batch: 4, aborted: true },
  },
);

describe('jr wait on a fleet job', () => {
  it('shows done/total, failures and the batch on a TTY, polls about every second, and streams no output', async () => {
    api.routes = {
      'GET /v1/jobs/j_f': [
        [200, running1],
        [200, running2],
        [200, aborted],
      ],
    };
    const r = await jrWith({ tty: true }, 'wait', 'j_f');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('j_f 10/40 done, 2 failed, batch 3 · ');
    expect(r.stderr).toContain('j_f 16/40 done, 3 failed, batch 3 · ');
    expect(r.stderr).toContain(
      'j_f failed (rollout_aborted) after 1m30s · targets: 40 (succeeded 13, failed 3, skipped 24)\n',
    );
    expect(r.stdout).toBe('');
    expect(sleeps).toEqual([1_000, 1_000]);
    expect(api.seen.filter((l) => l.includes('/logs'))).toEqual([]);
  });

  it('without a TTY: one line per change of the progress, then the outcome', async () => {
    api.routes = {
      'GET /v1/jobs/j_f': [
        [200, running1],
        [200, running1],
        [200, running2],
        [200, aborted],
      ],
    };
    const r = await jr('wait', 'j_f');
    expect(r.stderr).toBe(
      'j_f 10/40 done, 2 failed, batch 3\n' +
        'j_f 16/40 done, 3 failed, batch 3\n' +
        'j_f failed (rollout_aborted) after 1m30s · targets: 40 (succeeded 13, failed 3, skipped 24)\n',
    );
  });

  it.each([
    ['succeeded', null, 0],
    ['failed', 'rollout_aborted', 1],
    ['failed', 'success_criteria_unmet', 1],
    ['failed', 'no_targets', 1],
    ['failed', 'a_reason_from_a_newer_api', 1],
    ['cancelled', 'cancelled', 2],
  ])('exits by the fleet job outcome: %s (%s) → %d', async (state, reason, code) => {
    api.routes = { 'GET /v1/jobs/j_f': [200, fleet(state, { succeeded: 1 }, { reason })] };
    expect((await jr('wait', 'j_f', '-q')).code).toBe(code);
  });

  it('--json prints the final view (with its targets) and nothing else on stdout', async () => {
    api.routes = {
      'GET /v1/jobs/j_f': [
        [200, running1],
        [200, aborted],
      ],
    };
    const r = await jr('wait', 'j_f', '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ id: 'j_f', reason: 'rollout_aborted', targets: { aborted: true } });
  });
});

describe('jr submit --wait of a fleet job', () => {
  it('waits for the fleet job without following output, even before the API shows its targets', async () => {
    const queued = { id: 'j_f', state: 'queued', reason: null, attempts: [], exitCode: null };
    api.routes = {
      'POST /v1/jobs': [202, { id: 'j_f', state: 'queued' }],
      'GET /v1/jobs/j_f': [
        [200, queued],
        [200, queued],
        [200, running1],
        [200, fleet('succeeded', { succeeded: 40 })],
      ],
    };
    const r = await jr('submit', '--all', '--batch', '25%', '--wait', '--', './patch');
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('submitted j_f (queued)\n');
    expect(r.stderr).toContain('j_f succeeded after 1m30s · targets: 40 (succeeded 40)\n');
    expect(api.seen.filter((l) => l.includes('/logs'))).toEqual([]);
    expect(api.bodies[0]).toEqual({ steps: [{ run: ['./patch'] }], targets: { all: true }, rollout: { batch: '25%' } });
  });
});
