import { context, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { IdOnlyTracer } from './id-only-tracer';
import { extractFromCarrier } from './propagation';

describe('IdOnlyTracer (the off mode)', () => {
  const tracer = new IdOnlyTracer();

  it('gives a root a new trace id and every span its own span id, never sampled', () => {
    const a = tracer.startSpan('a', {}, ROOT_CONTEXT).spanContext();
    const b = tracer.startSpan('b', {}, ROOT_CONTEXT).spanContext();
    expect(a.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(a.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(a.traceId).not.toBe(b.traceId);
    expect(a.traceFlags).toBe(TraceFlags.NONE);
    expect(trace.isSpanContextValid(a)).toBe(true);
    expect(tracer.startSpan('r', {}, ROOT_CONTEXT).isRecording()).toBe(false);
  });

  it('continues the parent trace (ours, or one extracted from a carrier) with a fresh span id', () => {
    const parent = tracer.startSpan('parent', {}, ROOT_CONTEXT);
    const child = tracer.startSpan('child', {}, trace.setSpan(ROOT_CONTEXT, parent)).spanContext();
    expect(child.traceId).toBe(parent.spanContext().traceId);
    expect(child.spanId).not.toBe(parent.spanContext().spanId);
    const remote = extractFromCarrier({
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      tracestate: 'k=v',
    });
    const continued = tracer.startSpan('remote child', {}, remote).spanContext();
    expect(continued.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(continued.traceState?.serialize()).toBe('k=v');
  });

  it('startActiveSpan runs the function with the span active and returns its result', () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    try {
      const result = tracer.startActiveSpan('active', (span) => {
        expect(trace.getSpan(context.active())).toBe(span);
        return 42;
      });
      expect(result).toBe(42);
    } finally {
      context.disable();
    }
  });

  it('ids stay distinct across many spans (the random pool refills)', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 2_000; i++) ids.add(tracer.startSpan('s', {}, ROOT_CONTEXT).spanContext().spanId);
    expect(ids.size).toBe(2_000);
  });
});
