import { Backoff, jittered } from './backoff';
import { sleep } from './sleep';

describe('Backoff', () => {
  it('grows exponentially up to the cap with the upper bound of the jitter', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1_000, random: () => 1 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });

  it('never goes below the initial delay', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1_000, random: () => 0 });
    expect([b.next(), b.next(), b.next()]).toEqual([100, 100, 100]);
  });

  it('spreads delays between base and ceiling', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 10_000 });
    for (let i = 0; i < 5; i++) b.next();
    const d = b.next();
    expect(d).toBeGreaterThanOrEqual(100);
    expect(d).toBeLessThanOrEqual(3_200);
  });

  it('starts over after reset', () => {
    const b = new Backoff({ initialMs: 50, maxMs: 1_000, random: () => 1 });
    b.next();
    b.next();
    b.reset();
    expect(b.next()).toBe(50);
  });
});

describe('jittered', () => {
  it('stays within the fraction', () => {
    expect(jittered(10_000, 0.1, () => 0)).toBe(9_000);
    expect(jittered(10_000, 0.1, () => 1)).toBe(11_000);
  });
});

describe('sleep', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('resolves after the delay', async () => {
    const done = jest.fn();
    const p = sleep(1_000).then(done);
    jest.advanceTimersByTime(999);
    await Promise.resolve();
    expect(done).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    await p;
    expect(done).toHaveBeenCalled();
  });

  it('rejects at once when aborted', async () => {
    const ac = new AbortController();
    const p = sleep(60_000, ac.signal);
    ac.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
  });
});
