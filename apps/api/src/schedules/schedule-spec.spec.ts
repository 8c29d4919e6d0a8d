import { parseScheduleSpec, type ScheduleSpecIssue } from './schedule-spec';

const JOB = { steps: [{ run: 'echo tick' }] };

function issuesOf(fields: Record<string, unknown>): ScheduleSpecIssue[] {
  const result = parseScheduleSpec({ name: 'nightly', job: JOB, ...fields });
  if (result.ok) throw new Error('expected the schedule to be refused');
  return result.issues;
}

function accepts(fields: Record<string, unknown>): void {
  const result = parseScheduleSpec({ name: 'nightly', job: JOB, ...fields });
  expect(result.ok ? [] : result.issues).toEqual([]);
}

/** Refused, and quickly: rrule would loop for ever or scan to the year 9999 on some of these. */
function refusesRrule(rrule: string, message: RegExp): void {
  const started = Date.now();
  const issues = issuesOf({ rrule });
  expect(Date.now() - started).toBeLessThan(3_000);
  expect(issues).toEqual([{ path: 'rrule', message: expect.stringMatching(message) }]);
}

describe('parseScheduleSpec: a valid document', () => {
  it('applies the defaults', () => {
    const result = parseScheduleSpec({ name: 'nightly', cron: '0 3 * * *', job: JOB });
    expect(result.ok && result.spec).toEqual({
      name: 'nightly',
      trigger: { kind: 'cron', cron: '0 3 * * *' },
      timezone: 'UTC',
      exclusions: [],
      overlap: 'skip',
      catchup: { policy: 'latest', windowMs: 24 * 3_600_000 },
      dst: { ambiguous: 'first', gap: 'shift' },
      paused: false,
      job: expect.objectContaining({ name: 'echo tick', pool: 'default' }),
    });
  });

  it('reads every field', () => {
    const result = parseScheduleSpec({
      name: 'Berichte 📈',
      cron: ' 0  9 * * 1-5 ',
      timezone: 'europe/berlin',
      exclusions: ['2026-12-25', { from: '2026-12-31T18:00', to: '2027-01-01T12:00:00+01:00' }],
      overlap: 'buffer_one',
      catchup: { policy: 'all', window: '6h' },
      dst: { ambiguous: 'both', gap: 'skip' },
      paused: true,
      job: { ...JOB, secrets: { TOKEN: 'abcdef123' } },
    });
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(result.spec).toMatchObject({
      trigger: { kind: 'cron', cron: '0 9 * * 1-5' },
      timezone: 'Europe/Berlin',
      exclusions: [
        { kind: 'day', date: '2026-12-25' },
        { kind: 'range', fromMs: Date.parse('2026-12-31T17:00:00Z'), toMs: Date.parse('2027-01-01T11:00:00Z') },
      ],
      overlap: 'buffer_one',
      catchup: { policy: 'all', windowMs: 6 * 3_600_000 },
      dst: { ambiguous: 'both', gap: 'skip' },
      paused: true,
    });
    expect(result.secrets).toEqual({ TOKEN: 'abcdef123' });
  });

  it('takes the zone from DTSTART;TZID when timezone is not given', () => {
    const result = parseScheduleSpec({
      name: 'n',
      rrule: 'DTSTART;TZID=Asia/Tokyo:20260101T090000\nRRULE:FREQ=DAILY',
      job: JOB,
    });
    expect(result.ok && result.spec.timezone).toBe('Asia/Tokyo');
  });

  it.each([
    ['every second', '* * * * * *'],
    ['seconds first', '30 */5 * * * *'],
    ['names and L', '0 0 L * *'],
    ['nth weekday', '0 9 * * MON#2'],
  ])('accepts cron %s: %s', (_what, cron) => accepts({ cron }));

  it.each([
    ['FREQ=SECONDLY;INTERVAL=1 (as dense as any rule can be)', 'RRULE:FREQ=SECONDLY;INTERVAL=1'],
    ['a bare rule', 'FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0;BYSECOND=0'],
    ['COUNT', 'DTSTART:20260101T000000Z\nRRULE:FREQ=DAILY;COUNT=10'],
    ['UNTIL', 'DTSTART:20260101T000000Z\nRRULE:FREQ=DAILY;UNTIL=20261231T000000Z'],
    [
      'an hourly rule whose interval reaches its BYHOUR',
      'DTSTART:20260101T030000Z\nRRULE:FREQ=HOURLY;INTERVAL=5;BYHOUR=5',
    ],
    [
      'EXDATE, RDATE and EXRULE',
      'RRULE:FREQ=DAILY\nEXDATE:20260105T000000Z,20260106T000000Z\nRDATE:20260105T120000Z\nEXRULE:FREQ=WEEKLY;BYDAY=SU',
    ],
  ])('accepts rrule %s', (_what, rrule) => accepts({ rrule }));
});

describe('parseScheduleSpec: hostile input', () => {
  it('refuses a NUL in the name, once, for what it is', () => {
    expect(issuesOf({ name: 'night\u0000ly', cron: '0 3 * * *' })).toEqual([
      { path: 'name', message: expect.stringMatching(/NUL/) },
    ]);
  });

  it('refuses an unpaired surrogate in the name', () => {
    expect(issuesOf({ name: 'night\ud800ly', cron: '0 3 * * *' })).toEqual([
      { path: 'name', message: expect.stringMatching(/unpaired UTF-16 surrogate/) },
    ]);
  });

  it.each([
    ['empty', ''],
    ['only spaces', '   '],
    ['too long', 'x'.repeat(129)],
    ['a newline', 'a\nb'],
    ['a right-to-left override', 'report\u202egpj.exe'],
  ])('refuses a name that is %s', (_what, name) => {
    expect(issuesOf({ name, cron: '0 3 * * *' })).toEqual([{ path: 'name', message: expect.any(String) }]);
  });

  it('counts characters, not UTF-16 units, in the name', () => accepts({ name: '📈'.repeat(128), cron: '0 3 * * *' }));

  it.each([
    ['7 fields', '* * * * * * *', /5 fields .* or 6 with seconds first; this one has 7/],
    ['4 fields', '* * * *', /this one has 4/],
    ['a macro', '@daily', /macros/],
    ['a hashed value', 'H 3 * * *', /H \(hashed\)/],
    ['a value out of range', '61 * * * *', /not a valid cron expression/],
    ['a date that never comes', '0 0 31 2,4 *', /not a valid cron expression/],
    ['a step of 0', '*/0 * * * *', /not a valid cron expression/],
    ['letters', 'a b c d e', /not a valid cron expression/],
  ])('refuses cron with %s', (_what, cron, message) => {
    expect(issuesOf({ cron })).toEqual([{ path: 'cron', message: expect.stringMatching(message) }]);
  });

  it('refuses 10,000 exclusions with one issue, before reading them', () => {
    const exclusions = Array.from({ length: 10_000 }, () => 'not a date');
    expect(issuesOf({ cron: '0 3 * * *', exclusions })).toEqual([
      { path: 'exclusions', message: 'at most 1000 exclusions' },
    ]);
  });

  it('accepts 1,000 exclusions', () => {
    const day = (i: number): string => new Date(Date.UTC(2030, 0, 1) + i * 86_400_000).toISOString().slice(0, 10);
    accepts({ cron: '0 3 * * *', exclusions: Array.from({ length: 1_000 }, (_, i) => day(i)) });
  });

  it.each([
    ['an impossible date', ['2026-02-30']],
    ['a range that ends before it starts', [{ from: '2026-01-02T00:00:00Z', to: '2026-01-01T00:00:00Z' }]],
    ['a range without to', [{ from: '2026-01-02T00:00:00Z' }]],
    ['a number', [42]],
  ])('refuses an exclusion that is %s', (_what, exclusions) => {
    expect(issuesOf({ cron: '0 3 * * *', exclusions })).toEqual([
      { path: expect.stringMatching(/^exclusions\.0/), message: expect.any(String) },
    ]);
  });

  it.each(['Mars/Olympus_Mons', '+05:00', 'Local', '', 'Europe/Berlin\u0000'])(
    'refuses the time zone %j',
    (timezone) => {
      expect(issuesOf({ cron: '0 3 * * *', timezone })).toEqual([{ path: 'timezone', message: expect.any(String) }]);
    },
  );

  it('refuses both cron and rrule, and neither', () => {
    expect(issuesOf({ cron: '0 3 * * *', rrule: 'FREQ=DAILY' })).toEqual([
      { path: '(root)', message: 'give either cron or rrule, not both' },
    ]);
    expect(issuesOf({})).toEqual([{ path: '(root)', message: expect.stringMatching(/needs cron .* or rrule/) }]);
  });

  it('reports the job’s issues under job., with the others', () => {
    const result = parseScheduleSpec({ name: '', cron: '* * * * * * *', job: { steps: [] } });
    expect(result.ok ? [] : result.issues).toEqual(
      expect.arrayContaining([
        { path: 'name', message: expect.any(String) },
        { path: 'cron', message: expect.stringMatching(/this one has 7/) },
        { path: 'job.steps', message: 'a job needs at least one step' },
      ]),
    );
    expect(parseScheduleSpec({ name: 'n', cron: '0 3 * * *' })).toEqual({
      ok: false,
      issues: [{ path: 'job', message: expect.stringMatching(/job is required/) }],
    });
  });

  it.each([
    ['an unknown field', { colour: 'red' }, 'colour'],
    ['an unknown overlap policy', { overlap: 'queue' }, 'overlap'],
    ['an unknown catch-up policy', { catchup: { policy: 'some' } }, 'catchup.policy'],
    ['a catch-up window of 0', { catchup: { policy: 'all', window: '0s' } }, 'catchup.window'],
    ['a catch-up window over 31 days', { catchup: { policy: 'all', window: '40d' } }, 'catchup.window'],
    ['an unknown DST policy', { dst: { gap: 'later' } }, 'dst.gap'],
    ['paused as a string', { paused: 'yes' }, 'paused'],
    ['cron as a number', { cron: 5 }, 'cron'],
  ])('refuses %s', (_what, fields, path) => {
    expect(issuesOf({ cron: '0 3 * * *', ...fields })).toEqual([{ path, message: expect.any(String) }]);
  });

  it('refuses what is not an object', () => {
    for (const input of [null, 'cron', [], 42]) {
      expect(parseScheduleSpec(input)).toEqual({
        ok: false,
        issues: [{ path: '(root)', message: 'a schedule is an object' }],
      });
    }
  });
});

describe('parseScheduleSpec: rrule', () => {
  it.each([
    ['INTERVAL=0', 'RRULE:FREQ=DAILY;INTERVAL=0', /INTERVAL must be a whole number from 1/],
    ['a fractional INTERVAL', 'RRULE:FREQ=SECONDLY;INTERVAL=0.5', /INTERVAL must be a whole number/],
    [
      'a sub-daily INTERVAL over a day',
      'RRULE:FREQ=HOURLY;INTERVAL=25',
      /INTERVAL must be a whole number from 1 to 24/,
    ],
    ['BYHOUR=25', 'RRULE:FREQ=DAILY;BYHOUR=25', /HOUR values are whole numbers from 0 to 23/],
    ['BYSECOND=60', 'RRULE:FREQ=MINUTELY;BYSECOND=60', /SECOND values/],
    ['COUNT=abc', 'DTSTART:20260101T000000Z\nRRULE:FREQ=DAILY;COUNT=abc', /COUNT must be a whole number/],
    ['COUNT and UNTIL', 'DTSTART:20260101T000000Z\nRRULE:FREQ=DAILY;COUNT=2;UNTIL=20270101T000000Z', /COUNT and UNTIL/],
    ['COUNT without DTSTART', 'RRULE:FREQ=DAILY;COUNT=2', /COUNT needs a DTSTART/],
    ['no FREQ', 'RRULE:BYHOUR=3', /FREQ is required/],
    ['an unknown FREQ', 'RRULE:FREQ=FORTNIGHTLY', /FREQ is required/],
    ['an unknown part', 'RRULE:FREQ=DAILY;BYEASTER=0', /unsupported rule part BYEASTER/],
    [
      'a numbered BYDAY in a weekly rule',
      'RRULE:FREQ=WEEKLY;BYDAY=2MO',
      /numbered BYDAY values .* FREQ=MONTHLY or YEARLY/,
    ],
    ['an unknown weekday', 'RRULE:FREQ=WEEKLY;BYDAY=XX', /BYDAY values are MO/],
    ['BYWEEKNO in a monthly rule', 'RRULE:FREQ=MONTHLY;BYWEEKNO=3', /BYWEEKNO only goes with FREQ=YEARLY/],
    ['a date-only DTSTART', 'DTSTART;VALUE=DATE:20260101\nRRULE:FREQ=DAILY', /unsupported parameter VALUE=DATE/],
    ['an impossible DTSTART', 'DTSTART:20260230T000000Z\nRRULE:FREQ=DAILY', /not a real date/],
    ['an unknown line', 'RRULE:FREQ=DAILY\nX-COLOUR:red', /unsupported line X/],
    ['no RRULE', 'DTSTART:20260101T000000Z', /an RRULE line is needed/],
    ['garbage', 'every day at noon', /not a recurrence line/],
  ])('refuses %s', (_what, rrule, message) => refusesRrule(rrule, message));

  it('refuses a TZID that differs from timezone', () => {
    expect(
      issuesOf({ rrule: 'DTSTART;TZID=Asia/Tokyo:20260101T090000\nRRULE:FREQ=DAILY', timezone: 'Europe/Berlin' }),
    ).toEqual([
      {
        path: 'rrule',
        message: expect.stringMatching(/TZID=Asia\/Tokyo differs from the schedule's timezone Europe\/Berlin/),
      },
    ]);
  });

  it.each([
    // rrule's sub-daily stepping never returns on these (no hour, minute or second of the lists is reached)
    [
      'an hourly rule whose interval never reaches BYHOUR',
      'DTSTART:20260101T030000Z\nRRULE:FREQ=HOURLY;INTERVAL=24;BYHOUR=5',
    ],
    [
      'a minutely rule whose interval never reaches BYMINUTE',
      'DTSTART:20260101T000000Z\nRRULE:FREQ=MINUTELY;INTERVAL=60;BYMINUTE=30',
    ],
    [
      'a secondly rule whose interval never reaches BYSECOND',
      'DTSTART:20260101T000000Z\nRRULE:FREQ=SECONDLY;INTERVAL=2;BYSECOND=1,3',
    ],
  ])('refuses, at once, %s', (_what, rrule) =>
    refusesRrule(rrule, /never fires: .*no time in BYHOUR\/BYMINUTE\/BYSECOND/),
  );

  it.each([
    // rrule would scan to the year 9999 on every evaluation of these
    ['a yearly February 30', 'RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30'],
    ['a daily February 30', 'RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30'],
    ['a secondly February 30', 'RRULE:FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30'],
    ['a BYSETPOS past the period', 'RRULE:FREQ=DAILY;BYHOUR=9,17;BYSETPOS=3'],
    ['a sub-daily BYSETPOS past the period', 'RRULE:FREQ=HOURLY;BYMINUTE=0,30;BYSETPOS=3'],
    ['an EXRULE that never matches', 'RRULE:FREQ=DAILY\nEXRULE:FREQ=MONTHLY;BYMONTH=4;BYMONTHDAY=31'],
    ['a daily rule whose interval never meets BYDAY', 'DTSTART:20260106T000000Z\nRRULE:FREQ=DAILY;INTERVAL=7;BYDAY=MO'],
  ])('refuses, quickly, %s', (_what, rrule) => refusesRrule(rrule, /never fires/));
});

describe('parseScheduleSpec: rules found by the fuzz test (test/integration/api/schedules-fuzz.test.ts)', () => {
  it('refuses minutely and secondly rules with day filters (rrule can loop for ever on them)', () => {
    refusesRrule('FREQ=MINUTELY;BYDAY=MO;BYHOUR=23', /MINUTELY with BYDAY cannot be evaluated safely/);
    refusesRrule('FREQ=MINUTELY;BYMONTH=2;BYHOUR=9', /MINUTELY with BYMONTH/);
    refusesRrule('FREQ=SECONDLY;BYDAY=MO;BYMINUTE=5', /SECONDLY with BYDAY/);
    refusesRrule('RRULE:FREQ=SECONDLY;BYMONTH=2', /SECONDLY with BYMONTH/);
    accepts({ rrule: 'FREQ=HOURLY;BYDAY=MO;BYHOUR=23' });
    accepts({ rrule: 'FREQ=MINUTELY;BYHOUR=9,10;BYMINUTE=0,30' });
  });

  it('refuses an EXRULE that leaves nothing to walk, within the walk budget', () => {
    refusesRrule('RRULE:FREQ=HOURLY\nEXRULE:FREQ=HOURLY', /more than 250000 steps/);
    refusesRrule('RRULE:FREQ=MINUTELY;INTERVAL=2\nEXRULE:FREQ=MINUTELY;INTERVAL=2', /more than 250000 steps/);
  });

  it('refuses a DTSTART before 1970 (years 0-99 would be read as 1900-1999)', () => {
    refusesRrule('DTSTART:00500101T000000\nRRULE:FREQ=YEARLY;COUNT=1975', /before 1970/);
  });

  it('refuses a name shaped like a schedule id (GET /v1/schedules/:idOrName would name two)', () => {
    expect(issuesOf({ name: 's_aaaaaaaaaaaaaaaaaaaa', cron: '0 3 * * *' }).map((i) => i.path)).toEqual(['name']);
  });
});
