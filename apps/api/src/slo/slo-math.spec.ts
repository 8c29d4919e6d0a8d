import type { Incident } from '@jr/contracts';
import {
  availabilityFigures,
  cumulativeBudget,
  dependencyDowntime,
  distribution,
  mergeIntervals,
  objectiveFigures,
  theoreticalAvailability,
} from './slo-math';

const DAY = 86_400_000;
const from = Date.parse('2026-11-01T00:00:00Z');
const to = from + 30 * DAY;
const at = (ms: number) => new Date(from + ms).toISOString();
function incident(startMs: number, endMs: number | null, extra: Partial<Incident> = {}): Incident {
  return {
    id: `i${startMs}`,
    cause: 'dependency_down',
    scope: 'postgres',
    replica: 'api-1',
    startedAt: at(startMs),
    endedAt: endMs === null ? null : at(endMs),
    durationMs: 0,
    outage: true,
    detail: '',
    ...extra,
  };
}

describe('slo math', () => {
  it('availability both ways: two outages of 20 s and 40 s in 30 days', () => {
    const f = availabilityFigures([incident(DAY, DAY + 20_000), incident(10 * DAY, 10 * DAY + 40_000)], from, to);
    expect(f.downtimeMs).toBe(60_000);
    expect(f.availability).toBeCloseTo(1 - 60_000 / (30 * DAY), 12);
    expect(f.mttr).toEqual({ count: 2, p50Ms: 20_000, p90Ms: 40_000, maxMs: 40_000, meanMs: 30_000 });
    expect(f.mtbf).toMatchObject({ count: 1, p50Ms: 9 * DAY - 20_000 });
    // MTBF = uptime / 2 outages; MTTR = 30 s: MTBF / (MTBF + MTTR) equals the first way here
    const mtbf = (30 * DAY - 60_000) / 2;
    expect(f.availabilityFromMtbf).toBeCloseTo(mtbf / (mtbf + 30_000), 12);
  });

  it('merges overlapping outages, clips to the window, and an ongoing one is downtime but not a repair', () => {
    expect(
      mergeIntervals([
        { startMs: 5, endMs: 10 },
        { startMs: 0, endMs: 6 },
        { startMs: 10, endMs: 12 },
      ]),
    ).toEqual([{ startMs: 0, endMs: 12 }]);
    const overlapping = [incident(DAY, DAY + 30_000), incident(DAY + 10_000, DAY + 60_000, { scope: 'redis' })];
    expect(availabilityFigures(overlapping, from, to).downtimeMs).toBe(60_000);
    const ongoing = availabilityFigures([incident(30 * DAY - 5_000, null)], from, to);
    expect(ongoing).toMatchObject({ downtimeMs: 5_000, mttr: null, availabilityFromMtbf: null });
    const degradedOnly = availabilityFigures([incident(DAY, 2 * DAY, { outage: false })], from, to);
    expect(degradedOnly).toMatchObject({ availability: 1, downtimeMs: 0 });
  });

  it('nearest-rank percentiles', () => {
    expect(distribution([10, 1, 9, 2, 8, 3, 7, 4, 6, 5])).toEqual({
      count: 10,
      p50Ms: 5,
      p90Ms: 9,
      maxMs: 10,
      meanMs: 5.5,
    });
    expect(distribution([])).toBeNull();
  });

  it('attainment, burn rate and budget: 2 bad of 1,000 at 99.9 % burn twice the budget', () => {
    const f = objectiveFigures(0.999, 998, 1_000);
    expect(f.attainment).toBeCloseTo(0.998, 12);
    expect(f.burnRate).toBeCloseTo(2, 9);
    expect(f.budgetRemaining).toBeCloseTo(-1, 9);
    expect(f.met).toBe(false);
    expect(objectiveFigures(0.999, 999, 1_000).met).toBe(true); // exactly on target, despite floating point
    expect(objectiveFigures(0.99, 0, 0)).toEqual({
      attainment: null,
      budgetRemaining: null,
      burnRate: null,
      met: null,
    });
    expect(
      cumulativeBudget(0.9, [
        { good: 0, total: 0 },
        { good: 9, total: 10 },
        { good: 0, total: 10 },
      ]),
    ).toEqual([null, expect.closeTo(0, 9), expect.closeTo(-4.5, 9)]);
  });

  it("theoretical availability: the talk's 30 dependencies of 99.99 % give about 99.7 %; measured beside it", () => {
    const deps = Array.from({ length: 30 }, (_, i) => ({ name: `dep-${i}`, availability: 0.9999 }));
    expect(theoreticalAvailability(deps, new Map(), 30 * DAY).availability).toBeCloseTo(0.997, 3);
    const downtime = dependencyDowntime([incident(DAY, DAY + 86_400)], from, to);
    const t = theoreticalAvailability(
      [
        { name: 'postgres', availability: 0.9995 },
        { name: 'dns', availability: 0.99 },
      ],
      downtime,
      30 * DAY,
    );
    expect(t.dependencies).toEqual([
      { name: 'postgres', availability: 0.9995, measured: expect.closeTo(1 - 86_400 / (30 * DAY), 12) },
      { name: 'dns', availability: 0.99, measured: null },
    ]);
  });
});
