import { CATCHUP_GRACE_MS, firesToMake, MAX_CATCHUP_FIRES, MAX_COUNTED_MISSED, MAX_LISTED_MISSED } from './catch-up';
import { parseScheduleSpec, type ScheduleSpec } from './schedule-spec';

function schedule(fields: Record<string, unknown>): ScheduleSpec {
  const result = parseScheduleSpec({ name: 'test', job: { steps: [{ run: 'echo tick' }] }, ...fields });
  if (!result.ok) throw new Error(`invalid test schedule: ${JSON.stringify(result.issues)}`);
  return result.spec;
}
const at = (iso: string): number => Date.parse(iso);
const isoList = (times: number[]): string[] => times.map((t) => new Date(t).toISOString().slice(11, 19));

/** Hourly; the 10:00 fire was made, then the API was down from 10:30 to 13:30: 11:00, 12:00 and 13:00 passed. */
function afterDowntime(catchup: Record<string, unknown>, now = '2026-05-01T13:30:00Z') {
  const plan = firesToMake({
    spec: schedule({ cron: '0 * * * *', catchup }),
    lastFireAtMs: at('2026-05-01T10:00:00Z'),
    nowMs: at(now),
  });
  return { ...plan, fires: isoList(plan.fires), missed: isoList(plan.missed) };
}

describe('firesToMake after the API was down across three fire times', () => {
  it('none: makes nothing (13:00 is 30 minutes late) and reports all three missed', () => {
    expect(afterDowntime({ policy: 'none' })).toEqual({
      fires: [],
      missed: ['11:00:00', '12:00:00', '13:00:00'],
      missedOmitted: 0,
      missedOmittedExact: true,
      capped: false,
    });
  });

  it('none: still makes the latest when it is due within the grace', () => {
    const now = new Date(at('2026-05-01T13:00:00Z') + CATCHUP_GRACE_MS).toISOString();
    expect(afterDowntime({ policy: 'none' }, now)).toMatchObject({
      fires: ['13:00:00'],
      missed: ['11:00:00', '12:00:00'],
    });
  });

  it('latest: makes the most recent one, the older are missed', () => {
    expect(afterDowntime({ policy: 'latest' })).toMatchObject({
      fires: ['13:00:00'],
      missed: ['11:00:00', '12:00:00'],
    });
  });

  it('latest: makes none when even the most recent is outside the window', () => {
    expect(afterDowntime({ policy: 'latest', window: '10m' })).toMatchObject({
      fires: [],
      missed: ['11:00:00', '12:00:00', '13:00:00'],
    });
  });

  it('all: makes every one within the window', () => {
    expect(afterDowntime({ policy: 'all' })).toMatchObject({ fires: ['11:00:00', '12:00:00', '13:00:00'], missed: [] });
    expect(afterDowntime({ policy: 'all', window: '90m' })).toMatchObject({
      fires: ['12:00:00', '13:00:00'],
      missed: ['11:00:00'],
    });
  });

  it('defaults to latest within 24h', () => {
    const plan = firesToMake({
      spec: schedule({ cron: '0 * * * *' }),
      lastFireAtMs: at('2026-05-01T10:00:00Z'),
      nowMs: at('2026-05-01T13:30:00Z'),
    });
    expect(isoList(plan.fires)).toEqual(['13:00:00']);
  });
});

describe('firesToMake: limits', () => {
  it('all: makes at most MAX_CATCHUP_FIRES, the latest, and says it capped', () => {
    const plan = firesToMake({
      spec: schedule({ cron: '* * * * * *', catchup: { policy: 'all' } }),
      lastFireAtMs: at('2026-05-01T10:00:00Z'),
      nowMs: at('2026-05-01T11:00:00Z'),
    });
    expect(plan.fires).toHaveLength(MAX_CATCHUP_FIRES);
    expect(plan.fires.at(-1)).toBe(at('2026-05-01T11:00:00Z'));
    expect(plan.capped).toBe(true);
    expect(plan.missed).toHaveLength(MAX_LISTED_MISSED);
    expect(plan.missed.at(-1)).toBe((plan.fires[0] as number) - 1_000);
    expect(plan.missedOmitted + plan.missed.length + plan.fires.length).toBe(3_600);
    expect(plan.missedOmittedExact).toBe(true);
  });

  it('stops counting missed fire times at MAX_COUNTED_MISSED', () => {
    const plan = firesToMake({
      spec: schedule({ cron: '* * * * * *', catchup: { policy: 'none' } }),
      lastFireAtMs: at('2026-05-01T00:00:00Z'),
      nowMs: at('2026-05-02T00:00:00Z'),
    });
    expect(plan.fires).toEqual([at('2026-05-02T00:00:00Z')]);
    expect(plan.missed).toHaveLength(MAX_LISTED_MISSED);
    expect(plan.missedOmitted).toBeGreaterThanOrEqual(MAX_COUNTED_MISSED);
    expect(plan.missedOmittedExact).toBe(false);
  });

  it('counts every missed run of a long downtime (no give-up after 100, unlike a CronJob)', () => {
    const plan = firesToMake({
      spec: schedule({ cron: '*/5 * * * *', catchup: { policy: 'latest' } }),
      lastFireAtMs: at('2026-05-01T00:00:00Z'),
      nowMs: at('2026-05-03T00:00:00Z'),
    });
    expect(plan.fires).toEqual([at('2026-05-03T00:00:00Z')]);
    expect(plan.missed.length + plan.missedOmitted).toBe(2 * 288 - 1);
    expect(plan.missedOmittedExact).toBe(true);
  });
});

describe('firesToMake: ordinary ticks', () => {
  it('makes the one fire due since the last tick', () => {
    const plan = firesToMake({
      spec: schedule({ cron: '0 * * * *', catchup: { policy: 'none' } }),
      lastFireAtMs: at('2026-05-01T10:00:00Z'),
      nowMs: at('2026-05-01T11:00:02Z'),
    });
    expect(plan).toEqual({
      fires: [at('2026-05-01T11:00:00Z')],
      missed: [],
      missedOmitted: 0,
      missedOmittedExact: true,
      capped: false,
    });
  });

  it('makes nothing when nothing is due, or when the clock has not moved on', () => {
    const spec = schedule({ cron: '0 * * * *' });
    const empty = { fires: [], missed: [], missedOmitted: 0, missedOmittedExact: true, capped: false };
    expect(firesToMake({ spec, lastFireAtMs: at('2026-05-01T10:00:00Z'), nowMs: at('2026-05-01T10:59:59Z') })).toEqual(
      empty,
    );
    expect(firesToMake({ spec, lastFireAtMs: at('2026-05-01T10:00:00Z'), nowMs: at('2026-05-01T09:00:00Z') })).toEqual(
      empty,
    );
  });

  it('counts from the creation time of a new schedule (a fire at that very instant is not due)', () => {
    const plan = firesToMake({
      spec: schedule({ cron: '0 * * * *' }),
      lastFireAtMs: at('2026-05-01T11:00:00Z'),
      nowMs: at('2026-05-01T11:00:30Z'),
    });
    expect(plan.fires).toEqual([]);
  });

  it('makes one job for a repeated local time at fall-back, even with all', () => {
    const plan = firesToMake({
      spec: schedule({ cron: '30 1 * * *', timezone: 'America/New_York', catchup: { policy: 'all' } }),
      lastFireAtMs: at('2026-11-01T04:00:00Z'),
      nowMs: at('2026-11-01T08:00:00Z'),
    });
    expect(isoList(plan.fires)).toEqual(['05:30:00']);
  });
});
