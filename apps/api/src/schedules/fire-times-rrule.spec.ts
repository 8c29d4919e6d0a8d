import { nextFireTimes } from './fire-times';
import { testSchedule, at, between, gapsInHours } from './schedule-test-helpers';

describe('fireTimesBetween: RRULE', () => {
  const weekly = [
    'DTSTART;TZID=Europe/Berlin:20260105T090000',
    'RRULE:FREQ=WEEKLY;BYDAY=MO,WE;BYHOUR=9,17;BYMINUTE=0;BYSECOND=0',
    'EXDATE;TZID=Europe/Berlin:20260107T170000',
    'EXRULE:FREQ=MONTHLY;BYDAY=1MO;BYHOUR=9;BYMINUTE=0;BYSECOND=0',
  ].join('\n');

  it('applies BYDAY/BYHOUR, an EXDATE and an EXRULE in the DTSTART zone', () => {
    expect(between({ rrule: weekly }, '2026-01-01T00:00:00Z', '2026-01-15T00:00:00Z')).toEqual([
      '2026-01-05T16:00:00Z', // Monday 5th 09:00 is the month's first Monday: EXRULE
      '2026-01-07T08:00:00Z', // Wednesday 7th 17:00: EXDATE
      '2026-01-12T08:00:00Z',
      '2026-01-12T16:00:00Z',
      '2026-01-14T08:00:00Z',
      '2026-01-14T16:00:00Z',
    ]);
  });

  it('follows the zone across DST: 09:00 Berlin is 08:00Z in winter, 07:00Z in summer', () => {
    expect(between({ rrule: weekly }, '2026-03-29T00:00:00Z', '2026-04-02T00:00:00Z')).toEqual([
      '2026-03-30T07:00:00Z',
      '2026-03-30T15:00:00Z',
      '2026-04-01T07:00:00Z',
      '2026-04-01T15:00:00Z',
    ]);
  });

  it('applies the DST policy to RRULE times as to cron', () => {
    const fall = 'DTSTART;TZID=America/New_York:20261030T013000\nRRULE:FREQ=DAILY';
    expect(between({ rrule: fall }, '2026-11-01T00:00:00Z', '2026-11-02T00:00:00Z')).toEqual(['2026-11-01T05:30:00Z']);
    expect(
      between({ rrule: fall, dst: { ambiguous: 'both' } }, '2026-11-01T00:00:00Z', '2026-11-02T00:00:00Z'),
    ).toEqual(['2026-11-01T05:30:00Z', '2026-11-01T06:30:00Z']);
    const spring = 'DTSTART;TZID=America/New_York:20260306T023000\nRRULE:FREQ=DAILY';
    expect(between({ rrule: spring }, '2026-03-08T00:00:00Z', '2026-03-09T00:00:00Z')).toEqual([
      '2026-03-08T07:00:00Z',
    ]);
    expect(between({ rrule: spring, dst: { gap: 'skip' } }, '2026-03-08T00:00:00Z', '2026-03-09T00:00:00Z')).toEqual(
      [],
    );
  });

  it('reads UTC dates (…Z) as instants and honours COUNT and UNTIL', () => {
    const counted = 'DTSTART:20260101T140000Z\nRRULE:FREQ=DAILY;COUNT=3';
    expect(
      between({ rrule: counted, timezone: 'America/New_York' }, '2025-12-31T00:00:00Z', '2026-02-01T00:00:00Z'),
    ).toEqual(['2026-01-01T14:00:00Z', '2026-01-02T14:00:00Z', '2026-01-03T14:00:00Z']);
    const until = 'DTSTART:20260101T140000Z\nRRULE:FREQ=DAILY;UNTIL=20260102T140000Z';
    expect(between({ rrule: until }, '2025-12-31T00:00:00Z', '2026-02-01T00:00:00Z')).toEqual([
      '2026-01-01T14:00:00Z',
      '2026-01-02T14:00:00Z',
    ]);
  });

  it('drops an EXDATE given in UTC, and adds an RDATE', () => {
    const rrule = [
      'DTSTART;TZID=Europe/Berlin:20260601T090000',
      'RRULE:FREQ=DAILY',
      'EXDATE:20260602T070000Z',
      'RDATE;TZID=Europe/Berlin:20260602T120000',
    ].join('\n');
    expect(between({ rrule }, '2026-06-01T00:00:00Z', '2026-06-03T12:00:00Z')).toEqual([
      '2026-06-01T07:00:00Z',
      '2026-06-02T10:00:00Z',
      '2026-06-03T07:00:00Z',
    ]);
  });

  it('fires FREQ=SECONDLY every second', () => {
    expect(between({ rrule: 'RRULE:FREQ=SECONDLY' }, '2026-05-01T00:00:00Z', '2026-05-01T00:00:03Z')).toEqual([
      '2026-05-01T00:00:01Z',
      '2026-05-01T00:00:02Z',
      '2026-05-01T00:00:03Z',
    ]);
  });

  it('answers quickly for a minutely rule that started years ago', () => {
    const spec = testSchedule({ rrule: 'DTSTART:20200101T000030Z\nRRULE:FREQ=MINUTELY;INTERVAL=7' });
    const started = Date.now();
    const times = nextFireTimes(spec, at('2026-05-01T00:00:00Z'), 3);
    expect(Date.now() - started).toBeLessThan(1_000);
    const step = 7 * 60_000;
    expect(times.every((t) => (t - at('2020-01-01T00:00:30Z')) % step === 0)).toBe(true);
    expect(gapsInHours(times).map((h) => h * 60)).toEqual([7, 7]);
    expect(times[0]! - at('2026-05-01T00:00:00Z')).toBeLessThanOrEqual(step);
  });
});
