import type { IncomingHttpHeaders } from 'node:http2';
import { Metadata } from '@grpc/grpc-js';
import {
  ATTR,
  contextFromMetadata,
  createTestTracer,
  extractFromCarrier,
  InMemorySpanExporter,
  injectToCarrier,
  metadataFromContext,
  SpanKind,
  SPANS,
  startTelemetry,
  withSpan,
  type ReadableSpan,
  type Telemetry,
} from '@jr/telemetry';

// One job is one trace, across two services. Here the API and the agent each have their own tracer
// provider and exporter (as two processes would); the trace context crosses between them only through
// the carriers the real system uses: a JSON journal record, JSON queue job data, an assignment field,
// and grpc-js Metadata serialised to HTTP/2 headers and back.

interface Recorded {
  api: ReadableSpan[];
  agent: ReadableSpan[];
}

/** What the API writes and the agent reads, as the bytes that cross a boundary. */
type Wire = string;

describe('trace context across API and agent', () => {
  let telemetry: Telemetry;
  let apiExporter: InMemorySpanExporter;
  let agentExporter: InMemorySpanExporter;
  let agent: ReturnType<typeof createTestTracer>;

  beforeEach(() => {
    apiExporter = new InMemorySpanExporter();
    agentExporter = new InMemorySpanExporter();
    telemetry = startTelemetry({ serviceName: 'jr-api', serviceVersion: 'test', testSpanExporter: apiExporter });
    agent = createTestTracer({ serviceName: 'jr-agent', exporter: agentExporter });
  });
  afterEach(async () => {
    await agent.shutdown();
    await telemetry.shutdown();
  });

  /** The API side up to the lease: returns the assignment as the agent receives it. */
  async function apiSubmitToLease(jobId: string, corruptJournal = false): Promise<Wire> {
    let journalRecord: Wire = '';
    await withSpan(
      SPANS.submit,
      { [ATTR.jobId]: jobId, [ATTR.pool]: 'default' },
      async () => {
        await withSpan(SPANS.journalAppend, {}, () => {
          journalRecord = JSON.stringify({
            jobId,
            trace: corruptJournal ? { traceparent: '00-garbage' } : injectToCarrier(),
          });
        });
      },
      { kind: SpanKind.SERVER },
    );
    // The relay reads the record later (possibly after a restart): no active context, only the bytes.
    await new Promise((r) => setImmediate(r));
    const record = JSON.parse(journalRecord) as { jobId: string; trace: unknown };
    let jobData: Wire = '';
    await withSpan(
      SPANS.relay,
      { [ATTR.jobId]: record.jobId },
      () =>
        withSpan(
          SPANS.enqueue,
          {},
          () => {
            jobData = JSON.stringify({ jobId: record.jobId, trace: injectToCarrier() });
          },
          { kind: SpanKind.PRODUCER },
        ),
      { parent: extractFromCarrier(record.trace) },
    );
    const data = JSON.parse(jobData) as { jobId: string; trace: unknown };
    let assignment: Wire = '';
    await withSpan(
      SPANS.lease,
      { [ATTR.jobId]: data.jobId, [ATTR.attempt]: 1 },
      () => {
        assignment = JSON.stringify({ jobId: data.jobId, attempt: 1, traceContext: injectToCarrier() });
      },
      { parent: extractFromCarrier(data.trace), kind: SpanKind.SERVER },
    );
    return assignment;
  }

  /** The API's gRPC handler for Report/Complete: continues the trace from the call's metadata. */
  async function apiHandle(name: string, wireHeaders: IncomingHttpHeaders): Promise<void> {
    const received = Metadata.fromHttp2Headers(wireHeaders);
    await withSpan(name, {}, () => undefined, { parent: contextFromMetadata(received), kind: SpanKind.SERVER });
  }

  /** The agent's run of one attempt: steps, a report and the completion, each call carrying metadata. */
  async function agentRun(assignmentWire: Wire): Promise<void> {
    const assignment = JSON.parse(assignmentWire) as { jobId: string; attempt: number; traceContext: unknown };
    const tracer = agent.tracer;
    await withSpan(
      SPANS.attempt,
      { [ATTR.jobId]: assignment.jobId, [ATTR.attempt]: assignment.attempt },
      async () => {
        for (const step of [0, 1]) await withSpan(SPANS.step, { [ATTR.stepIndex]: step }, () => undefined, { tracer });
        for (const call of [SPANS.report, SPANS.complete]) {
          await withSpan(
            call,
            {},
            async () => {
              const md = new Metadata();
              md.set('authorization', 'Bearer ag_1.secret');
              await apiHandle(call, metadataFromContext(md).toHttp2Headers() as IncomingHttpHeaders);
            },
            { tracer, kind: SpanKind.CLIENT },
          );
        }
      },
      { tracer, parent: extractFromCarrier(assignment.traceContext), kind: SpanKind.CONSUMER },
    );
  }

  function recorded(): Recorded {
    return { api: apiExporter.getFinishedSpans(), agent: agentExporter.getFinishedSpans() };
  }

  function one(spans: ReadableSpan[], name: string, kind?: SpanKind): ReadableSpan {
    const found = spans.filter((s) => s.name === name && (kind === undefined || s.kind === kind));
    expect({ name, count: found.length }).toEqual({ name, count: 1 });
    return found[0] as ReadableSpan;
  }

  function expectChild(child: ReadableSpan, parent: ReadableSpan): void {
    expect({ child: child.name, parentSpanId: child.parentSpanContext?.spanId }).toEqual({
      child: child.name,
      parentSpanId: parent.spanContext().spanId,
    });
    expect(child.spanContext().traceId).toBe(parent.spanContext().traceId);
  }

  it('chains submit -> journal append -> relay -> queue -> lease -> agent attempt -> steps, report, complete in one trace', async () => {
    await agentRun(await apiSubmitToLease('job_chain'));
    const { api, agent: agentSpans } = recorded();

    const submit = one(api, SPANS.submit);
    const journal = one(api, SPANS.journalAppend);
    const relay = one(api, SPANS.relay);
    const enqueue = one(api, SPANS.enqueue);
    const lease = one(api, SPANS.lease);
    const attempt = one(agentSpans, SPANS.attempt);
    const steps = agentSpans.filter((s) => s.name === SPANS.step);
    const reportClient = one(agentSpans, SPANS.report, SpanKind.CLIENT);
    const reportServer = one(api, SPANS.report, SpanKind.SERVER);
    const completeClient = one(agentSpans, SPANS.complete, SpanKind.CLIENT);
    const completeServer = one(api, SPANS.complete, SpanKind.SERVER);

    expect(submit.parentSpanContext).toBeUndefined();
    expectChild(journal, submit);
    expectChild(relay, journal); // the record carries the context of the append that wrote it
    expectChild(enqueue, relay);
    expectChild(lease, enqueue);
    expectChild(attempt, lease);
    expect(steps).toHaveLength(2);
    for (const step of steps) expectChild(step, attempt);
    expectChild(reportClient, attempt);
    expectChild(reportServer, reportClient);
    expectChild(completeClient, attempt);
    expectChild(completeServer, completeClient);

    // Each side exported only its own spans, under its own service name.
    expect(new Set(api.map((s) => s.resource.attributes['service.name']))).toEqual(new Set(['jr-api']));
    expect(new Set(agentSpans.map((s) => s.resource.attributes['service.name']))).toEqual(new Set(['jr-agent']));
    expect(new Set([...api, ...agentSpans].map((s) => s.spanContext().traceId)).size).toBe(1);
    expect(attempt.attributes[ATTR.jobId]).toBe('job_chain');
  });

  it('keeps two jobs in two traces', async () => {
    await agentRun(await apiSubmitToLease('job_a'));
    await agentRun(await apiSubmitToLease('job_b'));
    const { api, agent: agentSpans } = recorded();
    const traces = new Set([...api, ...agentSpans].map((s) => s.spanContext().traceId));
    expect(traces.size).toBe(2);
    for (const attempt of agentSpans.filter((s) => s.name === SPANS.attempt)) {
      const lease = api.find((s) => s.spanContext().spanId === attempt.parentSpanContext?.spanId);
      expect(lease?.name).toBe(SPANS.lease);
    }
  });

  it('starts a fresh trace at the relay when the journal record carries a damaged context, instead of failing', async () => {
    await agentRun(await apiSubmitToLease('job_damaged', true));
    const { api, agent: agentSpans } = recorded();
    const submit = one(api, SPANS.submit);
    const relay = one(api, SPANS.relay);
    expect(relay.parentSpanContext).toBeUndefined();
    expect(relay.spanContext().traceId).not.toBe(submit.spanContext().traceId);
    // The rest of the job still hangs together from the relay on.
    expectChild(one(agentSpans, SPANS.attempt), one(api, SPANS.lease));
  });
});
