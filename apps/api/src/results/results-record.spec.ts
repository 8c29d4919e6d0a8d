import fc from 'fast-check';
import { decodeResult, encodeResult, type CompleteRecord, type ReportRecord } from './results-record';

const base = {
  jobId: `j_${'0'.repeat(10)}${'a'.repeat(16)}`,
  attempt: 2,
  agentId: `a_${'b'.repeat(20)}`,
  leaseToken: 'f'.repeat(32),
  late: false,
  at: 1_767_225_600_000,
};

const report: ReportRecord = {
  type: 'report',
  ...base,
  events: [
    {
      seq: 1,
      at: new Date(1_000),
      kind: 'step_started',
      step: 0,
      stream: null,
      data: null,
      detail: { name: 'build', try: 1 },
    },
    {
      seq: 2,
      at: new Date(2_000),
      kind: 'log',
      step: 0,
      stream: 'stdout',
      data: Buffer.from([0, 1, 2, 255, 0x0a]),
      detail: null,
    },
    { seq: 3, at: new Date(3_000), kind: 'log', step: 0, stream: 'stderr', data: Buffer.alloc(0), detail: null },
    {
      seq: 4,
      at: new Date(4_000),
      kind: 'step_finished',
      step: 0,
      stream: null,
      data: null,
      detail: { exitCode: 0, signal: '', outcome: 'ok' },
    },
  ],
};

const complete: CompleteRecord = {
  type: 'complete',
  ...base,
  late: true,
  outcome: { end: 'failed', exitCode: 3, reason: 'exit_code', startedAt: new Date(1_000), endedAt: new Date(5_000) },
};

describe('results journal records', () => {
  it('round-trip reports with binary log data (no base64) and completions', () => {
    expect(decodeResult(encodeResult(report))).toEqual(report);
    expect(decodeResult(encodeResult(complete))).toEqual(complete);
    expect(
      decodeResult(
        encodeResult({ ...complete, outcome: { ...complete.outcome, startedAt: null, exitCode: null, reason: null } }),
      ).type,
    ).toBe('complete');
    const big = Buffer.alloc(64 * 1024, 7);
    const encoded = encodeResult({
      ...report,
      events: [{ ...(report.events[1] as ReportRecord['events'][number]), data: big }],
    });
    expect(encoded.length).toBeLessThan(big.length + 400);
  });

  it('round-trips arbitrary event lists', () => {
    const event = fc.record({
      seq: fc.integer({ min: 1, max: 2 ** 40 }),
      at: fc.integer({ min: 0, max: 4e12 }).map((ms) => new Date(ms)),
      kind: fc.constant('log' as const),
      step: fc.integer({ min: 0, max: 100 }),
      stream: fc.constantFrom('stdout', 'stderr'),
      data: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
      detail: fc.constant(null),
    });
    fc.assert(
      fc.property(fc.array(event, { maxLength: 20 }), (events) => {
        const r: ReportRecord = { ...report, events };
        expect(decodeResult(encodeResult(r))).toEqual(r);
      }),
    );
  });

  it('refuses anything that is not a record we wrote', () => {
    const good = encodeResult(report);
    const bad: Buffer[] = [
      Buffer.alloc(0),
      Buffer.from('JRR'),
      Buffer.from('{"type":"report"}'),
      Buffer.concat([Buffer.from([0x4a, 0x52, 0x52, 0x02]), good.subarray(4)]), // unknown version
      good.subarray(0, good.length - 1), // data shorter than the header says
      Buffer.concat([good, Buffer.from([0])]), // trailing bytes
      (() => {
        const b = Buffer.from(good);
        b.writeUInt32LE(0xffffffff, 4); // header length past the end
        return b;
      })(),
    ];
    for (const b of bad) expect(() => decodeResult(b)).toThrow();
  });

  it('refuses hostile headers: unknown fields, bad ids, bad tokens, negative lengths, prototype keys', () => {
    const withHeader = (header: unknown): Buffer => {
      const json = Buffer.from(JSON.stringify(header));
      const prefix = Buffer.from([0x4a, 0x52, 0x52, 0x01, 0, 0, 0, 0]);
      prefix.writeUInt32LE(json.length, 4);
      return Buffer.concat([prefix, json]);
    };
    const header = { ...complete, outcome: { ...complete.outcome, startedAt: 1_000, endedAt: 5_000 } };
    expect(() => decodeResult(withHeader(header))).not.toThrow();
    for (const h of [
      { ...header, extra: 1 },
      { ...header, jobId: 'j_../../etc' },
      { ...header, leaseToken: 'x'.repeat(32) },
      { ...header, attempt: 0 },
      { ...header, type: 'cancel' },
      { ...header, outcome: { ...header.outcome, end: 'lost' } },
      { ...header, outcome: { ...header.outcome, reason: 'r'.repeat(201) } },
      { ...report, events: [{ seq: 1, at: 1, kind: 'log', step: 0, stream: 'stdout', detail: null, len: -2 }] },
      { ...report, events: [{ seq: 0, at: 1, kind: 'log', step: 0, stream: 'stdout', detail: null, len: -1 }] },
      JSON.parse(`{"__proto__": {"polluted": true}, "type": "complete"}`),
    ]) {
      expect(() => decodeResult(withHeader(h))).toThrow();
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
