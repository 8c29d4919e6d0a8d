import { extractFromCarrier, activeTraceIds } from '@jr/telemetry';
import { parseJobSpec, type NormalizedJob } from '@jr/contracts';
import { decodeRecord, encodeRecord, requestHash, type SubmittedRecord } from './intake-record';

const base = {
  type: 'job.submitted',
  id: 'j_01jz9qkq3g3h8w9p3qv1x4k2ab',
  job: { steps: [{ run: 'true' }] },
  idempotencyKey: null,
  requestHash: 'h',
  at: 1,
};
const raw = (extra: Record<string, unknown>): Buffer => Buffer.from(JSON.stringify({ ...base, ...extra }));
const VALID = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };

describe('decodeRecord and the trace carrier', () => {
  it('round-trips a record with its carrier, and one written before tracing (no field)', () => {
    const withTrace = decodeRecord(encodeRecord({ ...(base as unknown as SubmittedRecord), trace: VALID }));
    expect(withTrace.trace).toEqual(VALID);
    expect(activeTraceIds(extractFromCarrier(withTrace.trace))?.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    const old = decodeRecord(raw({}));
    expect(old.trace).toBeUndefined();
    expect(old.id).toBe(base.id);
  });

  it.each([
    ['a string', 'x'],
    ['an array', [VALID.traceparent]],
    ['a number', 42],
    ['null', null],
    ['non-string values', { traceparent: 5 }],
    ['a nested object', { traceparent: { evil: true } }],
  ])('drops a carrier that is %s and keeps the record', (_what, trace) => {
    const r = decodeRecord(raw({ trace }));
    expect(r.id).toBe(base.id);
    expect(r.trace).toBeUndefined();
  });

  it.each([
    ['a malformed traceparent', { traceparent: '00-zzzz-1234-01' }],
    ['an all-zero trace id', { traceparent: '00-00000000000000000000000000000000-b7ad6b7169203331-01' }],
    ['an oversized traceparent', { traceparent: `00-${'a'.repeat(100_000)}` }],
    ['only a tracestate', { tracestate: 'k=v' }],
  ])('keeps the record but starts no trace from %s', (_what, trace) => {
    const r = decodeRecord(raw({ trace }));
    expect(r.id).toBe(base.id);
    expect(activeTraceIds(extractFromCarrier(r.trace))).toBeUndefined();
  });

  it('ignores a __proto__ key in the carrier', () => {
    const r = decodeRecord(
      Buffer.from(
        `{"type":"job.submitted","id":"${base.id}","job":{"steps":[]},"idempotencyKey":null,"requestHash":"h","at":1,"trace":{"__proto__":{"traceparent":"${VALID.traceparent}"}}}`,
      ),
    );
    expect(activeTraceIds(extractFromCarrier(r.trace))).toBeUndefined();
    expect(({} as Record<string, unknown>).traceparent).toBeUndefined();
  });
});

describe('requestHash', () => {
  const job = parseOk({ pool: 'web', steps: [{ run: 'make' }] });
  const signature = {
    alg: 'ed25519' as const,
    keyId: 'a'.repeat(16),
    sig: 'A'.repeat(86),
    notAfter: '2030-01-01T00:00:00Z',
  };

  it('leaves the signature out: `jr submit` re-signs (a new notAfter) on every try of one Idempotency-Key', () => {
    expect(requestHash({ ...job, signature })).toBe(requestHash(job));
    expect(requestHash({ ...job, signature: { ...signature, notAfter: '2031-01-01T00:00:00Z' } })).toBe(
      requestHash(job),
    );
    expect(requestHash({ ...job, pool: 'db', signature })).not.toBe(requestHash(job));
  });
});

function parseOk(doc: object): NormalizedJob {
  const parsed = parseJobSpec(doc);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.job;
}
