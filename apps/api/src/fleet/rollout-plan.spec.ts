import { planStep } from './rollout-plan';
import { apply, policy, snapshot, target, targets } from './rollout-test-helpers';
import type { PlanTarget, RolloutPolicy } from './rollout-types';

const ids = (list: Array<{ agentId: string }>) => list.map((t) => t.agentId);
const rolling25 = policy({ batch: { kind: 'percent', p: 25 }, maxFailures: { kind: 'count', n: 2 } });
const ended = (state: PlanTarget['state'], batch: number, endedAtMs = 0): Partial<PlanTarget> => ({
  state,
  due: { batch, sinceMs: 0 },
  endedAtMs,
});

describe('planStep: rolling', () => {
  it('starts batchSize targets in the given order, batch 1', () => {
    const step = planStep(snapshot(rolling25, targets(12)), 1_000);
    expect(step.due).toEqual([1, 2, 3].map((i) => ({ agentId: `a0${i}`, batch: 1 })));
    expect(step.start).toEqual(step.due);
    expect(step).toMatchObject({ undeliver: [], skip: [], abort: false, done: null, currentBatch: 1 });
    expect(step.waitUntilMs).toBeUndefined();
  });

  it('refills a slot as soon as a target ends; every batchSize starts make a batch number', () => {
    const list = targets(12);
    list[0] = target('a01', ended('succeeded', 1));
    list[1] = target('a02', { state: 'running', due: { batch: 1, sinceMs: 0 } });
    list[2] = target('a03', { state: 'running', due: { batch: 1, sinceMs: 0 } });
    const step = planStep(snapshot(rolling25, list), 5_000);
    expect(step.start).toEqual([{ agentId: 'a04', batch: 2 }]);
    expect(step.currentBatch).toBe(2);
  });

  it('does not start anything while batchSize targets are in flight', () => {
    const list = targets(12);
    for (const i of [0, 1, 2]) list[i] = target(`a0${i + 1}`, { state: 'running', due: { batch: 1, sinceMs: 0 } });
    const step = planStep(snapshot(rolling25, list), 5_000);
    expect(step.due).toEqual([]);
    expect(step.start).toEqual([]);
  });

  it('with a pause, keeps a freed slot for the bake time after the end that freed it', () => {
    const p = policy({ batch: { kind: 'count', n: 2 }, pauseMs: 30_000 });
    const list = [target('a', ended('succeeded', 1, 10_000)), target('b', ended('succeeded', 1, 20_000))];
    list.push(target('c'), target('d'));
    expect(planStep(snapshot(p, list), 39_999)).toMatchObject({ start: [], waitUntilMs: 40_000 });
    expect(ids(planStep(snapshot(p, list), 40_000).start)).toEqual(['c']);
    expect(ids(planStep(snapshot(p, list), 50_000).start)).toEqual(['c', 'd']);
  });

  it('an undelivered target frees its slot at once (it ran nothing to bake)', () => {
    const p = policy({ batch: { kind: 'count', n: 1 }, pauseMs: 30_000 });
    const list = [target('a', ended('undelivered', 1, 10_000)), target('b')];
    expect(ids(planStep(snapshot(p, list), 10_001).start)).toEqual(['b']);
  });
});

describe('planStep: batching', () => {
  const p = policy({ mode: 'batching', batch: { kind: 'count', n: 2 }, maxFailures: { kind: 'count', n: 5 } });

  it('starts the next batch only when every target of the last one ended', () => {
    const list = [target('a', ended('succeeded', 1)), target('b', { state: 'running', due: { batch: 1, sinceMs: 0 } })];
    list.push(target('c'), target('d'), target('e'));
    expect(planStep(snapshot(p, list), 1_000).start).toEqual([]);
    list[1] = target('b', ended('failed', 1));
    const step = planStep(snapshot(p, list), 1_000);
    expect(step.start).toEqual([
      { agentId: 'c', batch: 2 },
      { agentId: 'd', batch: 2 },
    ]);
    expect(step.currentBatch).toBe(2);
  });

  it('waits `pause` after the last target of the batch ended', () => {
    const paused: RolloutPolicy = { ...p, pauseMs: 60_000 };
    const list = [target('a', ended('succeeded', 1, 5_000)), target('b', ended('succeeded', 1, 9_000)), target('c')];
    expect(planStep(snapshot(paused, list), 68_999)).toMatchObject({ start: [], waitUntilMs: 69_000 });
    expect(ids(planStep(snapshot(paused, list), 69_000).start)).toEqual(['c']);
  });

  it('does not pause before the first batch', () => {
    expect(ids(planStep(snapshot({ ...p, pauseMs: 60_000 }, targets(3)), 0).start)).toEqual(['a01', 'a02']);
  });
});

describe('planStep: offline agents and the delivery deadline', () => {
  const p = policy({ batch: { kind: 'count', n: 2 }, deliveryTimeoutMs: 60_000 });

  it('a due target whose agent is offline holds its slot and is not started', () => {
    const list = [target('a', { online: false }), target('b'), target('c')];
    const step = planStep(snapshot(p, list), 1_000);
    expect(ids(step.due)).toEqual(['a', 'b']);
    expect(ids(step.start)).toEqual(['b']);
    expect(step.waitUntilMs).toBe(61_000); // a's delivery deadline
  });

  it('starts it when its agent comes back before the deadline', () => {
    const list = [target('a', { due: { batch: 1, sinceMs: 1_000 } }), target('b')];
    expect(planStep(snapshot(p, list), 60_999).start).toEqual([
      { agentId: 'a', batch: 1 },
      { agentId: 'b', batch: 1 },
    ]);
  });

  it('ends it undelivered at the deadline, counted from when it became due, and gives the slot on', () => {
    const list = [target('a', { online: false, due: { batch: 1, sinceMs: 1_000 } })];
    list.push(target('b', { state: 'running', due: { batch: 1, sinceMs: 1_000 } }), target('c'));
    expect(planStep(snapshot(p, list), 60_999)).toMatchObject({ undeliver: [], start: [], waitUntilMs: 61_000 });
    const step = planStep(snapshot(p, list), 61_000);
    expect(step.undeliver).toEqual(['a']);
    expect(step.start).toEqual([{ agentId: 'c', batch: 2 }]);
  });

  it('the deadline is strict: an agent arriving at the deadline is too late', () => {
    const list = [target('a', { online: true, due: { batch: 1, sinceMs: 0 } })];
    expect(planStep(snapshot(p, list), 60_000)).toMatchObject({ undeliver: ['a'], start: [] });
  });

  it('a target waiting for its turn has no deadline, however long the job has run', () => {
    const list = [target('a', { state: 'running', due: { batch: 1, sinceMs: 0 } }), target('b', { online: false })];
    const slow = { ...p, batch: { kind: 'count', n: 1 } } satisfies RolloutPolicy;
    expect(planStep(snapshot(slow, list), 7 * 86_400_000)).toMatchObject({ undeliver: [], due: [] });
  });
});

describe('planStep: failures and abort', () => {
  const running = (id: string) => target(id, { state: 'running', due: { batch: 1, sinceMs: 0 } });

  it('aborts when failures pass maxFailures: pending targets skipped, running ones keep running', () => {
    const list = [target('a', ended('failed', 1)), target('b', ended('failed', 1)), target('c', ended('timed_out', 1))];
    list.push(running('d'), target('e', { online: false, due: { batch: 2, sinceMs: 0 } }), target('f'));
    const step = planStep(snapshot(rolling25, list), 1_000);
    expect(step).toMatchObject({ abort: true, start: [], due: [], skip: ['e', 'f'], done: null });
  });

  it('does not abort at exactly maxFailures', () => {
    const list = [target('a', ended('failed', 1)), target('b', ended('failed', 1)), target('c'), target('d')];
    expect(planStep(snapshot(rolling25, list), 0)).toMatchObject({ abort: false, skip: [] });
  });

  it('ends failed, rollout_aborted, once the last running target ended; abort is answered once', () => {
    const list = [
      target('a', ended('failed', 1)),
      target('b', ended('succeeded', 1)),
      target('c', ended('skipped', 1)),
    ];
    const step = planStep(snapshot(policy(), list, { aborted: true }), 0);
    expect(step).toMatchObject({ abort: false, done: { state: 'failed', reason: 'rollout_aborted' } });
  });

  it('a maxFailures percent is of all targets', () => {
    const p = policy({ maxFailures: { kind: 'percent', p: 5 } }); // 5 % of 40 = 2
    const list = [...targets(38), target('x', ended('failed', 1)), target('y', ended('failed', 1))];
    expect(planStep(snapshot(p, list), 0).abort).toBe(false);
    list[0] = target('a01', ended('failed', 1));
    expect(planStep(snapshot(p, list), 0).abort).toBe(true);
  });

  it('does not judge before minSample targets have a verdict, even with every one of them failed', () => {
    const p = policy({ batch: { kind: 'count', n: 2 }, minSample: 3 });
    const list = [target('a', ended('failed', 1)), target('b', ended('failed', 1)), target('c'), target('d')];
    const step = planStep(snapshot(p, list), 0);
    expect(step).toMatchObject({
      abort: false,
      start: [
        { agentId: 'c', batch: 2 },
        { agentId: 'd', batch: 2 },
      ],
    });
    list[2] = target('c', ended('succeeded', 2));
    expect(planStep(snapshot(p, list), 0)).toMatchObject({ abort: true, skip: ['d'] });
  });

  it('cancelled targets are no failures', () => {
    const list = [target('a', ended('cancelled', 1)), target('b', ended('cancelled', 1)), target('c')];
    expect(planStep(snapshot(policy(), list), 0)).toMatchObject({ abort: false, start: [{ agentId: 'c' }] });
  });

  it('undelivered targets count when undeliveredCountsAsFailure, including one ending in this step', () => {
    const p = policy({ undeliveredCountsAsFailure: true, deliveryTimeoutMs: 1_000, batch: { kind: 'count', n: 1 } });
    const list = [target('a', { online: false, due: { batch: 1, sinceMs: 0 } }), target('b')];
    expect(planStep(snapshot(p, list), 1_000)).toMatchObject({
      undeliver: ['a'],
      abort: true,
      skip: ['b'],
      done: { state: 'failed', reason: 'rollout_aborted' },
    });
  });
});

describe('planStep: cancel', () => {
  it('skips every pending target and ends cancelled once nothing runs', () => {
    const list = [target('a', { state: 'running', due: { batch: 1, sinceMs: 0 } }), target('b'), target('c')];
    const s = snapshot(policy({ batch: { kind: 'count', n: 1 } }), list, { cancelled: true });
    expect(planStep(s, 0)).toMatchObject({ skip: ['b', 'c'], start: [], done: null, abort: false });
    list[0] = target('a', ended('cancelled', 1));
    expect(planStep({ ...s, targets: list.slice(0, 1) }, 0).done).toEqual({ state: 'cancelled', reason: 'cancelled' });
  });

  it('is not an abort, whatever failed; an abort decided before it stays the verdict', () => {
    const list = [target('a', ended('failed', 1)), target('b', ended('failed', 1))];
    expect(planStep(snapshot(policy(), list, { cancelled: true }), 0)).toMatchObject({
      abort: false,
      done: { state: 'cancelled', reason: 'cancelled' },
    });
    expect(planStep(snapshot(policy(), list, { cancelled: true, aborted: true }), 0).done).toEqual({
      state: 'failed',
      reason: 'rollout_aborted',
    });
  });
});

describe('planStep: the end', () => {
  const all = (state: PlanTarget['state'], n: number) => targets(n, ended(state, 1));

  it('succeeded when every target succeeded', () => {
    expect(planStep(snapshot(policy(), all('succeeded', 3)), 0).done).toEqual({ state: 'succeeded', reason: null });
  });

  it('an undelivered target fails the job by default (it is about those machines)', () => {
    const list = [...all('succeeded', 11), target('z', ended('undelivered', 1))];
    expect(planStep(snapshot(policy(), list), 0).done).toEqual({ state: 'failed', reason: 'success_criteria_unmet' });
  });

  it('successCriteria let a job with failures or undelivered targets succeed', () => {
    const p = policy({
      maxFailures: { kind: 'count', n: 5 },
      successCriteria: { minSucceeded: { kind: 'percent', p: 90 } },
    });
    const eleven = [...all('succeeded', 11), target('z', ended('failed', 1))];
    expect(planStep(snapshot(p, eleven), 0).done).toEqual({ state: 'succeeded', reason: null });
    const ten = [...all('succeeded', 10), target('y', ended('undelivered', 1)), target('z', ended('failed', 1))];
    expect(planStep(snapshot(p, ten), 0).done).toEqual({ state: 'failed', reason: 'success_criteria_unmet' });
  });

  it('tolerated failures let the rollout go on but do not make the job a success', () => {
    const list = [...all('succeeded', 11), target('z', ended('failed', 1))];
    expect(planStep(snapshot(rolling25, list), 0)).toMatchObject({
      abort: false,
      done: { state: 'failed', reason: 'success_criteria_unmet' },
    });
  });

  it('no targets: failed, no_targets; a continuous job waits for agents to join', () => {
    expect(planStep(snapshot(policy(), []), 0).done).toEqual({ state: 'failed', reason: 'no_targets' });
    expect(planStep(snapshot(policy(), [], { continuous: true }), 0).done).toBeNull();
  });

  it('a continuous job stays open when its targets ended, and ends as any other once closed', () => {
    const list = all('succeeded', 2);
    expect(planStep(snapshot(policy(), list, { continuous: true }), 0).done).toBeNull();
    const joined = [...list, target('late')];
    // rolling: batch 1 (100 % is now 3) still has room for it
    expect(planStep(snapshot(policy(), joined, { continuous: true }), 0).start).toEqual([
      { agentId: 'late', batch: 1 },
    ]);
    expect(planStep(snapshot(policy(), list, { continuous: false }), 0).done).toEqual({
      state: 'succeeded',
      reason: null,
    });
  });
});

describe('planStep: determinism', () => {
  it('does not change its input and answers the same twice', () => {
    const s = snapshot(
      rolling25,
      targets(12).map((t, i) => Object.freeze({ ...t, online: i % 2 === 0 })),
    );
    Object.freeze(s.targets);
    expect(planStep(s, 5)).toEqual(planStep(s, 5));
  });

  it('applying a step and planning again at the same time asks for nothing more', () => {
    let s = snapshot(
      rolling25,
      targets(12).map((t, i) => ({ ...t, online: i !== 1 })),
    );
    s = apply(s, planStep(s, 0), 0);
    expect(planStep(s, 0)).toMatchObject({ due: [], start: [], undeliver: [], skip: [] });
  });

  it('plans 10,000 targets in well under a second', () => {
    const s = snapshot(policy({ batch: { kind: 'percent', p: 10 } }), targets(10_000));
    const t0 = performance.now();
    expect(planStep(s, 0).start).toHaveLength(1_000);
    expect(performance.now() - t0).toBeLessThan(1_000);
  });
});
