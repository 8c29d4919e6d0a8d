import { randomFillSync } from 'node:crypto';
import {
  context as api,
  trace,
  TraceFlags,
  type Context,
  type Span,
  type SpanContext,
  type SpanOptions,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';

/** Random bytes drawn in blocks: one randomFillSync per 512 ids instead of one per id. */
const POOL = Buffer.alloc(8 * 512);
let offset = POOL.length;

function randomHex(bytes: 8 | 16): string {
  if (offset + bytes > POOL.length) {
    randomFillSync(POOL);
    offset = 0;
  }
  const hex = POOL.toString('hex', offset, offset + bytes);
  offset += bytes;
  return /^0+$/.test(hex) ? randomHex(bytes) : hex; // all zeros is the invalid id
}

/**
 * The `off` mode's tracer: no sampler, processor or attributes, only ids. A span continues its parent's
 * trace id (a new one for a root) with a fresh span id, not sampled, so W3C context still flows between
 * API and agent and log lines still carry trace_id/span_id, for an id's cost. Parents come from our own
 * spans or from the W3C propagator, which validates what it extracts.
 */
export class IdOnlyTracer implements Tracer {
  startSpan(_name: string, _options?: SpanOptions, ctx: Context = api.active()): Span {
    const parent = trace.getSpanContext(ctx);
    const spanContext: SpanContext = {
      traceId: parent && parent.traceId.length === 32 ? parent.traceId : randomHex(16),
      spanId: randomHex(8),
      traceFlags: TraceFlags.NONE,
      ...(parent?.traceState ? { traceState: parent.traceState } : {}),
    };
    return trace.wrapSpanContext(spanContext);
  }

  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    ...args: [F] | [SpanOptions, F] | [SpanOptions, Context, F]
  ): ReturnType<F> {
    const fn = args[args.length - 1] as (span: Span) => ReturnType<F>;
    const options = args.length > 1 ? (args[0] as SpanOptions) : undefined;
    const ctx = args.length > 2 ? (args[1] as Context) : api.active();
    const span = this.startSpan(name, options, ctx);
    return api.with<[Span], (span: Span) => ReturnType<F>>(trace.setSpan(ctx, span), fn, undefined, span);
  }
}

export class IdOnlyTracerProvider implements TracerProvider {
  private readonly tracer = new IdOnlyTracer();
  getTracer(): Tracer {
    return this.tracer;
  }
}
