import { fireTimesBetween, nextFireTimes } from './fire-times';
import { testSchedule, at, isoList, HOUR, between, gapsInHours } from './schedule-test-helpers';

describe('fireTimesBetween: DST fall-back (a wall-clock time repeated)', () => {
  const ny = { cron: '30 1 * * *', timezone: 'America/New_York' };

  it('fires a daily 01:30 once on 2026-11-01 in New York by default (its first occurrence, 05:30Z)', () => {
    expect(between(ny, '2026-10-31T00:00:00Z', '2026-11-03T00:00:00Z')).toEqual([
      '2026-10-31T05:30:00Z',
      '2026-11-01T05:30:00Z',
      '2026-11-02T06:30:00Z',
    ]);
  });

  it("fires it at both occurrences with dst.ambiguous 'both'", () => {
    const both = { ...ny, dst: { ambiguous: 'both' } };
    expect(between(both, '2026-11-01T00:00:00Z', '2026-11-02T00:00:00Z')).toEqual([
      '2026-11-01T05:30:00Z',
      '2026-11-01T06:30:00Z',
    ]);
  });

  it('fires a daily 02:30 once on 2026-10-25 in Berlin, or twice with both', () => {
    const berlin = { cron: '30 2 * * *', timezone: 'Europe/Berlin' };
    expect(between(berlin, '2026-10-25T00:00:00Z', '2026-10-26T00:00:00Z')).toEqual(['2026-10-25T00:30:00Z']);
    expect(between({ ...berlin, dst: { ambiguous: 'both' } }, '2026-10-25T00:00:00Z', '2026-10-26T00:00:00Z')).toEqual([
      '2026-10-25T00:30:00Z',
      '2026-10-25T01:30:00Z',
    ]);
  });

  it('fires the minutes of a fixed repeated hour in its first occurrence only, or in both', () => {
    const every20 = { cron: '*/20 1 * * *', timezone: 'America/New_York' };
    expect(between(every20, '2026-11-01T04:00:00Z', '2026-11-01T08:00:00Z')).toEqual([
      '2026-11-01T05:00:00Z',
      '2026-11-01T05:20:00Z',
      '2026-11-01T05:40:00Z',
    ]);
    expect(between({ ...every20, dst: { ambiguous: 'both' } }, '2026-11-01T04:00:00Z', '2026-11-01T08:00:00Z')).toEqual(
      [
        '2026-11-01T05:00:00Z',
        '2026-11-01T05:20:00Z',
        '2026-11-01T05:40:00Z',
        '2026-11-01T06:00:00Z',
        '2026-11-01T06:20:00Z',
        '2026-11-01T06:40:00Z',
      ],
    );
  });
});

describe('fireTimesBetween: DST spring-forward (a wall-clock time skipped)', () => {
  const ny = { cron: '30 2 * * *', timezone: 'America/New_York' };

  it('fires a skipped 02:30 at the first instant after the gap (03:00 EDT = 07:00Z) by default', () => {
    expect(between(ny, '2026-03-07T00:00:00Z', '2026-03-10T00:00:00Z')).toEqual([
      '2026-03-07T07:30:00Z',
      '2026-03-08T07:00:00Z',
      '2026-03-09T06:30:00Z',
    ]);
  });

  it("does not fire that day with dst.gap 'skip'", () => {
    const skip = { ...ny, dst: { gap: 'skip' } };
    expect(between(skip, '2026-03-07T00:00:00Z', '2026-03-10T00:00:00Z')).toEqual([
      '2026-03-07T07:30:00Z',
      '2026-03-09T06:30:00Z',
    ]);
  });

  it('shifts or skips 02:30 on 2026-03-29 in Berlin (the gap ends at 01:00Z)', () => {
    const berlin = { cron: '30 2 * * *', timezone: 'Europe/Berlin' };
    expect(between(berlin, '2026-03-29T00:00:00Z', '2026-03-30T00:00:00Z')).toEqual(['2026-03-29T01:00:00Z']);
    expect(between({ ...berlin, dst: { gap: 'skip' } }, '2026-03-29T00:00:00Z', '2026-03-30T00:00:00Z')).toEqual([]);
  });

  it('makes one fire of all the minutes a gap swallows when they shift', () => {
    const every15 = { cron: '*/15 2 * * *', timezone: 'America/New_York' };
    expect(between(every15, '2026-03-08T00:00:00Z', '2026-03-09T00:00:00Z')).toEqual(['2026-03-08T07:00:00Z']);
  });
});

describe('fireTimesBetween: hourly schedules through both transitions', () => {
  const policies = [
    { ambiguous: 'first', gap: 'shift' },
    { ambiguous: 'first', gap: 'skip' },
    { ambiguous: 'both', gap: 'shift' },
  ];
  const cases = [
    ['America/New_York', '2026-11-01T00:00:00Z', 24],
    ['America/New_York', '2026-03-08T00:00:00Z', 24],
    ['Europe/Berlin', '2026-10-24T20:00:00Z', 24],
    ['Europe/Berlin', '2026-03-28T20:00:00Z', 24],
  ] as const;

  it.each(cases)('fires every real hour once in %s from %s (all DST policies)', (timezone, from, hours) => {
    for (const dst of policies) {
      const times = fireTimesBetween(
        testSchedule({ cron: '0 * * * *', timezone, dst }),
        at(from),
        at(from) + hours * HOUR,
        100,
      );
      expect(times).toHaveLength(hours);
      expect(gapsInHours(times)).toEqual(Array.from({ length: hours - 1 }, () => 1));
    }
  });

  it('fires an RRULE FREQ=HOURLY on every real hour too', () => {
    const rrule = 'DTSTART;TZID=America/New_York:20261031T000000\nRRULE:FREQ=HOURLY';
    const times = fireTimesBetween(
      testSchedule({ rrule }),
      at('2026-11-01T00:00:00Z'),
      at('2026-11-02T00:00:00Z'),
      100,
    );
    expect(times).toHaveLength(24);
    expect(gapsInHours(times)).toEqual(Array.from({ length: 23 }, () => 1));
  });
});

describe('fireTimesBetween: cron with seconds', () => {
  it('reads 6 fields as seconds first', () => {
    expect(between({ cron: '*/15 * * * * *' }, '2026-05-01T12:00:00Z', '2026-05-01T12:01:00Z')).toEqual([
      '2026-05-01T12:00:15Z',
      '2026-05-01T12:00:30Z',
      '2026-05-01T12:00:45Z',
      '2026-05-01T12:01:00Z',
    ]);
  });

  it('evaluates a 6-field expression in the zone', () => {
    const cron = { cron: '30 0 9 * * 1-5', timezone: 'Europe/Berlin' };
    expect(between(cron, '2026-07-03T00:00:00Z', '2026-07-07T00:00:00Z')).toEqual([
      '2026-07-03T07:00:30Z',
      '2026-07-06T07:00:30Z',
    ]);
  });

  it('fires every second with * * * * * *, in whole seconds', () => {
    const times = fireTimesBetween(
      testSchedule({ cron: '* * * * * *' }),
      at('2026-05-01T12:00:00.250Z'),
      at('2026-05-01T12:00:05Z'),
      100,
    );
    expect(isoList(times)).toEqual([
      '2026-05-01T12:00:01Z',
      '2026-05-01T12:00:02Z',
      '2026-05-01T12:00:03Z',
      '2026-05-01T12:00:04Z',
      '2026-05-01T12:00:05Z',
    ]);
  });
});

describe('fireTimesBetween: bounds and limits', () => {
  const daily = { cron: '0 9 * * *' };

  it('excludes afterMs and includes untilMs', () => {
    expect(between(daily, '2026-05-01T09:00:00Z', '2026-05-02T09:00:00Z')).toEqual(['2026-05-02T09:00:00Z']);
  });

  it('returns at most limit fire times, the earliest', () => {
    expect(between(daily, '2026-05-01T00:00:00Z', '2026-06-01T00:00:00Z', 2)).toEqual([
      '2026-05-01T09:00:00Z',
      '2026-05-02T09:00:00Z',
    ]);
  });

  it('keeps the earliest under a limit when a fall-back reorders wall-clock times', () => {
    const both = { cron: '*/20 1 * * *', timezone: 'America/New_York', dst: { ambiguous: 'both' } };
    expect(between(both, '2026-11-01T05:10:00Z', '2026-11-02T00:00:00Z', 3)).toEqual([
      '2026-11-01T05:20:00Z',
      '2026-11-01T05:40:00Z',
      '2026-11-01T06:00:00Z',
    ]);
  });

  it('returns nothing for an empty window', () => {
    expect(between(daily, '2026-05-02T00:00:00Z', '2026-05-01T00:00:00Z')).toEqual([]);
  });

  it('nextFireTimes lists the next n', () => {
    const spec = testSchedule({ cron: '0 0 29 2 *' });
    expect(isoList(nextFireTimes(spec, at('2026-01-01T00:00:00Z'), 2))).toEqual([
      '2028-02-29T00:00:00Z',
      '2032-02-29T00:00:00Z',
    ]);
  });
});

describe('fireTimesBetween: exclusions', () => {
  it('leaves out a whole local day of the zone', () => {
    const spec = { cron: '0 9 * * *', timezone: 'Europe/Berlin', exclusions: ['2026-12-25'] };
    expect(between(spec, '2026-12-24T00:00:00Z', '2026-12-27T00:00:00Z')).toEqual([
      '2026-12-24T08:00:00Z',
      '2026-12-26T08:00:00Z',
    ]);
  });

  it('reads the day in the zone, not in UTC', () => {
    // 23:30 in New York on June 10 is 03:30Z on June 11
    const spec = { cron: '30 23 * * *', timezone: 'America/New_York', exclusions: ['2026-06-10'] };
    expect(between(spec, '2026-06-10T00:00:00Z', '2026-06-13T00:00:00Z')).toEqual([
      '2026-06-10T03:30:00Z',
      '2026-06-12T03:30:00Z',
    ]);
  });

  it('leaves out a range, local to the zone or with an offset', () => {
    const spec = {
      cron: '0 9 * * *',
      timezone: 'Europe/Berlin',
      exclusions: [
        { from: '2026-12-27T00:00', to: '2027-01-02T00:00' },
        { from: '2027-01-03T07:00:00Z', to: '2027-01-03T09:00:00Z' },
      ],
    };
    expect(between(spec, '2026-12-26T00:00:00Z', '2027-01-05T00:00:00Z')).toEqual([
      '2026-12-26T08:00:00Z',
      '2027-01-02T08:00:00Z',
      '2027-01-04T08:00:00Z',
    ]);
  });

  it('jumps over a long exclusion instead of visiting each second in it', () => {
    const spec = testSchedule({
      cron: '* * * * * *',
      exclusions: [{ from: '2026-01-01T00:00:00Z', to: '2027-01-01T00:00:00Z' }],
    });
    const started = Date.now();
    expect(isoList(nextFireTimes(spec, at('2025-12-31T23:59:58Z'), 3))).toEqual([
      '2025-12-31T23:59:59Z',
      '2027-01-01T00:00:00Z',
      '2027-01-01T00:00:01Z',
    ]);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
