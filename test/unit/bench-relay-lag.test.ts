/** The relay-lag bench section's histogram_quantile over two scrapes (bench/sections/relay-lag.ts). */
import { quantile } from '../../bench/sections/relay-lag';

type Buckets = Array<[number, number]>;

describe('relay-lag quantile', () => {
  const before: Buckets = [
    [0.001, 5],
    [0.01, 5],
    [0.1, 5],
    [Infinity, 5],
  ];

  it('interpolates within the bucket of the rank, over the difference of the scrapes only', () => {
    // 100 new observations: 50 in (0.001, 0.01], 50 in (0.01, 0.1]
    const after: Buckets = [
      [0.001, 5],
      [0.01, 55],
      [0.1, 105],
      [Infinity, 105],
    ];
    expect(quantile(before, after, 0.5)).toBeCloseTo(0.01, 6);
    expect(quantile(before, after, 0.25)).toBeCloseTo(0.0055, 6);
    expect(quantile(before, after, 0.99)).toBeCloseTo(0.01 + 0.09 * (49 / 50), 6);
  });

  it('is NaN without observations and the last finite bound past it', () => {
    expect(quantile(before, before, 0.5)).toBeNaN();
    const past: Buckets = [
      [0.001, 5],
      [0.01, 5],
      [0.1, 5],
      [Infinity, 15],
    ];
    expect(quantile(before, past, 0.99)).toBe(0.1);
  });
});
