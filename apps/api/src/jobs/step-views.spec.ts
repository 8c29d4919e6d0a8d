import type { NormalizedJob } from '@jr/contracts';
import { runTime, stepViews, type StepEventRow } from './step-views';

const spec = (n: number, retries = 0): NormalizedJob => ({
  name: 'j',
  pool: 'default',
  labels: {},
  timeoutMs: 0,
  retries: 0,
  env: {},
  uses: [],
  steps: Array.from({ length: n }, (_, i) => ({ name: `s${i}`, run: 'true', timeoutMs: 0, retries })),
});
const at = (ms: number) => new Date(ms).toISOString();
const start = (step: number, seq: number, ms: number, attemptTry: unknown = 1): StepEventRow => ({
  step,
  kind: 'step_started',
  seq,
  at: at(ms),
  detail: { name: 'x', try: attemptTry },
});
const finish = (step: number, seq: number, ms: number, detail: unknown): StepEventRow => ({
  step,
  kind: 'step_finished',
  seq: String(seq),
  at: at(ms),
  detail,
});
const running = { state: 'running' as const, endedAt: null };

describe('stepViews', () => {
  it('all pending before an attempt started, whatever events there are', () => {
    const v = stepViews(spec(2), undefined, [start(0, 1, 0)], 10);
    expect(v.steps.map((s) => s.state)).toEqual(['pending', 'pending']);
    expect(v.failedStep).toBeNull();
  });

  it('reads what an agent may send that is odd: unknown outcome, non-integer exit code, bad timestamps, a finish without a start', () => {
    const events: StepEventRow[] = [
      finish(0, 2, 1_000, { exitCode: 0, outcome: 'weird' }),
      start(1, 3, 2_000),
      finish(1, 4, 3_000, { exitCode: 1.5, outcome: 'constructor' }),
      { step: 2, kind: 'step_started', seq: 5, at: 'not a date', detail: null },
    ];
    const v = stepViews(spec(3), { state: 'failed', endedAt: new Date(3_500) }, events, 10_000);
    expect(v.steps.map((s) => [s.state, s.exitCode, s.durationMs])).toEqual([
      ['succeeded', 0, null],
      ['failed', null, 1_000],
      ['skipped', null, null],
    ]);
    expect(v.failedStep).toEqual({ index: 1, name: 's1' });
  });

  it('a finish from an earlier try does not end a step whose later try runs; rows in any order', () => {
    const events = [
      start(0, 3, 5_000, 2),
      finish(0, 2, 4_000, { exitCode: 9, outcome: 'failed' }),
      start(0, 1, 1_000, 1),
    ];
    const v = stepViews(spec(1, 1), running, events, 6_000);
    expect(v.steps[0]).toMatchObject({ state: 'running', exitCode: null, startedAt: at(5_000), durationMs: 1_000 });
  });

  it('a step left running when its attempt ended ends as the attempt did (lost: failed); durations never go negative', () => {
    const events = [start(0, 1, 9_000)];
    expect(
      stepViews(spec(2), { state: 'cancelled', endedAt: new Date(8_000) }, events, 0).steps.map((s) => [
        s.state,
        s.durationMs,
      ]),
    ).toEqual([
      ['cancelled', 0],
      ['skipped', null],
    ]);
    expect(stepViews(spec(1), { state: 'lost', endedAt: null }, events, 0).steps[0]).toMatchObject({
      state: 'failed',
      endedAt: null,
    });
  });
});

describe('runTime', () => {
  it('null before a start; to now while not over; first start to the last end once terminal', () => {
    expect(runTime({ state: 'queued', ended_at: null }, [{ started_at: null, ended_at: null }], 5)).toEqual({
      startedAt: null,
      endedAt: null,
      durationMs: null,
    });
    const attempts = [
      { started_at: new Date(1_000), ended_at: new Date(2_000) },
      { started_at: new Date(3_000), ended_at: null },
    ];
    expect(runTime({ state: 'running', ended_at: null }, attempts, 4_500)).toEqual({
      startedAt: at(1_000),
      endedAt: null,
      durationMs: 3_500,
    });
    const ended = [attempts[0] as (typeof attempts)[0], { started_at: new Date(3_000), ended_at: new Date(6_000) }];
    expect(runTime({ state: 'failed', ended_at: new Date(9_000) }, ended, 99_000)).toEqual({
      startedAt: at(1_000),
      endedAt: at(6_000),
      durationMs: 5_000,
    });
    expect(
      runTime(
        { state: 'cancelled', ended_at: new Date(9_000) },
        [{ started_at: new Date(1_000), ended_at: null }],
        99_000,
      ).endedAt,
    ).toBe(at(9_000));
  });
});
