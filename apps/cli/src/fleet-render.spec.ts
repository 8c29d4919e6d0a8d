import { jobViewSchema, targetViewSchema, type TargetAnswer } from './api-schemas';
import { colorsFor } from './colors';
import { fleetFields, fleetProgressLine, renderTargets, runFields, stateCounts } from './fleet-render';
import { summary } from './job-waiter';
import { describe as describeJob } from './progress';

const plain = colorsFor({ write: () => true }, { NO_COLOR: '1' });
const colored = colorsFor({ write: () => true }, { FORCE_COLOR: '1' });

function progress(byState: Record<string, number>, batch = 3, aborted = false) {
  const total = Object.values(byState).reduce((a, b) => a + b, 0);
  return { total, byState, batch, aborted };
}

function fleetJob(over: Record<string, unknown> = {}) {
  return jobViewSchema.parse({
    id: 'j_fleet',
    state: 'running',
    attempts: [],
    exitCode: null,
    targets: progress({ pending: 28, running: 2, succeeded: 8, failed: 1, timed_out: 1 }),
    ...over,
  });
}

function target(i: number, over: Record<string, unknown> = {}): TargetAnswer {
  return targetViewSchema.parse({
    agentId: `a_${String(i).padStart(20, '0')}`,
    name: `web-${i}`,
    state: 'succeeded',
    exitCode: 0,
    batch: 1,
    jobId: `j_run${i}`,
    startedAt: '2026-03-01T11:00:00Z',
    endedAt: '2026-03-01T11:01:00.250Z',
    ...over,
  });
}

describe('fleet counts', () => {
  it('lists the states that have targets, in the contract order, then states a newer API added', () => {
    expect(stateCounts(progress({ undelivered: 2, succeeded: 7, failed: 3, pending: 0 }))).toBe(
      '12 (succeeded 7, failed 3, undelivered 2)',
    );
    expect(stateCounts(progress({ running: 1, 'paused\u001b[31m': 2 }))).toBe('3 (running 1, paused?[31m 2)');
    expect(stateCounts({ total: 0, byState: {}, batch: 0, aborted: false })).toBe('0');
  });

  it('status fields: targets, batch, and rollout only when aborted', () => {
    expect(fleetFields(progress({ succeeded: 1 }, 0))).toEqual([
      ['targets', '1 (succeeded 1)'],
      ['batch', 'none yet'],
    ]);
    expect(fleetFields(progress({ failed: 3, skipped: 9 }, 2, true))).toEqual([
      ['targets', '12 (failed 3, skipped 9)'],
      ['batch', '2'],
      ['rollout', 'aborted (failures crossed maxFailures: nothing more starts)'],
    ]);
  });

  it("a target's run names its fleet job and agent; other jobs get nothing", () => {
    const run = jobViewSchema.parse({ id: 'j_r', state: 'running', parentId: 'j_f', targetAgent: 'a_1' });
    expect(runFields(run)).toEqual([
      ['fleet job', 'j_f'],
      ['agent', 'a_1'],
    ]);
    expect(runFields(fleetJob())).toEqual([]);
  });
});

describe('wait progress of a fleet job', () => {
  it('says done/total, failures and the batch', () => {
    expect(fleetProgressLine(fleetJob(), fleetJob().targets!)).toBe('10/40 done, 2 failed, batch 3');
    expect(describeJob(fleetJob())).toBe('10/40 done, 2 failed, batch 3');
  });

  it('adds undelivered targets, an aborted rollout, and the state while not running', () => {
    const job = fleetJob({ state: 'queued', targets: progress({ undelivered: 2, failed: 3, skipped: 5 }, 2, true) });
    expect(describeJob(job)).toBe('queued, 10/10 done, 3 failed, 2 undelivered, batch 2, rollout aborted');
    expect(describeJob(fleetJob({ targets: progress({}, 0) }))).toBe('0/0 done, 0 failed');
  });

  it('ends with the targets by state on the outcome line', () => {
    const done = fleetJob({
      state: 'failed',
      reason: 'rollout_aborted',
      durationMs: 65_000,
      targets: progress({ succeeded: 7, failed: 3, skipped: 2 }, 3, true),
    });
    expect(summary(done)).toBe(
      'j_fleet failed (rollout_aborted) after 1m5s · targets: 12 (succeeded 7, failed 3, skipped 2)',
    );
  });
});

describe('targets table', () => {
  it('one row per target: NAME STATE EXIT BATCH RUN ENDED, dashes for what is not there yet', () => {
    const text = renderTargets(
      'j_fleet',
      [target(1), target(2, { state: 'pending', exitCode: null, batch: null, jobId: null, endedAt: null })],
      plain,
    );
    expect(text.split('\n')).toEqual([
      'target list:',
      '  NAME   STATE      EXIT  BATCH  RUN     ENDED',
      '  web-1  succeeded  0     1      j_run1  2026-03-01T11:01:00Z',
      '  web-2  pending    -     -      -       -',
      '',
    ]);
  });

  it('colours the state as job states are, and names a target without a name by its agent id', () => {
    const text = renderTargets('j_fleet', [target(1, { state: 'failed', exitCode: 2, name: '' })], colored);
    expect(text).toContain('a_00000000000000000001  \u001b[31mfailed\u001b[0m  2');
  });

  it('prints at most 200 rows, then how many more and where to see them', () => {
    const many = Array.from({ length: 250 }, (_, i) => target(i));
    const lines = renderTargets('j_fleet', many, plain).trimEnd().split('\n');
    expect(lines).toHaveLength(1 + 1 + 200 + 1);
    expect(lines.at(-1)).toBe('  … 50 more (jr status j_fleet --json)');
    expect(renderTargets('j_fleet', [], plain)).toBe('target list: none\n');
  });

  it('cleans what the server sent', () => {
    const text = renderTargets('j_fleet', [target(1, { name: 'evil\u001b]0;x\u0007', jobId: 'j\nx' })], plain);
    expect(text).toContain('evil?]0;x?');
    expect(text).toContain('j?x');
  });
});
