import { blockSize, PointReservations } from './point-reservations';

describe('rate limit blocks', () => {
  it('are 1 % of the limit, at most 32, and 1 (exact counting) for small limits', () => {
    expect(blockSize(30)).toBe(1);
    expect(blockSize(199)).toBe(1);
    expect(blockSize(1_000)).toBe(10);
    expect(blockSize(3_000)).toBe(30);
    expect(blockSize(100_000_000)).toBe(32);
  });

  it('spends a block one point at a time, counting as if the calls had gone to the shared counter', () => {
    let now = 0;
    const r = new PointReservations(10, 100, () => now);
    expect(r.spend('k')).toBeUndefined();
    // the shared counter held 40 before this block: 50 after taking 10
    expect(r.took('k', 50, 5_000)).toEqual({ consumed: 41, resetMs: 5_000 });
    now = 1_000;
    const spent = Array.from({ length: 9 }, () => r.spend('k'));
    expect(spent.map((s) => s?.consumed)).toEqual([42, 43, 44, 45, 46, 47, 48, 49, 50]);
    expect(spent[0]?.resetMs).toBe(4_000);
    expect(r.spend('k')).toBeUndefined();
  });

  it('uses only the part of a block under the limit, and none past it', () => {
    const r = new PointReservations(10, 100, () => 0);
    expect(r.took('k', 105, 1_000)).toEqual({ consumed: 96, resetMs: 1_000 });
    expect([1, 2, 3, 4, 5].map(() => r.spend('k')?.consumed)).toEqual([97, 98, 99, 100, undefined]);
    expect(r.took('k', 115, 1_000)).toBeUndefined();
    expect(r.took('other', 110, 1_000)).toBeUndefined();
    expect(r.took('last', 109, 1_000)).toEqual({ consumed: 100, resetMs: 1_000 });
    expect(r.spend('last')).toBeUndefined();
  });

  it('forgets a block when its window ends', () => {
    let now = 0;
    const r = new PointReservations(10, 100, () => now);
    r.took('k', 10, 2_000);
    expect(r.spend('k')?.consumed).toBe(2);
    now = 2_000;
    expect(r.spend('k')).toBeUndefined();
  });
});
