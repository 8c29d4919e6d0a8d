import { batchSize, countsByState, failureLimit, successesNeeded } from './rollout-plan';
import { failuresCrossLimit } from './rollout-math';
import { policy, target } from './rollout-test-helpers';
import { TARGET_STATES, type Amount, type TargetState } from './rollout-types';

const count = (n: number): Amount => ({ kind: 'count', n });
const percent = (p: number): Amount => ({ kind: 'percent', p });

describe('batchSize', () => {
  it.each([
    [percent(25), 3, 1], // 0.75 rounds up to 1
    [percent(25), 12, 3],
    [percent(25), 13, 4], // 3.25 rounds up
    [percent(10), 1_000, 100],
    [percent(12.5), 40, 5], // exact in tenths: no 5.000000001 -> 6
    [percent(3), 10, 1], // 0.3 -> 1: never 0
    [percent(1), 1, 1],
    [percent(100), 7, 7],
    [count(2), 12, 2],
    [count(50), 12, 12], // never more than there are targets
    [count(1), 10_000, 1],
  ])('%j of %i targets is %i', (batch, total, expected) => {
    expect(batchSize(policy({ batch }), total)).toBe(expected);
  });

  it('is 0 only when there are no targets', () => {
    expect(batchSize(policy({ batch: count(3) }), 0)).toBe(0);
    expect(batchSize(policy({ batch: percent(50) }), 0)).toBe(0);
  });
});

describe('failureLimit (abort when failures are MORE than this)', () => {
  it.each([
    [count(0), 12, 0],
    [count(2), 12, 2],
    [percent(5), 40, 2], // 5 % of 40 = 2: the 3rd failure aborts
    [percent(5), 30, 1], // 1.5 rounds down: 2 of 30 is 6.7 %, past 5 %
    [percent(5), 19, 0], // 0.95 -> 0: one failure of 19 is 5.3 %
    [percent(5), 20, 1], // exactly 5 % is not past 5 %
    [percent(0), 100, 0],
    [percent(100), 12, 12], // never aborts
    [percent(33.3), 1_000, 333],
  ])('%j of %i targets is %i', (maxFailures, total, expected) => {
    expect(failureLimit(policy({ maxFailures }), total)).toBe(expected);
  });

  it('matches "the failure percentage exceeds maxFailures" for every total and percent (Ansible semantics)', () => {
    for (let total = 1; total <= 200; total++) {
      for (const p of [0, 0.5, 1, 2.5, 5, 10, 12.5, 25, 33.3, 50, 99.9, 100]) {
        const limit = failureLimit(policy({ maxFailures: percent(p) }), total);
        // in integers: failures / total > p / 100  <=>  1000 * failures > p * 10 * total
        expect(1000 * (limit + 1) > Math.round(p * 10) * total).toBe(true);
        expect(1000 * limit > Math.round(p * 10) * total).toBe(false);
      }
    }
  });
});

describe('successesNeeded', () => {
  it('is every target without successCriteria', () => {
    expect(successesNeeded(policy(), 12)).toBe(12);
  });

  it.each([
    [percent(90), 12, 11], // at least 90 %: 10.8 rounds up
    [percent(90), 10, 9],
    [percent(0), 10, 0],
    [count(5), 12, 5],
    [count(20), 12, 20], // more than there are: can never succeed (the job ends failed)
  ])('minSucceeded %j of %i is %i', (minSucceeded, total, expected) => {
    expect(successesNeeded(policy({ successCriteria: { minSucceeded } }), total)).toBe(expected);
  });
});

describe('countsByState', () => {
  it('has every state, zero when absent', () => {
    const counts = countsByState([target('a', { state: 'failed' }), target('b', { state: 'failed' }), target('c')]);
    expect(Object.keys(counts).sort()).toEqual([...TARGET_STATES].sort());
    expect(counts).toMatchObject({ failed: 2, pending: 1, running: 0, skipped: 0 });
  });

  it('counts nothing for no targets', () => {
    expect(Object.values(countsByState([])).every((n) => n === 0)).toBe(true);
  });
});

describe('failuresCrossLimit', () => {
  const counts = (partial: Partial<Record<TargetState, number>>) => ({ ...countsByState([]), ...partial });

  it('counts failed and timed_out, never cancelled', () => {
    const p = policy({ maxFailures: count(1) });
    expect(failuresCrossLimit(counts({ failed: 1, timed_out: 1 }), p, 10)).toBe(true);
    expect(failuresCrossLimit(counts({ failed: 1, cancelled: 5 }), p, 10)).toBe(false);
  });

  it('counts undelivered only when the rollout says so', () => {
    const c = counts({ undelivered: 2, succeeded: 1 });
    expect(failuresCrossLimit(c, policy({ maxFailures: count(1) }), 10)).toBe(false);
    expect(failuresCrossLimit(c, policy({ maxFailures: count(1), undeliveredCountsAsFailure: true }), 10)).toBe(true);
  });

  it('waits for minSample targets with a verdict (succeeded or failed; cancelled and skipped are none)', () => {
    const p = policy({ maxFailures: count(0), minSample: 4 });
    expect(failuresCrossLimit(counts({ failed: 3, cancelled: 5, skipped: 5 }), p, 20)).toBe(false);
    expect(failuresCrossLimit(counts({ failed: 3, succeeded: 1 }), p, 20)).toBe(true);
  });
});
