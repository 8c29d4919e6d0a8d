import { Writable } from 'node:stream';
import { SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import pino from 'pino';
import { traceLogMixin } from './log-mixin';
import { extractFromCarrier, injectToCarrier } from './propagation';
import { startTelemetry, type Telemetry } from './telemetry';
import { activeTraceIds, ATTR, SpanKind, withSpan } from './tracing';

describe('withSpan (test exporter)', () => {
  let telemetry: Telemetry;
  let exporter: InMemorySpanExporter;

  // A fresh exporter per test: shutdown() shuts the exporter down too.
  beforeEach(() => {
    exporter = new InMemorySpanExporter();
    telemetry = startTelemetry({ serviceName: 'jr-test', serviceVersion: '0.0.1', testSpanExporter: exporter });
  });
  afterEach(() => telemetry.shutdown());

  const byName = (name: string) => exporter.getFinishedSpans().find((s) => s.name === name);

  it('records a span with its attributes and makes nested spans its children', async () => {
    const result = await withSpan('outer', { [ATTR.jobId]: 'j1' }, async () => {
      await withSpan('inner', {}, () => 'sync result', { kind: SpanKind.CLIENT });
      return 42;
    });
    expect(result).toBe(42);
    const outer = byName('outer')!;
    const inner = byName('inner')!;
    expect(outer.attributes[ATTR.jobId]).toBe('j1');
    expect(inner.kind).toBe(SpanKind.CLIENT);
    expect(inner.spanContext().traceId).toBe(outer.spanContext().traceId);
    expect(inner.parentSpanContext?.spanId).toBe(outer.spanContext().spanId);
    expect(outer.resource.attributes['service.name']).toBe('jr-test');
  });

  it('records a thrown error (status, exception event, error.type from a stable code) and rethrows it', async () => {
    const err = Object.assign(new Error('journal is full'), { code: 'JOURNAL_FULL' });
    await expect(withSpan('failing', {}, () => Promise.reject(err))).rejects.toBe(err);
    const span = byName('failing')!;
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'journal is full' });
    expect(span.attributes['error.type']).toBe('JOURNAL_FULL');
    expect(span.events.map((e) => e.name)).toEqual(['exception']);
    expect(span.ended).toBe(true);
  });

  it('names non-Error throws and numeric (gRPC) codes', async () => {
    await expect(withSpan('string-throw', {}, () => Promise.reject(new Error('x')))).rejects.toThrow('x');
    await expect(
      withSpan('grpc', {}, () => {
        throw Object.assign(new Error('unavailable'), { code: 14 });
      }),
    ).rejects.toThrow('unavailable');
    await expect(
      withSpan('odd', {}, () => {
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- what a careless library may do
        throw 'plain string';
      }),
    ).rejects.toBe('plain string');
    expect(byName('string-throw')!.attributes['error.type']).toBe('Error');
    expect(byName('grpc')!.attributes['error.type']).toBe('14');
    expect(byName('odd')!.attributes['error.type']).toBe('unknown');
  });

  it('continues a trace from a carrier: the new span is a child of the remote parent', async () => {
    let carrier: Record<string, string> = {};
    await withSpan('producer', {}, () => {
      carrier = injectToCarrier();
    });
    await withSpan('consumer', {}, () => undefined, { parent: extractFromCarrier(carrier) });
    expect(byName('consumer')!.parentSpanContext?.spanId).toBe(byName('producer')!.spanContext().spanId);
  });

  it('puts the active trace and span ids on every pino log line', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const log = pino({ mixin: traceLogMixin }, sink);
    log.info('outside');
    await withSpan('logged', {}, () => log.info('inside'));
    const [outside, inside] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const span = byName('logged')!.spanContext();
    expect(outside).not.toHaveProperty('trace_id');
    expect(inside).toMatchObject({ msg: 'inside', trace_id: span.traceId, span_id: span.spanId });
  });

  it('has no active ids outside a span', () => {
    expect(activeTraceIds()).toBeUndefined();
    expect(traceLogMixin()).toEqual({});
  });
});
