import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, SimpleSpanProcessor, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { IdOnlyTracerProvider } from './id-only-tracer';
import { TRACER_NAME } from './tracing';

/**
 * - `otlp`: OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set: the OpenTelemetry
 *   Node SDK exports traces as OTEL_* says (protocol, sampler, batch sizes, resource attributes).
 * - `off`: no endpoint: nothing is recorded or exported; spans still get ids (the id-only tracer, no SDK), so
 *   logs carry trace_id/span_id and W3C context still flows between API and agent. Cost: an id per span.
 * - `disabled`: OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none: nothing registered at all.
 * - `test`: an exporter given by a test (e.g. InMemorySpanExporter), every span recorded synchronously.
 */
export type TelemetryMode = 'otlp' | 'off' | 'disabled' | 'test';

export interface TelemetryOptions {
  serviceName: string;
  serviceVersion: string;
  /** Test hook: record every span into this exporter (synchronously), whatever OTEL_* says. */
  testSpanExporter?: SpanExporter;
}

export interface Telemetry {
  readonly mode: TelemetryMode;
  /** Flushes pending spans (bounded by the exporter's timeout) and unregisters the globals. */
  shutdown(): Promise<void>;
}

/** Which mode OTEL_* variables select (a pure function of the environment). */
export function telemetryModeFromEnv(env: NodeJS.ProcessEnv): Exclude<TelemetryMode, 'test'> {
  if (/^\s*true\s*$/i.test(env.OTEL_SDK_DISABLED ?? '')) return 'disabled';
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '').split(',').map((s) => s.trim().toLowerCase());
  if (exporters[0] === 'none') return 'disabled';
  const endpoint =
    (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? '').trim() || (env.OTEL_EXPORTER_OTLP_ENDPOINT ?? '').trim();
  return endpoint ? 'otlp' : 'off';
}

let running: Telemetry | undefined;

/**
 * Starts tracing for this process; call it first in main(), before anything creates spans. Reads the
 * standard OTEL_* variables (the SDK reads process.env itself). No auto-instrumentation: spans come from
 * `withSpan` and the propagation helpers at our own call sites. Metrics go through prom-client (see
 * metrics.ts) and logs through pino, so the SDK's metric and log exporters are always off.
 */
export function startTelemetry(options: TelemetryOptions): Telemetry {
  if (running) throw new Error(`telemetry already started (mode ${running.mode}); call shutdown() first`);
  const mode: TelemetryMode = options.testSpanExporter ? 'test' : telemetryModeFromEnv(process.env);
  const stop = start(mode, options);
  const telemetry: Telemetry = {
    mode,
    shutdown: async () => {
      if (running !== telemetry) return;
      running = undefined;
      try {
        await stop();
      } finally {
        trace.disable();
        propagation.disable();
        context.disable();
      }
    },
  };
  running = telemetry;
  return telemetry;
}

function start(mode: TelemetryMode, options: TelemetryOptions): () => Promise<void> {
  switch (mode) {
    case 'disabled':
      return async () => undefined;
    case 'otlp':
      return startNodeSdk(options);
    case 'off':
      return registerIdsOnly();
    case 'test': {
      const exporter = options.testSpanExporter as SpanExporter;
      return registerLocal(options, {
        sampler: new AlwaysOnSampler(),
        spanProcessors: [new SimpleSpanProcessor({ exporter })],
      });
    }
  }
}

/** The full SDK, loaded only when exporting (it costs ~0.5 s of start-up to require). */
function startNodeSdk(options: TelemetryOptions): () => Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { NodeSDK } = require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
  const sdk = new NodeSDK({
    // OTEL_SERVICE_NAME, when set, wins over our default name (the env detector runs after).
    resource: serviceResource(options),
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [],
  });
  sdk.start();
  return () => sdk.shutdown();
}

/** `off`: context and W3C propagation with the id-only tracer (nothing recorded, no SDK on the hot path). */
function registerIdsOnly(): () => Promise<void> {
  registerContext();
  trace.setGlobalTracerProvider(new IdOnlyTracerProvider());
  return async () => undefined;
}

function registerContext(): void {
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
}

function registerLocal(
  options: TelemetryOptions,
  config: ConstructorParameters<typeof TracerProvider>[0],
): () => Promise<void> {
  const provider = new TracerProvider({ ...config, resource: serviceResource(options) });
  registerContext();
  trace.setGlobalTracerProvider(provider);
  return () => provider.shutdown();
}

function serviceResource(options: TelemetryOptions): ReturnType<typeof defaultResource> {
  return defaultResource().merge(
    resourceFromAttributes({
      [ATTR_SERVICE_NAME]: options.serviceName,
      [ATTR_SERVICE_VERSION]: options.serviceVersion,
    }),
  );
}

/**
 * Test hook: a tracer of its own provider (not registered globally), recording synchronously into
 * `exporter`, with `serviceName` on its resource. Lets one test process play several services (API and
 * agent) with separate exporters; pass it to `withSpan(..., { tracer })`. Needs a started telemetry (any
 * mode but disabled) for the active context to propagate.
 */
export function createTestTracer(options: { serviceName: string; serviceVersion?: string; exporter: SpanExporter }): {
  tracer: ReturnType<TracerProvider['getTracer']>;
  shutdown(): Promise<void>;
} {
  const provider = new TracerProvider({
    sampler: new AlwaysOnSampler(),
    spanProcessors: [new SimpleSpanProcessor({ exporter: options.exporter })],
    resource: serviceResource({ serviceName: options.serviceName, serviceVersion: options.serviceVersion ?? '0.0.0' }),
  });
  return { tracer: provider.getTracer(TRACER_NAME), shutdown: () => provider.shutdown() };
}
