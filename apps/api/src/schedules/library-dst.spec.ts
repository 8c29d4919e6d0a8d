import { execFileSync } from 'node:child_process';
import { CronExpressionParser } from 'cron-parser';
import { rrulestr } from 'rrule';

/**
 * What cron-parser and rrule do by themselves at DST transitions and with zones, pinned here: fire-times.ts
 * evaluates both on floating wall-clock times and maps them with zone-clock.ts because of the rows marked
 * "wrong". If a library upgrade changes one of these, this spec says so (the schedules' own specs say
 * whether the product still does the right thing).
 */

const iso = (d: { toISOString(): string | null }): string => String(d.toISOString()).replace('.000Z', 'Z');

function cronTimes(expression: string, tz: string, from: string, n: number): string[] {
  const times = CronExpressionParser.parse(expression, { currentDate: new Date(from), tz });
  return Array.from({ length: n }, () => iso(times.next()));
}

describe('cron-parser alone, tz America/New_York', () => {
  it('wrong for gap shift: a skipped 02:30 fires at 03:30 EDT (07:30Z), not at the end of the gap (07:00Z)', () => {
    expect(cronTimes('30 2 * * *', 'America/New_York', '2026-03-08T00:00:00Z', 1)).toEqual(['2026-03-08T07:30:00Z']);
  });

  it("right for ambiguous 'first', no 'both': a repeated 01:30 fires once, at its first occurrence", () => {
    expect(cronTimes('30 1 * * *', 'America/New_York', '2026-11-01T00:00:00Z', 2)).toEqual([
      '2026-11-01T05:30:00Z',
      '2026-11-02T06:30:00Z',
    ]);
  });

  it('right for hourly: fires on every real hour through fall-back', () => {
    expect(cronTimes('0 * * * *', 'America/New_York', '2026-11-01T04:30:00Z', 3)).toEqual([
      '2026-11-01T05:00:00Z',
      '2026-11-01T06:00:00Z',
      '2026-11-01T07:00:00Z',
    ]);
  });

  it('accepts fewer than 5 fields (the schedule spec refuses them) and refuses 7', () => {
    expect(() => CronExpressionParser.parse('* * * *')).not.toThrow();
    expect(() => CronExpressionParser.parse('* * * * * * *')).toThrow(/too many fields/);
  });
});

describe('rrule alone', () => {
  const rule = 'DTSTART;TZID=America/New_York:20260306T023000\nRRULE:FREQ=DAILY;COUNT=3';

  /** rrule's answers in a fresh node process whose host time zone is `tz` (TZ cannot change in a jest worker). */
  function inHostZone(tz: string, expression: string): string[] {
    const code = `const { RRule, rrulestr } = require('rrule'); console.log(JSON.stringify((${expression}).all()));`;
    const out = execFileSync(process.execPath, ['-e', code], { cwd: __dirname, env: { ...process.env, TZ: tz } });
    return (JSON.parse(out.toString()) as string[]).map((s) => s.replace('.000Z', 'Z'));
  }

  it('wrong for any host zone but UTC: TZID results are converted through the host time zone', () => {
    const expression = `rrulestr(${JSON.stringify(rule)})`;
    expect(inHostZone('UTC', expression)).toEqual([
      '2026-03-06T07:30:00Z',
      '2026-03-07T07:30:00Z',
      '2026-03-08T07:30:00Z',
    ]);
    expect(inHostZone('Asia/Tokyo', expression)).toEqual([
      '2026-03-06T16:30:00Z',
      '2026-03-07T16:30:00Z',
      '2026-03-08T16:30:00Z',
    ]);
  });

  it('right without TZID: floating rules (what rrule-walk.ts builds) give the same dates on every host', () => {
    const expression = 'new RRule({ freq: RRule.DAILY, count: 2, dtstart: new Date(Date.UTC(2026, 2, 8, 2, 30)) })';
    const inUtc = inHostZone('UTC', expression);
    expect(inUtc).toEqual(['2026-03-08T02:30:00Z', '2026-03-09T02:30:00Z']);
    expect(inHostZone('Asia/Tokyo', expression)).toEqual(inUtc);
    expect(inHostZone('America/New_York', expression)).toEqual(inUtc);
  });

  it('wrong for gap shift (on a UTC host): the skipped 02:30 becomes 03:30 EDT (07:30Z)', () => {
    expect(rrulestr(rule).all().map(iso)[2]).toBe('2026-03-08T07:30:00Z');
  });

  it('wrong for UTC dates: reads DTSTART:…Z exactly like a floating DTSTART (the Z is dropped)', () => {
    const utc = rrulestr('DTSTART:20260101T090000Z\nRRULE:FREQ=DAILY;COUNT=1').all();
    const floating = rrulestr('DTSTART:20260101T090000\nRRULE:FREQ=DAILY;COUNT=1').all();
    expect(utc.map(iso)).toEqual(floating.map(iso));
  });
});
