import { SustainedOutageBreaker } from './sustained-outage-breaker';

describe('SustainedOutageBreaker', () => {
  let now = 0;
  const breaker = (threshold: number, minOutageMs: number): SustainedOutageBreaker =>
    new SustainedOutageBreaker(threshold, minOutageMs, () => now);

  it('does not open on a burst of quick failures (an API restart refusing connections)', () => {
    const b = breaker(3, 30_000);
    now = 1_000;
    for (let i = 0; i < 50; i++) expect(b.failure()).toBe(false);
    now = 20_000;
    expect(b.failure()).toBe(false);
  });

  it('opens once both the count and the duration are reached, whichever comes last', () => {
    const b = breaker(3, 30_000);
    now = 0;
    expect(b.failure()).toBe(false);
    now = 40_000; // slow failures (a blackhole): the duration is there, the count not yet
    expect(b.failure()).toBe(false);
    expect(b.failure()).toBe(true);
  });

  it('starts again after a success', () => {
    const b = breaker(2, 1_000);
    now = 0;
    b.failure();
    now = 5_000;
    b.success();
    expect(b.outageMs()).toBe(0);
    expect(b.failure()).toBe(false);
    now = 5_999;
    expect(b.failure()).toBe(false);
    now = 6_000;
    expect(b.failure()).toBe(true);
  });

  it('with no minimum duration it is the plain consecutive-failure breaker', () => {
    const b = breaker(2, 0);
    expect(b.failure()).toBe(false);
    expect(b.failure()).toBe(true);
  });
});
