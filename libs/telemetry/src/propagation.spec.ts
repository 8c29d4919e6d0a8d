import type { IncomingHttpHeaders } from 'node:http2';
import { Metadata } from '@grpc/grpc-js';
import { ROOT_CONTEXT, trace, TraceFlags, type Context } from '@opentelemetry/api';
import {
  contextFromMetadata,
  extractFromCarrier,
  injectToCarrier,
  metadataFromContext,
  type MetadataReader,
} from './propagation';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${SPAN_ID}-01`;

function spanContext(ctx: Context) {
  return trace.getSpanContext(ctx);
}

const sampled: Context = trace.setSpanContext(ROOT_CONTEXT, {
  traceId: TRACE_ID,
  spanId: SPAN_ID,
  traceFlags: TraceFlags.SAMPLED,
  isRemote: false,
});

describe('injectToCarrier / extractFromCarrier', () => {
  it('round-trips a span context through a JSON carrier (BullMQ job data, journal record)', () => {
    const carrier = injectToCarrier(sampled);
    expect(carrier).toEqual({ traceparent: TRACEPARENT });
    const back = spanContext(extractFromCarrier(JSON.parse(JSON.stringify({ trace: carrier })).trace));
    expect(back).toMatchObject({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: TraceFlags.SAMPLED, isRemote: true });
  });

  it('keeps an unsampled flag and the tracestate', () => {
    const back = spanContext(
      extractFromCarrier({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-00`, tracestate: 'vendor=abc,other=1' }),
    );
    expect(back?.traceFlags).toBe(TraceFlags.NONE);
    expect(back?.traceState?.serialize()).toBe('vendor=abc,other=1');
  });

  it('injects nothing when there is no valid span', () => {
    expect(injectToCarrier(ROOT_CONTEXT)).toEqual({});
  });

  it.each([
    ['null', null],
    ['a string', TRACEPARENT],
    ['an array', [TRACEPARENT]],
    ['a number', 42],
    ['a non-string traceparent', { traceparent: 123 }],
    ['an all-zero trace id', { traceparent: `00-${'0'.repeat(32)}-${SPAN_ID}-01` }],
    ['an all-zero span id', { traceparent: `00-${TRACE_ID}-${'0'.repeat(16)}-01` }],
    ['version ff', { traceparent: `ff-${TRACE_ID}-${SPAN_ID}-01` }],
    ['upper-case hex', { traceparent: `00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01` }],
    ['an oversized traceparent', { traceparent: `${TRACEPARENT}-${'a'.repeat(100_000)}` }],
    ['a traceparent only on the prototype', Object.create({ traceparent: TRACEPARENT }) as object],
    ['a __proto__ key from JSON', JSON.parse(`{"__proto__": {"traceparent": "${TRACEPARENT}"}}`) as object],
    ['garbage', { traceparent: '00-zz-yy-01\n\u0000' }],
  ])('ignores %s and leaves the base context alone', (_what, carrier) => {
    expect(extractFromCarrier(carrier)).toBe(ROOT_CONTEXT);
    expect(spanContext(extractFromCarrier(carrier, sampled))?.spanId).toBe(SPAN_ID);
  });

  it('drops an oversized tracestate but keeps the parent', () => {
    const back = spanContext(extractFromCarrier({ traceparent: TRACEPARENT, tracestate: `a=${'b'.repeat(20_000)}` }));
    expect(back?.traceId).toBe(TRACE_ID);
    expect(back?.traceState).toBeUndefined();
  });
});

describe('metadataFromContext / contextFromMetadata', () => {
  it('round-trips through grpc-js Metadata, next to the credential', () => {
    const md = new Metadata();
    md.set('authorization', 'Bearer agent.secret');
    expect(metadataFromContext(md, sampled)).toBe(md);
    expect(md.get('traceparent')).toEqual([TRACEPARENT]);
    expect(md.get('authorization')).toEqual(['Bearer agent.secret']);
    // What the server sees after the wire: a copy of the headers.
    const received = Metadata.fromHttp2Headers(md.toHttp2Headers() as IncomingHttpHeaders);
    expect(spanContext(contextFromMetadata(received))).toMatchObject({
      traceId: TRACE_ID,
      spanId: SPAN_ID,
      isRemote: true,
    });
  });

  it('refuses two traceparent values (invalid per W3C)', () => {
    const md = new Metadata();
    md.add('traceparent', TRACEPARENT);
    md.add('traceparent', `00-${TRACE_ID}-${'1'.repeat(16)}-01`);
    expect(contextFromMetadata(md)).toBe(ROOT_CONTEXT);
  });

  it('ignores binary values, missing keys and a reader that throws', () => {
    const binary: MetadataReader = { get: (key) => (key === 'traceparent' ? [Buffer.from(TRACEPARENT)] : []) };
    expect(contextFromMetadata(binary)).toBe(ROOT_CONTEXT);
    expect(contextFromMetadata(new Metadata())).toBe(ROOT_CONTEXT);
    const hostile: MetadataReader = {
      get: () => {
        throw new Error('boom');
      },
    };
    expect(contextFromMetadata(hostile, sampled)).toBe(sampled);
  });

  it('writes nothing when there is no span', () => {
    const md = metadataFromContext(new Metadata(), ROOT_CONTEXT);
    expect(md.get('traceparent')).toEqual([]);
  });
});
