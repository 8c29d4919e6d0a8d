import {
  createAgentMetrics,
  InMemorySpanExporter,
  startTelemetry,
  type AgentMetrics,
  type ReadableSpan,
  type Telemetry,
} from '@jr/telemetry';

/** SpanStatusCode.ERROR (the numeric enum of @opentelemetry/api). */
export const STATUS_ERROR = 2;

/** The agent's metric handles in a registry of their own, without runtime metrics. */
export function testMetrics(): AgentMetrics {
  return createAgentMetrics(undefined, { version: 'test', defaultMetrics: false });
}

/**
 * The value of a counter or gauge series whose labels include `labels`, or a histogram's count (`_count`
 * series); undefined when no such series exists.
 */
export async function metricValue(
  m: AgentMetrics,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const metric = m.registry.getSingleMetric(name.replace(/_count$/, ''));
  if (!metric) throw new Error(`no metric ${name} in the catalog`);
  const { values } = await metric.get();
  const wanted = name.endsWith('_count') ? name : undefined;
  const hit = values.find((v) => {
    const metricName = (v as { metricName?: string }).metricName;
    return (
      (wanted ? metricName === wanted : metricName === undefined || metricName === name) &&
      Object.entries(labels).every(([k, val]) => v.labels[k] === val)
    );
  });
  return hit?.value;
}

/** Tracing for one spec: every span recorded into `exporter`. Call `stop()` after each test. */
export function testTracing(): {
  exporter: InMemorySpanExporter;
  telemetry: Telemetry;
  spans(name?: string): ReadableSpan[];
  stop(): Promise<void>;
} {
  const exporter = new InMemorySpanExporter();
  const telemetry = startTelemetry({ serviceName: 'jr-agent', serviceVersion: 'test', testSpanExporter: exporter });
  return {
    exporter,
    telemetry,
    spans: (name) => exporter.getFinishedSpans().filter((s) => name === undefined || s.name === name),
    stop: () => telemetry.shutdown(),
  };
}

/** A W3C traceparent naming a sampled span of the given trace (what the API's lease span would send). */
export function traceparent(traceId: string, spanId: string): string {
  return `00-${traceId}-${spanId}-01`;
}
