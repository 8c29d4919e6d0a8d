import { fakeCli } from './fake-cli.spec-helper';

const { api, jr } = fakeCli();

function fleetView(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'j_f',
    name: 'patch',
    state: 'failed',
    reason: 'rollout_aborted',
    pool: 'web',
    labels: {},
    spec: { name: 'patch', pool: 'web' },
    attempts: [],
    exitCode: null,
    createdAt: '2026-03-01T11:00:00Z',
    updatedAt: '2026-03-01T11:30:00Z',
    steps: [{ index: 0, name: 'step-1', state: 'pending', exitCode: null }],
    targets: {
      total: 12,
      byState: { pending: 0, running: 0, succeeded: 7, failed: 3, undelivered: 2, skipped: 0 },
      batch: 3,
      aborted: true,
    },
    ...over,
  };
}

function target(name: string, state: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    agentId: `a_${name.replace(/\W/g, '').padEnd(20, '0')}`,
    name,
    state,
    exitCode: state === 'succeeded' ? 0 : state === 'failed' ? 2 : null,
    batch: 1,
    jobId: state === 'undelivered' ? null : `j_${name.replace(/\W/g, '')}`,
    startedAt: null,
    endedAt: '2026-03-01T11:20:00Z',
    ...over,
  };
}

describe('jr status of a fleet job', () => {
  beforeEach(() => {
    api.routes = {
      'GET /v1/jobs/j_f': [200, fleetView()],
      'GET /v1/jobs/j_f/targets?limit=500': [
        200,
        { items: [target('web-1', 'succeeded'), target('web-2', 'failed')], nextCursor: 'c2' },
      ],
      'GET /v1/jobs/j_f/targets?limit=500&cursor=c2': [
        200,
        { items: [target('web-3', 'undelivered', { batch: null, endedAt: null })], nextCursor: null },
      ],
    };
  });

  it('shows the counts by state, the batch, the abort, and a table of every target (all pages)', async () => {
    const r = await jr('status', 'j_f');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('state:     failed (rollout_aborted)\n');
    expect(r.stdout).toContain(
      'targets:   12 (succeeded 7, failed 3, undelivered 2)\nbatch:     3\nrollout:   aborted (failures crossed maxFailures: nothing more starts)\n',
    );
    expect(r.stdout).toMatch(/target list:\n {2}NAME +STATE +EXIT +BATCH +RUN +ENDED\n/);
    expect(r.stdout).toMatch(/\n {2}web-1 +succeeded +0 +1 +j_web1 +2026-03-01T11:20:00Z\n/);
    expect(r.stdout).toMatch(/\n {2}web-2 +failed +2 +1 +j_web2 +2026-03-01T11:20:00Z\n/);
    expect(r.stdout).toMatch(/\n {2}web-3 +undelivered +- +- +- +-\n$/);
    // the fleet job runs nothing itself: no steps or attempts tables
    expect(r.stdout).not.toContain('attempts:');
    expect(r.stdout).not.toContain('steps:');
    expect(api.seen).toEqual([
      'GET /v1/jobs/j_f',
      'GET /v1/jobs/j_f/targets?limit=500',
      'GET /v1/jobs/j_f/targets?limit=500&cursor=c2',
    ]);
  });

  it('leaves out the rollout line when it was not aborted, and asks for no targets when there are none', async () => {
    const targets = { total: 0, byState: {}, batch: 0, aborted: false };
    api.routes['GET /v1/jobs/j_f'] = [200, fleetView({ state: 'queued', reason: null, targets })];
    const r = await jr('status', 'j_f');
    expect(r.stdout).toContain('targets:   0\nbatch:     none yet\ntarget list: none\n');
    expect(r.stdout).not.toContain('rollout:');
    expect(api.seen).toEqual(['GET /v1/jobs/j_f']);
  });

  it('--json prints the job with every target as targetList', async () => {
    const r = await jr('status', 'j_f', '--json');
    const doc = JSON.parse(r.stdout) as { id: string; targets: unknown; targetList: Array<{ name: string }> };
    expect(doc.id).toBe('j_f');
    expect(doc.targets).toMatchObject({ total: 12, batch: 3, aborted: true });
    expect(doc.targetList.map((t) => t.name)).toEqual(['web-1', 'web-2', 'web-3']);
    expect(r.stderr).toBe('');
  });

  it('a server whose target pages never end is an unusable answer (70), not a hang', async () => {
    api.routes['GET /v1/jobs/j_f/targets?limit=500&cursor=c2'] = [
      200,
      { items: [target('web-3', 'failed')], nextCursor: 'c2' },
    ];
    const r = await jr('status', 'j_f');
    expect(r.code).toBe(70);
    expect(r.stderr).toContain("the API's pages of targets do not end");
  });
});

describe("jr status of a target's run and of other jobs", () => {
  it("names the run's fleet job and agent", async () => {
    api.routes = {
      'GET /v1/jobs/j_web2': [
        200,
        {
          ...fleetView({ id: 'j_web2', state: 'running', reason: null, targets: undefined }),
          parentId: 'j_f',
          targetAgent: 'a_web2',
          attempts: [{ n: 1, agentId: 'a_web2', state: 'running', exitCode: null, reason: null }],
        },
      ],
    };
    const r = await jr('status', 'j_web2');
    expect(r.stdout).toMatch(/^id: +j_web2\nname: +patch\nfleet job: j_f\nagent: +a_web2\nstate: +running\n/);
    expect(r.stdout).toContain('attempts:\n');
    expect(r.stdout).not.toContain('targets:');
    expect(api.seen).toEqual(['GET /v1/jobs/j_web2']);
  });

  it('a job for one agent is shown as before, and asks for no targets', async () => {
    api.routes = { 'GET /v1/jobs/j_1': [200, fleetView({ id: 'j_1', targets: undefined, state: 'succeeded' })] };
    const r = await jr('status', 'j_1', '--json');
    expect(JSON.parse(r.stdout)).not.toHaveProperty('targetList');
    expect((await jr('status', 'j_1')).stdout).toContain('steps:\n');
    expect(api.seen).toEqual(['GET /v1/jobs/j_1', 'GET /v1/jobs/j_1']);
  });
});
