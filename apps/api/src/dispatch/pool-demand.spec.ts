import { PoolDemand } from './pool-demand';

function setup() {
  const counts = { waiting: 0, parked: 0 };
  const limits: number[] = [];
  const demand = new PoolDemand(
    { waitingCount: () => counts.waiting, parkedCount: () => counts.parked },
    (_pool, limit) => limits.push(limit),
  );
  return { counts, limits, demand };
}

describe('PoolDemand', () => {
  it('fetches nothing without a Lease call here, one job per call otherwise', () => {
    const { counts, limits, demand } = setup();
    demand.changed('p');
    counts.waiting = 3;
    demand.changed('p');
    expect(limits).toEqual([0, 3]);
  });

  it('looks past parked jobs no call suits, at most as deep as there are calls', () => {
    const { counts, limits, demand } = setup();
    counts.waiting = 1;
    counts.parked = 4;
    demand.changed('p');
    expect(limits.at(-1)).toBe(2);
  });

  it('counts the jobs being granted while they are held', async () => {
    const { counts, limits, demand } = setup();
    counts.waiting = 1;
    let inside = -1;
    await demand.holding('p', async () => {
      demand.changed('p');
      inside = limits.at(-1)!;
    });
    expect(inside).toBe(2);
    expect(limits.at(-1)).toBe(1);
  });

  it('aborts the parked jobs’ signal when the last Lease call goes, and a new one serves the next calls', () => {
    const { counts, demand } = setup();
    expect(demand.gone('p').aborted).toBe(true);
    counts.waiting = 1;
    const signal = demand.gone('p');
    expect(signal.aborted).toBe(false);
    counts.waiting = 0;
    demand.changed('p');
    expect(signal.aborted).toBe(true);
    counts.waiting = 2;
    expect(demand.gone('p').aborted).toBe(false);
  });
});
