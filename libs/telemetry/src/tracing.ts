import {
  context,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type Tracer,
} from '@opentelemetry/api';

export { SpanKind, type Attributes, type Context, type Span };

/** Instrumentation scope of every jobrunner span (the service is on the resource). */
export const TRACER_NAME = 'jobrunner';

/**
 * The span names of one job's trace, API then agent, in order. A job is one trace: the submit span is
 * the root; the intake record (journal), BullMQ job data and gRPC calls carry its context onward.
 */
export const SPANS = {
  submit: 'jr.job.submit', // POST /v1/jobs (server)
  journalAppend: 'jr.journal.append', // durable intake record
  relay: 'jr.intake.relay', // journal -> Postgres + queue (may run after a restart)
  enqueue: 'jr.queue.add', // BullMQ add (producer)
  lease: 'jr.job.lease', // handed to an agent (server side of Lease)
  attempt: 'jr.attempt.run', // the agent's run of one attempt (consumer)
  step: 'jr.step.run', // one step try on the agent
  report: 'jr.attempt.report', // Report call (client on the agent, server on the API)
  complete: 'jr.attempt.complete', // Complete call (client on the agent, server on the API)
} as const;

/** Attribute keys of our own (OpenTelemetry semantic conventions for the rest, e.g. error.type). */
export const ATTR = {
  jobId: 'jr.job.id',
  pool: 'jr.pool',
  attempt: 'jr.attempt',
  agentId: 'jr.agent.id',
  stepIndex: 'jr.step.index',
  stepTry: 'jr.step.try',
  outcome: 'jr.outcome',
  errorType: 'error.type',
} as const;

export function tracer(): Tracer {
  return trace.getTracer(TRACER_NAME);
}

export interface SpanOptions {
  /** Parent context (e.g. from `extractFromCarrier`); default: the active context. */
  parent?: Context;
  kind?: SpanKind;
  links?: Link[];
  /** Tracer to use instead of the global one (tests with several providers). */
  tracer?: Tracer;
}

/**
 * Runs `fn` inside a new active span: ends it when `fn` settles, records a thrown error (exception
 * event, status ERROR, `error.type` = the error's `code` (ours are stable strings; gRPC's are numbers),
 * else its name) and rethrows it.
 */
export async function withSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span) => Promise<T> | T,
  options: SpanOptions = {},
): Promise<T> {
  const parent = options.parent ?? context.active();
  const span = (options.tracer ?? tracer()).startSpan(
    name,
    { kind: options.kind ?? SpanKind.INTERNAL, attributes, links: options.links },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (err) {
    recordError(span, err);
    throw err;
  } finally {
    span.end();
  }
}

/** Marks a span failed by `err` (exception event, status ERROR, error.type). */
export function recordError(span: Span, err: unknown): void {
  const error = err instanceof Error ? err : new Error(typeof err === 'string' ? err : 'non-Error thrown');
  span.recordException(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error.message.slice(0, 256) });
  span.setAttribute(ATTR.errorType, errorType(err));
}

function errorType(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.length > 0) return code.slice(0, 64);
  if (typeof code === 'number' && Number.isInteger(code)) return String(code); // e.g. a gRPC status
  if (err instanceof Error) return err.name;
  return 'unknown';
}

/** The active span's ids, when there is a valid one (for log lines and error reports). */
export function activeTraceIds(ctx: Context = context.active()): { traceId: string; spanId: string } | undefined {
  const spanContext = trace.getSpanContext(ctx);
  if (!spanContext || !trace.isSpanContextValid(spanContext)) return undefined;
  return { traceId: spanContext.traceId, spanId: spanContext.spanId };
}

/** Adds attributes to the active span, when there is one (e.g. the job id once a handler knows it). */
export function annotateActiveSpan(attributes: Attributes): void {
  trace.getActiveSpan()?.setAttributes(attributes);
}

/**
 * A span that is not made active, for batch work where one shared call serves many items (one span per
 * item): returns the span and a context holding it (to inject into a carrier); finish with `endSpan`.
 */
export function startDetachedSpan(
  name: string,
  attributes: Attributes,
  options: SpanOptions = {},
): { span: Span; context: Context } {
  const parent = options.parent ?? context.active();
  const span = (options.tracer ?? tracer()).startSpan(
    name,
    { kind: options.kind ?? SpanKind.INTERNAL, attributes, links: options.links },
    parent,
  );
  return { span, context: trace.setSpan(parent, span) };
}

/** Ends a span from `startDetachedSpan`, recording `err` first when the work failed. */
export function endSpan(span: Span, err?: unknown): void {
  if (err !== undefined) recordError(span, err);
  span.end();
}
