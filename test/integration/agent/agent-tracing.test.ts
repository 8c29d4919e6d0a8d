import { status as Status } from '@grpc/grpc-js';
import {
  InMemorySpanExporter,
  SPANS,
  SpanKind,
  startTelemetry,
  traceLogMixin,
  type ReadableSpan,
  type Telemetry,
} from '@jr/telemetry';
import { waitFor } from '@jr/testing';
import pino from 'pino';
import { captureLogger, shell, spec, useAgentFixture } from './agent-harness';

jest.setTimeout(60_000);

/** The lease span the API would have started (its ids travel in the Lease answer's metadata). */
const LEASE_TRACE = '5c1f0e6b2a3d4e8f9a0b1c2d3e4f5a6b';
const LEASE_SPAN = '1a2b3c4d5e6f7a8b';
const traceparent = (trace: string, span: string): string => `00-${trace}-${span}-01`;

/** The agent's logger as the daemon builds it (trace_id/span_id mixin), writing into `lines`. */
const tracedLogger = () => captureLogger({ level: 'info', mixin: traceLogMixin });

describe('jr-agent traces: lease context from gRPC metadata, a span per step, outbox carriers (loopback AgentService)', () => {
  let exporter: InMemorySpanExporter;
  let telemetry: Telemetry;

  beforeEach(() => {
    exporter = new InMemorySpanExporter();
    telemetry = startTelemetry({ serviceName: 'jr-agent', serviceVersion: 'it', testSpanExporter: exporter });
  });
  // after telemetry starts, before it stops: agents, the API and the data directory live inside it
  const f = useAgentFixture();
  afterEach(async () => {
    await telemetry.shutdown();
  });

  const spans = (name: string): ReadableSpan[] => exporter.getFinishedSpans().filter((s) => s.name === name);
  const only = (name: string): ReadableSpan => {
    const found = spans(name);
    expect(found).toHaveLength(1);
    return found[0] as ReadableSpan;
  };
  const idOf = (s: ReadableSpan): string => s.spanContext().spanId;

  it("parents the attempt on the lease span sent in the Lease answer's metadata; steps, Report and Complete are its children", async () => {
    f.api.leaseMetadata = () => ({ traceparent: traceparent(LEASE_TRACE, LEASE_SPAN) });
    const { logger, lines } = tracedLogger();
    const { agent } = await f.start({}, logger);
    const jobId = f.api.enqueue(spec([shell('echo one'), shell('echo two')]));
    await waitFor(() => f.api.completion(jobId), { timeoutMs: 15_000, what: 'the completion' });
    await waitFor(() => spans(SPANS.complete).length === 1, { what: 'the Complete span to end' });

    const attempt = only(SPANS.attempt);
    expect(attempt.spanContext().traceId).toBe(LEASE_TRACE);
    expect(attempt.parentSpanContext?.spanId).toBe(LEASE_SPAN);
    expect(attempt.kind).toBe(SpanKind.CONSUMER);
    expect(attempt.attributes).toMatchObject({
      'jr.job.id': jobId,
      'jr.attempt': 1,
      'jr.agent.id': agent.agentId,
      'jr.outcome': 'succeeded',
    });

    const steps = spans(SPANS.step);
    expect(steps.map((s) => s.attributes['jr.step.index'])).toEqual([0, 1]);
    const reports = spans(SPANS.report);
    const complete = only(SPANS.complete);
    expect(reports.length).toBeGreaterThan(0);
    for (const child of [...steps, ...reports, complete]) {
      expect({ name: child.name, trace: child.spanContext().traceId, parent: child.parentSpanContext?.spanId }).toEqual(
        {
          name: child.name,
          trace: LEASE_TRACE,
          parent: idOf(attempt),
        },
      );
    }
    expect(complete.kind).toBe(SpanKind.CLIENT);

    // On the wire: Report/Complete carry their client span's context; heartbeats and leases carry none.
    const sent = f.api.traceparents.filter((t) => t.method === 'Report' || t.method === 'Complete');
    expect(sent.map((t) => t.traceparent)).toEqual(
      [...reports, complete].map((s) => traceparent(LEASE_TRACE, idOf(s))),
    );
    expect(
      f.api.traceparents
        .filter((t) => t.method === 'Heartbeat' || t.method === 'Lease')
        .every((t) => t.traceparent === ''),
    ).toBe(true);

    // The attempt's log lines share the job's trace id.
    expect(lines.find((l) => l.msg === 'attempt finished')).toMatchObject({
      trace_id: LEASE_TRACE,
      span_id: idOf(attempt),
    });
  });

  it('starts a trace of its own when the Lease answer carries no (valid) context', async () => {
    f.api.leaseMetadata = () => ({ traceparent: 'garbage' });
    await f.start({}, pino({ level: 'silent' }));
    const jobId = f.api.enqueue(spec([shell('true')]));
    await waitFor(() => f.api.completion(jobId), { timeoutMs: 15_000, what: 'the completion' });
    await waitFor(() => spans(SPANS.complete).length === 1, { what: 'the Complete span to end' });
    const attempt = only(SPANS.attempt);
    expect(attempt.parentSpanContext).toBeUndefined();
    expect(only(SPANS.complete).parentSpanContext?.spanId).toBe(idOf(attempt));
  });

  it('continues the trace after a restart: the Complete sent by the next process is still a child of the attempt span', async () => {
    f.api.leaseMetadata = () => ({ traceparent: traceparent(LEASE_TRACE, LEASE_SPAN) });
    // Busy answers: retried, never counted against the breaker; the outcome stays in the outbox.
    f.api.failNext('Complete', Status.RESOURCE_EXHAUSTED, 1_000);
    const { agent: first } = await f.start({}, pino({ level: 'silent' }));
    const jobId = f.api.enqueue(spec([shell('echo before the restart')]));
    await waitFor(() => first.metrics().attempts.undelivered === 1 && (f.api.calls.Complete ?? 0) > 0, {
      timeoutMs: 15_000,
      what: 'the outcome to wait in the outbox',
    });
    await first.stopNow();
    const attempt = only(SPANS.attempt);
    expect(attempt.spanContext().traceId).toBe(LEASE_TRACE);
    exporter.reset();

    f.api.failures.clear();
    await f.start({}, pino({ level: 'silent' }));
    await waitFor(() => f.api.completion(jobId), { timeoutMs: 15_000, what: 'the completion after the restart' });
    // one Complete span per try: under load a try can pass its deadline and be sent again (seen in CI)
    await waitFor(() => spans(SPANS.complete).length >= 1, { timeoutMs: 15_000, what: 'the Complete span to end' });
    const completes = spans(SPANS.complete);
    expect(spans(SPANS.attempt)).toEqual([]);
    expect(completes.map((c) => ({ trace: c.spanContext().traceId, parent: c.parentSpanContext?.spanId }))).toEqual(
      completes.map(() => ({ trace: LEASE_TRACE, parent: idOf(attempt) })),
    );
    expect(completes.map((c) => traceparent(LEASE_TRACE, idOf(c)))).toContain(
      f.api.traceparents.filter((t) => t.method === 'Complete').pop()?.traceparent,
    );
  });
});
