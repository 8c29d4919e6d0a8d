import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { traceLogMixin } from './log-mixin';
import { injectToCarrier } from './propagation';
import { startTelemetry, telemetryModeFromEnv } from './telemetry';
import { withSpan } from './tracing';

const OTEL_KEYS = [
  'OTEL_SDK_DISABLED',
  'OTEL_TRACES_EXPORTER',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
];

describe('telemetryModeFromEnv', () => {
  it.each([
    [{}, 'off'],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, 'otlp'],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }, 'otlp'],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: '   ' }, 'off'],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }, 'disabled'],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: ' TRUE ' }, 'disabled'],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'false' }, 'otlp'],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' }, 'disabled'],
    [{ OTEL_TRACES_EXPORTER: 'otlp' }, 'off'],
  ])('%j -> %s', (env, mode) => {
    expect(telemetryModeFromEnv(env as NodeJS.ProcessEnv)).toBe(mode);
  });
});

describe('startTelemetry', () => {
  const saved: Record<string, string | undefined> = {};
  beforeEach(() => {
    for (const key of OTEL_KEYS) {
      saved[key] = process.env[key];
      delete process.env[key];
    }
  });
  afterEach(() => {
    for (const key of OTEL_KEYS) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  });

  it('without an endpoint records nothing, yet gives spans ids so logs and carriers correlate', async () => {
    const telemetry = startTelemetry({ serviceName: 'jr-api', serviceVersion: '1' });
    try {
      expect(telemetry.mode).toBe('off');
      await withSpan('cheap', {}, (span) => {
        expect(span.isRecording()).toBe(false);
        const ids = traceLogMixin();
        expect(ids.trace_id).toMatch(/^[0-9a-f]{32}$/);
        expect(ids.trace_id).not.toBe('0'.repeat(32));
        expect(injectToCarrier().traceparent).toBe(`00-${ids.trace_id}-${ids.span_id}-00`);
      });
    } finally {
      await telemetry.shutdown();
    }
  });

  it('disabled registers nothing: no ids, no carrier', async () => {
    process.env.OTEL_SDK_DISABLED = 'true';
    const telemetry = startTelemetry({ serviceName: 'jr-api', serviceVersion: '1' });
    try {
      expect(telemetry.mode).toBe('disabled');
      await withSpan('noop', {}, () => {
        expect(traceLogMixin()).toEqual({});
        expect(injectToCarrier()).toEqual({});
      });
    } finally {
      await telemetry.shutdown();
    }
  });

  it('refuses a second start until the first is shut down, then starts again', async () => {
    const first = startTelemetry({ serviceName: 'a', serviceVersion: '1' });
    expect(() => startTelemetry({ serviceName: 'b', serviceVersion: '1' })).toThrow(/already started/);
    await first.shutdown();
    await first.shutdown(); // idempotent
    const exporter = new InMemorySpanExporter();
    const second = startTelemetry({ serviceName: 'b', serviceVersion: '1', testSpanExporter: exporter });
    try {
      expect(second.mode).toBe('test');
      trace.getTracer('x').startSpan('recorded').end();
      expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['recorded']);
    } finally {
      await second.shutdown();
    }
  });
});
