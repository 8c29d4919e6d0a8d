import fc from 'fast-check';

/**
 * Schedule documents for schedules-fuzz.test.ts: a plausible document (every field odd but legal) with
 * 0-3 of its fields swapped for hostile values, or a raw body (duplicate keys, prototype keys, malformed
 * JSON, invalid UTF-8), or an earlier body again, or a document named after an earlier schedule's id.
 */

type Doc = Record<string, unknown>;
export type FuzzCase =
  | { kind: 'doc'; doc: Doc }
  | { kind: 'raw'; raw: string | Buffer }
  /** The body of an earlier case again, byte for byte (an idempotent retry). */
  | { kind: 'again'; pick: number }
  /** `doc` renamed to the id an earlier create answered (names and ids share `/v1/schedules/:idOrName`). */
  | { kind: 'idName'; pick: number; doc: Doc };

const c = <T>(...values: T[]) => fc.constantFrom(...values);
const w = <T>(weight: number, arbitrary: fc.Arbitrary<T>) => ({ weight, arbitrary });
const u = (...values: unknown[]) => fc.constantFrom<unknown>(...values);
const list = <T>(n: number, item: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => item(i));
/** `{a: {a: … leaf}}`, `depth` levels. */
const deep = (depth: number, leaf: unknown = 1): unknown => (depth <= 0 ? leaf : { a: deep(depth - 1, leaf) });
const day = (i: number) => new Date(Date.UTC(2027, 0, 1) + i * 86_400_000).toISOString().slice(0, 10);
const basic = (i: number) => `${day(i).replaceAll('-', '')}T090000`;

/** Text Postgres cannot store, controls, bidi overrides, emoji, combining marks, long runs. */
const oddText = c(
  '\ud800',
  '\udfff\ud800',
  'a\u0000b',
  '\u0007',
  '\u202eevil\u202c',
  '\u2066x\u2069',
  '👋🏽',
  'עברית',
  'e\u0301',
  '\u200b',
  '\ufeff',
  '\u2028',
  '%s%n',
  '$(id)',
  '\'"`\\',
  'x'.repeat(10_240),
);
/** Values of the wrong type for any field. */
const wrongType: fc.Arbitrary<unknown> = fc.oneof(
  u(0, -1, 1.5, 1e308, true, false, null, '', [], {}, [null], ['0 3 * * *']),
  fc.integer({ min: 2, max: 100 }).map((n) => deep(n)),
  fc.constant(deep(100, [deep(3)])),
  fc.jsonValue({ maxDepth: 3 }),
);

const POOL = list(40, (i) => `fuzz-${i}`);
const validName = fc.oneof(
  w(6, c(...POOL)),
  w(
    2,
    c(
      'a',
      ' spaced ',
      'émoji 👋🏽',
      'עברית',
      'e\u0301',
      'zero\u200bwidth',
      '\ufeffbom',
      'x'.repeat(128),
      '👋'.repeat(128),
      'a/b',
      '%2F',
      '?q=1',
      '#frag',
      'null',
      '__proto__',
      'constructor',
      's_notreallyanid00000',
    ),
  ),
);
const badName = fc.oneof(
  c('x'.repeat(129), '👋'.repeat(129), 'a\u0000b', 'lone\ud800', '\u202eevil', '\u2066x', 'a\nb', '\t', '   ', ''),
  oddText,
  wrongType,
);

// 5- and 6-field crons, valid field by field (a combination may still never match: 400 then)
const minute = c('*', '0', '*/5', '0-59/15', '1,2,3', '59', '0-30', '*/1');
const hour = c('*', '3', '0-23/2', '9-17', '23', '0', '2');
const dom = c('*', '*', '1', '15', 'L', '29', '31', '1-7', '?');
const month = c('*', '*', '1', '2', '12', 'JAN-MAR', '2,4,6', 'dec');
const dow = c('*', '*', '1-5', 'MON', 'sun', '0', '7', '5#5', '5L', 'MON-FRI');
const validCron = fc.oneof(
  fc.tuple(minute, hour, dom, month, dow).map((f) => f.join(' ')),
  fc.tuple(c('0', '*/10', '*', '30', '59'), minute, hour, dom, month, dow).map((f) => f.join(' ')),
  c('0 3 * * *', '  0   3 * * *  ', '0\t3 * * *', '0 3 * * *\n', '* * * * * *', '0 0 29 2 *', '0 0 1 1 *'),
);
const badCron = fc.oneof(
  c('60 * * * *', '* 24 * * *', '* * 32 * *', '* * 0 * *', '* * * 13 *', '* * * * 8', '-1 * * * *', '0 0 31 2 *'),
  c('*/0 * * * *', '* */0 * * *', '0-59/0 * * * *', '5-1 * * * *', '0 0 30 2 *', '@daily', 'H * * * *', '0 3 * *'),
  c('0 3 * * * * *', '', '   ', '0 3 * * \ud800', '0 3 * * *\u0000', '٣ * * * *', '０ ３ * * *', '𝟘 * * * *'),
  c('0\n3\n*\n*\n*', '0\u00a03 * * *', '0\u20283 * * *', '0 3 * * MON-', '0 3 L-5 * *', '0 3 * * 1#6', '0,,1 * * * *'),
  fc.integer({ min: 100, max: 5_000 }).map((n) => `${list(n, (i) => String(i % 60)).join(',')} * * * *`),
  fc.integer({ min: 40, max: 60 }).map((n) => `${list(n, (i) => String(i)).join(',')} * * * *`),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc
    .array(c('*', '0', '1', '59', '*/7', '1-3', 'L', 'W', '#', ',', '-', '/', '?'), { minLength: 5, maxLength: 6 })
    .map((f) => f.join(' ')),
  wrongType,
);

// RFC 5545 texts: a DTSTART, 1-2 RRULEs, an EXRULE, RDATE/EXDATE lists, garbage lines, mixed line ends
const freq = c('YEARLY', 'MONTHLY', 'WEEKLY', 'DAILY', 'HOURLY', 'MINUTELY', 'SECONDLY');
const part = fc.oneof(
  c('INTERVAL=1', 'INTERVAL=2', 'INTERVAL=24', 'INTERVAL=0', 'INTERVAL=-1', 'INTERVAL=1000000', 'INTERVAL=x'),
  c('COUNT=1', 'COUNT=10', 'COUNT=10000', 'COUNT=10001', 'COUNT=999999999', 'COUNT=0'),
  c('UNTIL=20300101T000000Z', 'UNTIL=20200101T000000', 'UNTIL=99991231T235959Z', 'UNTIL=soon'),
  c('BYHOUR=9', 'BYHOUR=0,12', 'BYHOUR=23', 'BYHOUR=25', 'BYHOUR=-1', 'BYMINUTE=0', 'BYMINUTE=30', 'BYMINUTE=60'),
  c('BYSECOND=0', 'BYSECOND=61', 'BYDAY=MO', 'BYDAY=MO,WE,FR', 'BYDAY=1MO', 'BYDAY=-1FR', 'BYDAY=53MO', 'BYDAY=XX'),
  c('BYMONTHDAY=1', 'BYMONTHDAY=31', 'BYMONTHDAY=-1', 'BYMONTHDAY=0', 'BYMONTHDAY=32', 'BYMONTHDAY=13'),
  c('BYMONTH=2', 'BYMONTH=13', 'BYMONTH=0', 'BYYEARDAY=366', 'BYYEARDAY=-366', 'BYYEARDAY=367'),
  c('BYWEEKNO=53', 'BYWEEKNO=54', 'BYSETPOS=1', 'BYSETPOS=-1', 'BYSETPOS=0', 'BYSETPOS=400', 'WKST=MO', 'WKST=XX'),
  c('X-FOO=1', 'FREQ=DAILY', ''),
);
const rule = fc.tuple(freq, fc.array(part, { maxLength: 4 })).map(([f, parts]) => [`FREQ=${f}`, ...parts].join(';'));
const dtstart = c(
  'DTSTART:20260105T090000',
  'DTSTART:20260105T090000Z',
  'DTSTART;TZID=Europe/Berlin:20260329T023000',
  'DTSTART;TZID=europe/berlin:20260105T090000',
  'DTSTART;TZID=America/New_York:20261101T013000',
  'DTSTART;TZID=../../etc/passwd:20260105T090000',
  'DTSTART:00500101T000000',
  'DTSTART:99991231T235959',
  'DTSTART:20260230T000000',
  'DTSTART;VALUE=DATE:20260105',
  'DTSTART:20260105T090000\nDTSTART:20270105T090000',
);
const dates = (name: string) =>
  fc
    .tuple(fc.integer({ min: 1, max: 3_000 }), c('', ';TZID=Europe/Berlin', ';TZID=Mars/Olympus'), fc.boolean())
    .map(([n, tz, oneLine]) =>
      oneLine ? `${name}${tz}:${list(n, basic).join(',')}` : list(n, (i) => `${name}${tz}:${basic(i)}`).join('\n'),
    );
const garbage = c(
  'BEGIN:VEVENT',
  'X-WR-TIMEZONE:UTC',
  ';;;',
  'RRULE',
  ':',
  'RRULE:',
  'rrule:freq=daily',
  'RRULE;X=1:FREQ=DAILY',
);
const rruleText = fc
  .record(
    {
      start: dtstart,
      rules: fc.array(rule, { minLength: 1, maxLength: 2 }),
      bare: fc.boolean(),
      exrule: fc.oneof(rule, c('same')),
      rdate: dates('RDATE'),
      exdate: dates('EXDATE'),
      junk: fc.oneof(garbage, fc.string({ unit: 'binary', maxLength: 30 })),
      eol: c('\n', '\r\n', '\r', '\n\r\n', ' \n\t'),
    },
    { requiredKeys: ['rules', 'eol', 'bare'] },
  )
  .map((r) => {
    const [first = 'FREQ=DAILY', ...more] = r.rules;
    const lines = [
      r.start,
      r.bare && !r.start ? first : `RRULE:${first}`,
      ...more.map((m) => `RRULE:${m}`),
      r.exrule === undefined ? undefined : `EXRULE:${r.exrule === 'same' ? first : r.exrule}`,
      r.rdate,
      r.exdate,
      r.junk,
    ];
    return lines.filter((l) => l !== undefined).join(r.eol);
  });
/** Parts that are each legal: their combinations are the rules a user writes (sub-daily ones on some days). */
const validRule = fc
  .tuple(
    freq,
    fc.subarray(['INTERVAL=2', 'BYMONTH=2', 'BYDAY=MO', 'BYMONTHDAY=13', 'BYHOUR=9', 'BYMINUTE=30', 'BYSECOND=0'], {
      maxLength: 3,
    }),
  )
  .map(([f, parts]) => [`FREQ=${f}`, ...parts].join(';'));
const validRrule = fc.oneof(
  c('FREQ=DAILY', 'RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR;BYHOUR=9;BYMINUTE=0', 'RRULE:FREQ=MONTHLY;BYDAY=-1FR'),
  c('DTSTART;TZID=Europe/Berlin:20260105T090000\nRRULE:FREQ=DAILY', 'DTSTART:20260101T000000\r\nRRULE:FREQ=HOURLY'),
  fc
    .tuple(validRule, c('', '', 'same', 'FREQ=WEEKLY;BYDAY=SA,SU', 'FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=25'))
    .map(([r, ex]) => (ex === '' ? `RRULE:${r}` : `RRULE:${r}\nEXRULE:${ex === 'same' ? r : ex}`)),
  rruleText,
);
const badRrule = fc.oneof(
  rruleText,
  fc.string({ unit: 'binary', maxLength: 60 }),
  c('', 'x'.repeat(40_000)),
  wrongType,
);

const validZone = c(
  'UTC',
  'Europe/Berlin',
  'America/New_York',
  'Asia/Kolkata',
  'Australia/Lord_Howe',
  'Pacific/Chatham',
  'Pacific/Kiritimati',
  'America/St_Johns',
  'Etc/GMT+5',
  'Etc/GMT-14',
  'US/Pacific',
  'EST5EDT',
  'europe/berlin',
  'EUROPE/BERLIN',
  'utc',
);
const badZone = fc.oneof(
  c('../../etc/passwd', 'Mars/Olympus', 'Etc/GMT+14', '', ' UTC', 'UTC\u0000', 'Europe/Berlin\n', '\ud800', '+01:00'),
  c('x'.repeat(10_240), 'Europe/'.repeat(2_000), 'Factory', 'local', 'Z'),
  oddText,
  wrongType,
);

const range = (from: string, to: string) => ({ from, to });
const validExclusions = fc.oneof(
  c([day(0)], [day(0), day(0)], [range('2027-01-01T00:00:00Z', '2027-01-02T00:00:00+01:00')]),
  u([range('2027-03-28T02:30:00', '2027-03-28T03:30:00')], list(1_000, day), []),
  fc.integer({ min: 1, max: 1_000 }).map((n) => list(n, (i) => range(`${day(i)}T00:00:00Z`, `${day(i)}T12:00:00Z`))),
);
const badExclusions = fc.oneof(
  c([range('2027-01-02T00:00:00Z', '2027-01-01T00:00:00Z')], [range('2027-01-01T00:00:00Z', '2027-01-01T00:00:00Z')]),
  c(['2026-02-30'], ['2026-13-01'], ['0000-01-01'], ['99999-01-01'], ['2026-12-25T00:00:00Z'], [{ from: day(0) }]),
  u(list(1_001, day), [[day(0)]], [range(day(0), day(1))], [{ ...range('2027-01-01', '2027-01-02'), x: 1 }]),
  fc.array(fc.oneof(oddText, wrongType), { minLength: 1, maxLength: 3 }),
  wrongType,
);

const validCatchup = fc.record(
  { policy: c('none', 'latest', 'all'), window: u('1s', '6h', '2d', '31d', '744h', '2678400s', 60, 1, '90m') },
  { requiredKeys: ['policy'] },
);
const badCatchup = fc.oneof(
  fc.record({
    policy: fc.oneof(c('ALL', 'some', '', 'latest\u0000'), wrongType),
    window: fc.oneof(c('1d'), wrongType),
  }),
  fc.record({
    policy: c('all'),
    window: fc.oneof(u('0s', '999ms', '32d', '745h', -1, 0, 1e308, 0.5, '1.5', 'x'.repeat(40), '1d\u0000'), wrongType),
  }),
  c({ window: '1d' }, { policy: 'all', window: '1d', extra: 1 }),
  wrongType,
);
const validDst = fc.record({ ambiguous: c('first', 'both'), gap: c('skip', 'shift') }, { requiredKeys: [] });
const badDst = fc.oneof(
  fc.record({ ambiguous: fc.oneof(c('last', 'FIRST'), wrongType), gap: c('skip') }),
  fc.record({ ambiguous: c('both'), gap: fc.oneof(c('jump', ''), wrongType) }),
  c({ ambiguous: 'both', gap: 'skip', extra: true }),
  wrongType,
);

const validJob = fc.oneof(
  c({ steps: [{ run: 'true' }] }, { pool: 'web', steps: [{ run: 'apt-get upgrade -y' }] }),
  fc
    .tuple(oddText, c('MSG', 'A_B'))
    .map(([text, key]) => ({ env: { [key]: text }, steps: [{ run: ['printf', '%s\n', text] }] })),
  u({ steps: [{ run: 'deploy' }], secrets: { TOKEN: 's3cret' } }, { steps: list(100, () => ({ run: 'true' })) }),
  fc.integer({ min: 1_000, max: 60_000 }).map((n) => ({ steps: [{ run: ['echo', 'y'.repeat(n)] }] })),
);
const badJob = fc.oneof(
  u({ steps: [] }, { steps: [{ run: '' }] }, { steps: [{}] }, { steps: list(101, () => ({ run: 'true' })) }),
  u({ steps: [{ run: 'true' }], color: 'red' }, { steps: [{ run: 'true' }], retries: 11 }, 'job'),
  c({ steps: [{ run: 'true', env: deep(100) }] }, { steps: [{ run: 'true' }], env: { A: deep(100) } }),
  fc.integer({ min: 270_000, max: 400_000 }).map((n) => ({ steps: [{ run: ['echo', 'z'.repeat(n)] }] })),
  fc.dictionary(fc.oneof(oddText, c('__proto__', 'constructor', 'prototype')), wrongType, { maxKeys: 3 }),
  wrongType,
);

/** A plausible document: every field odd but legal (cron or rrule, never both). */
const plausible = fc
  .record(
    {
      name: validName,
      when: fc.oneof(
        w(
          5,
          validCron.map((cron) => ({ cron })),
        ),
        w(
          4,
          validRrule.map((rrule) => ({ rrule })),
        ),
      ),
      timezone: validZone,
      exclusions: validExclusions,
      overlap: c('skip', 'buffer_one', 'allow', 'cancel_previous'),
      catchup: validCatchup,
      dst: validDst,
      paused: fc.boolean(),
      job: validJob,
    },
    { requiredKeys: ['name', 'when', 'job'] },
  )
  .map(({ when, ...rest }): Doc => ({ ...rest, ...when }));

/** A field replaced (undefined: removed) by a hostile value; several may hit one document. */
const mutation: fc.Arbitrary<[string, unknown]> = fc.oneof(
  ...(
    [
      ['name', badName],
      ['cron', badCron],
      ['rrule', badRrule],
      ['timezone', badZone],
      ['exclusions', badExclusions],
      ['overlap', fc.oneof(c('SKIP', 'sometimes', '', 'skip\u0000'), wrongType)],
      ['catchup', badCatchup],
      ['dst', badDst],
      ['paused', fc.oneof(u('true', 0, 1), wrongType)],
      ['job', badJob],
      ['cron', c(undefined)],
      ['rrule', c(undefined)],
      ['job', c(undefined)],
      ['color', fc.oneof(c('red'), wrongType)],
      ['__proto__', fc.oneof(c({ paused: true }), wrongType)],
      ['constructor', fc.oneof(c({ prototype: { paused: true } }), wrongType)],
      ['', c(1)],
    ] as Array<[string, fc.Arbitrary<unknown>]>
  ).map(([field, value]) => value.map((v): [string, unknown] => [field, v])),
);
/** A mutated document; `__proto__` and `constructor` become own keys (as JSON.parse makes them). */
const mutated = fc
  .tuple(
    plausible,
    fc.oneof(w(3, c<Array<[string, unknown]>>([])), w(5, fc.array(mutation, { minLength: 1, maxLength: 3 }))),
  )
  .map(([doc, changes]) => {
    const out: Doc = { ...doc };
    for (const [field, value] of changes)
      Object.defineProperty(out, field, { value, enumerable: true, writable: true });
    return out;
  });

/** Bodies JSON.stringify cannot make: duplicate and prototype keys, malformed JSON, invalid UTF-8, deep nesting. */
const rawBody: fc.Arbitrary<string | Buffer> = fc.oneof(
  fc
    .tuple(plausible, c(...POOL))
    .map(([doc, decoy]) => `{"name":${JSON.stringify(decoy)},${JSON.stringify(doc).slice(1)}`),
  fc
    .tuple(plausible, c(...POOL))
    .map(([doc, last]) => `${JSON.stringify(doc).slice(0, -1)},"name":${JSON.stringify(last)}}`),
  plausible.map((doc) => `${JSON.stringify(doc).slice(0, -1)},"cron":"61 * * * *"}`),
  plausible.map((doc) => `{"__proto__":{"paused":true,"name":"evil"},${JSON.stringify(doc).slice(1)}`),
  plausible.map((doc) => `{"constructor":{"prototype":{"x":1}},${JSON.stringify(doc).slice(1)}`),
  plausible.map((doc) => JSON.stringify(doc).replace('"name":"', '"name":"\\ud800')),
  c('', '{', '[]', 'null', '5', '"0 3 * * *"', '{"name":"fuzz-0","cron":"0 3 * * *","job":{"steps":[{"run":"true"}]}'),
  fc
    .integer({ min: 20, max: 5_000 })
    .map((n) => `{"name":"deep","cron":"0 3 * * *","job":${'['.repeat(n)}${']'.repeat(n)}}`),
  fc
    .uint8Array({ minLength: 1, maxLength: 4 })
    .map((bad) => Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff, 0xc0, ...bad]), Buffer.from('"}')])),
);

/** One request of the run. */
export const fuzzCase: fc.Arbitrary<FuzzCase> = fc.oneof(
  w(
    14,
    mutated.map((doc): FuzzCase => ({ kind: 'doc', doc })),
  ),
  w(
    2,
    rawBody.map((raw): FuzzCase => ({ kind: 'raw', raw })),
  ),
  w(
    2,
    fc.nat().map((pick): FuzzCase => ({ kind: 'again', pick })),
  ),
  w(
    1,
    fc.tuple(fc.nat(), plausible).map(([pick, doc]): FuzzCase => ({ kind: 'idName', pick, doc })),
  ),
);
