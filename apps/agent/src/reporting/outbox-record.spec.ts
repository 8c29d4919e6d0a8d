import {
  decodeRecord,
  encodeRecord,
  OutboxRecordError,
  toOutboxEvent,
  toProtoEvent,
  type OutboxRecord,
} from './outbox-record';

const ref = { jobId: 'j_1', attempt: 2, leaseToken: 'a'.repeat(32) };
const trace = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'jr=1' };

/** A record with a hand-made header (what a damaged or hostile file could hold). */
function raw(type: number, header: unknown, payload = Buffer.alloc(0), version = 1): Buffer {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const head = Buffer.alloc(6);
  head.writeUInt8(version, 0);
  head.writeUInt8(type, 1);
  head.writeUInt32LE(json.length, 2);
  return Buffer.concat([head, json, payload]);
}

describe('outbox records', () => {
  const records: OutboxRecord[] = [
    {
      type: 'event',
      ref,
      event: { seq: 1, atMs: 10, kind: 'stepStarted', stepStarted: { step: 0, name: 'build ✓', try: 1 } },
    },
    {
      type: 'event',
      ref,
      event: { seq: 2, atMs: 11, kind: 'log', log: { step: 0, stream: 'stderr', data: Buffer.from([0, 255, 10, 13]) } },
    },
    {
      type: 'event',
      ref,
      event: {
        seq: 3,
        atMs: 12,
        kind: 'log',
        log: { step: 0, stream: 'stdout', data: Buffer.from('[gap]') },
        gapBytes: 4096,
      },
    },
    {
      type: 'event',
      ref,
      event: {
        seq: 4,
        atMs: 13,
        kind: 'stepFinished',
        stepFinished: { step: 0, exitCode: -1, signal: 'SIGKILL', outcome: 'cancelled' },
      },
    },
    {
      type: 'complete',
      ref,
      completion: {
        outcome: 'OUTCOME_FAILED',
        exitCode: 3,
        reason: 'step_failed',
        startedAtMs: 1,
        endedAtMs: 2,
        lastSeq: 4,
      },
    },
    {
      type: 'event',
      ref,
      event: { seq: 5, atMs: 14, kind: 'log', log: { step: 1, stream: 'stdout', data: Buffer.from('x') } },
      trace,
    },
    {
      type: 'complete',
      ref,
      completion: { outcome: 'OUTCOME_SUCCEEDED', exitCode: 0, reason: '', startedAtMs: 1, endedAtMs: 2, lastSeq: 5 },
      trace: { traceparent: trace.traceparent },
    },
    { type: 'acked', jobId: 'j_1', attempt: 2, seq: 4 },
    { type: 'settled', jobId: 'j_1', attempt: 2, status: 'superseded' },
  ];

  it.each(records.map((r) => [r.type, r] as const))('round-trips a %s record byte for byte', (_t, record) => {
    expect(decodeRecord(encodeRecord(record))).toEqual(record);
  });

  it('keeps binary log data exactly, outside the JSON header', () => {
    const data = Buffer.from(Array.from({ length: 256 }, (_v, i) => i));
    const rec = decodeRecord(
      encodeRecord({
        type: 'event',
        ref,
        event: { seq: 1, atMs: 0, kind: 'log', log: { step: 0, stream: 'stdout', data } },
      }),
    );
    expect(rec.type === 'event' && rec.event.log?.data.equals(data)).toBe(true);
  });

  it.each([
    ['too short', Buffer.from([1, 0x45])],
    ['an unknown version', raw(0x45, {}, undefined, 9)],
    ['an unknown type', raw(0x5a, {})],
    ['a header length past the end', Buffer.concat([Buffer.from([1, 0x45, 0xff, 0xff, 0, 0]), Buffer.from('{}')])],
    ['a header that is not JSON', raw(0x45, '{"seq":')],
    ['an event without its body', raw(0x45, { ref, seq: 1, atMs: 0, kind: 'log' })],
    [
      'an event with seq 0',
      raw(0x45, { ref, seq: 0, atMs: 0, kind: 'stepStarted', stepStarted: { step: 0, name: '', try: 1 } }),
    ],
    ['an unknown field', raw(0x41, { jobId: 'j_1', attempt: 1, seq: 1, extra: true })],
    ['a prototype key', raw(0x41, '{"jobId":"j_1","attempt":1,"seq":1,"__proto__":{"polluted":true}}')],
    ['a job id that climbs directories', raw(0x41, { jobId: '../etc', attempt: 1, seq: 1 })],
    ['a huge seq', raw(0x41, { jobId: 'j_1', attempt: 1, seq: 2 ** 60 })],
    [
      'an unknown outcome',
      raw(0x43, {
        ref,
        completion: { outcome: 'OUTCOME_MAYBE', exitCode: 0, reason: '', startedAtMs: 0, endedAtMs: 0, lastSeq: 0 },
      }),
    ],
    ['an unknown settle status', raw(0x53, { jobId: 'j_1', attempt: 1, status: 'lost' })],
    [
      'an overlong reason',
      raw(0x43, {
        ref,
        completion: {
          outcome: 'OUTCOME_FAILED',
          exitCode: 0,
          reason: 'x'.repeat(201),
          startedAtMs: 0,
          endedAtMs: 0,
          lastSeq: 0,
        },
      }),
    ],
  ])('refuses %s', (_what, buf) => {
    expect(() => decodeRecord(buf)).toThrow(OutboxRecordError);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  const stepStarted = { ref, seq: 1, atMs: 0, kind: 'stepStarted', stepStarted: { step: 0, name: 's', try: 1 } };
  it.each([
    ['a string', 'traceparent'],
    ['an array', [trace.traceparent]],
    ['a number in it', { traceparent: 7 }],
    ['an unknown key', { traceparent: trace.traceparent, baggage: 'secret=1' }],
    ['an oversized value', { traceparent: 'x'.repeat(9_000) }],
    ['no traceparent', { tracestate: 'jr=1' }],
    ['an empty object', {}],
  ])('keeps the record but forgets a trace carrier that is %s', (_what, carrier) => {
    const rec = decodeRecord(raw(0x45, { ...stepStarted, trace: carrier }));
    expect(rec).toEqual({
      type: 'event',
      ref,
      event: { seq: 1, atMs: 0, kind: 'stepStarted', stepStarted: { step: 0, name: 's', try: 1 } },
    });
  });

  it('writes no trace field when telemetry gave an empty carrier', () => {
    const buf = encodeRecord({
      type: 'complete',
      ref,
      completion: { outcome: 'OUTCOME_FAILED', exitCode: 1, reason: '', startedAtMs: 0, endedAtMs: 0, lastSeq: 0 },
      trace: {},
    });
    expect(buf.toString('utf8')).not.toContain('trace');
  });

  it('normalises runner events and gives Report what it expects (gap markers are plain log chunks there)', () => {
    const e = toOutboxEvent({ seq: 5, atMs: 9, kind: 'log', log: { step: 1, stream: 'stdout', data: 'text' } });
    expect(e).toEqual({ seq: 5, atMs: 9, kind: 'log', log: { step: 1, stream: 'stdout', data: Buffer.from('text') } });
    expect(toProtoEvent({ ...e, gapBytes: 10 })).toEqual(e);
    expect(
      toOutboxEvent({
        seq: '7',
        atMs: 1,
        kind: 'stepFinished',
        stepFinished: { step: 0, exitCode: 2, signal: '', outcome: 'failed' },
      }),
    ).toMatchObject({ seq: 7, kind: 'stepFinished' });
  });
});
