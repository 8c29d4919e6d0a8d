import { policy, simulate, type SimAgent } from './rollout-test-helpers';

/** Whole fleet jobs played in fake time by the planner alone: what the end-to-end tests will see. */

const agents = (n: number, each: (i: number) => Partial<SimAgent> = () => ({})): SimAgent[] =>
  Array.from({ length: n }, (_, i) => ({ id: `a${String(i + 1).padStart(2, '0')}`, runMs: 10_000, ...each(i + 1) }));

describe("issue 13's scenario: 12 agents, 3 stopped (one back within the deadline), rolling 25 %, maxFailures 2", () => {
  const rollout = policy({
    batch: { kind: 'percent', p: 25 },
    maxFailures: { kind: 'count', n: 2 },
    deliveryTimeoutMs: 60_000,
  });
  // a01-a03 stopped before the job starts; a02 started again at 20 s; a04-a06 fail
  const fleet = agents(12, (i) => ({
    ...(i === 1 || i === 3 ? { onlineAtMs: Infinity } : {}),
    ...(i === 2 ? { onlineAtMs: 20_000 } : {}),
    ...(i >= 4 && i <= 6 ? { result: 'failed' as const } : {}),
  }));

  it('aborts after the third failure: the rest skipped, the returning agent ran, the stopped ones undelivered', () => {
    const r = simulate(rollout, fleet);
    expect(r.outcome).toEqual({ state: 'failed', reason: 'rollout_aborted' });
    expect(r.states).toEqual({
      a01: 'undelivered',
      a02: 'succeeded',
      a03: 'undelivered',
      a04: 'failed',
      a05: 'failed',
      a06: 'failed',
      ...Object.fromEntries(['a07', 'a08', 'a09', 'a10', 'a11', 'a12'].map((id) => [id, 'skipped'])),
    });
    // the stopped agents held two of the three slots until their deadline: a rollout never has more in flight
    expect(r.starts.map((s) => [s.agentId, s.atMs])).toEqual([
      ['a02', 20_000],
      ['a04', 30_000],
      ['a05', 40_000],
      ['a06', 50_000],
    ]);
    expect(r.abortedAtMs).toBe(60_000);
  });

  it('`jr retry --remaining` covers exactly the targets that never ran', () => {
    const { states } = simulate(rollout, fleet);
    const remaining = Object.keys(states).filter((id) => ['undelivered', 'skipped'].includes(states[id]!));
    expect(remaining).toEqual(['a01', 'a03', 'a07', 'a08', 'a09', 'a10', 'a11', 'a12']);
  });

  it('a due target whose agent comes back after the abort is skipped, not run', () => {
    // a01 and a02 hold two slots; a03-a05 fail one after the other before a02 is back at 45 s
    const late = agents(12, (i) => ({
      ...(i === 1 ? { onlineAtMs: Infinity } : i === 2 ? { onlineAtMs: 45_000 } : {}),
      ...(i >= 3 && i <= 5 ? { result: 'failed' as const } : {}),
    }));
    const r = simulate(policy({ ...rollout, deliveryTimeoutMs: 120_000 }), late);
    expect(r.outcome).toEqual({ state: 'failed', reason: 'rollout_aborted' });
    expect(r.abortedAtMs).toBe(30_000);
    expect([r.states.a01, r.states.a02]).toEqual(['skipped', 'skipped']); // their deadline had not come
    expect(r.starts.map((s) => s.agentId)).toEqual(['a03', 'a04', 'a05']);
  });
});

describe('rollouts over healthy fleets', () => {
  it('rolling keeps batchSize in flight, starts each target once, in order', () => {
    const fleet = agents(40, (i) => ({ runMs: 1_000 + ((i * 7_919) % 5_000) }));
    const r = simulate(policy({ batch: { kind: 'percent', p: 10 } }), fleet);
    expect(r.outcome).toEqual({ state: 'succeeded', reason: null });
    expect(r.peakRunning).toBe(4);
    expect(r.starts.map((s) => s.agentId)).toEqual(fleet.map((a) => a.id));
    expect(new Set(r.starts.map((s) => s.agentId)).size).toBe(40);
    expect(r.starts.at(-1)?.batch).toBe(10);
  });

  it('batching waits for the whole batch and the pause', () => {
    const fleet = agents(12, (i) => ({ runMs: i === 2 ? 25_000 : 10_000 }));
    const r = simulate(policy({ mode: 'batching', batch: { kind: 'count', n: 4 }, pauseMs: 30_000 }), fleet);
    expect(r.outcome).toEqual({ state: 'succeeded', reason: null });
    const startTimes = [...new Set(r.starts.map((s) => s.atMs))];
    expect(startTimes).toEqual([0, 55_000, 95_000]); // a02 ended at 25 s, + 30 s; then 10 s + 30 s
    expect(r.endedAtMs).toBe(105_000);
  });

  it('rolling with a bake time refills a slot only after the pause that followed its end', () => {
    const r = simulate(policy({ batch: { kind: 'count', n: 2 }, pauseMs: 5_000 }), agents(4));
    expect(r.starts.map((s) => s.atMs)).toEqual([0, 0, 15_000, 15_000]);
    expect(r.endedAtMs).toBe(25_000);
  });

  it('an offline agent ends undelivered and fails the job unless the success criteria allow for it', () => {
    const fleet = agents(10, (i) => (i === 5 ? { onlineAtMs: Infinity } : {}));
    const strict = simulate(policy({ batch: { kind: 'count', n: 3 }, deliveryTimeoutMs: 30_000 }), fleet);
    expect(strict.states.a05).toBe('undelivered');
    expect(strict.outcome).toEqual({ state: 'failed', reason: 'success_criteria_unmet' });
    const lenient = policy({
      batch: { kind: 'count', n: 3 },
      deliveryTimeoutMs: 30_000,
      successCriteria: { minSucceeded: { kind: 'percent', p: 90 } },
    });
    expect(simulate(lenient, fleet).outcome).toEqual({ state: 'succeeded', reason: null });
  });

  it('minSample holds the verdict until enough targets ended, then aborts', () => {
    const fleet = agents(10, (i) => (i <= 2 ? { result: 'failed' } : {}));
    const r = simulate(policy({ batch: { kind: 'count', n: 1 }, minSample: 4 }), fleet);
    expect(r.outcome?.reason).toBe('rollout_aborted');
    expect(r.starts.map((s) => s.agentId)).toEqual(['a01', 'a02', 'a03', 'a04']);
  });
});
