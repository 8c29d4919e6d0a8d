import { spawn } from 'node:child_process';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

// A real process started the way jr-api/jr-agent start telemetry, exporting over OTLP/HTTP to a
// collector on loopback (the test's HTTP server), configured only by the standard OTEL_* variables.
const LIB = path.resolve(__dirname, '../../../libs/telemetry/dist');

interface Received {
  path: string;
  contentType: string;
  body: Buffer;
}

async function startCollector(): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        path: req.url ?? '',
        contentType: String(req.headers['content-type']),
        body: Buffer.concat(chunks),
      });
      res.writeHead(200, { 'content-type': String(req.headers['content-type'] ?? 'application/json') });
      res.end(String(req.headers['content-type']).includes('json') ? '{}' : '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, received, close: () => new Promise((r) => server.close(() => r())) };
}

// The child: start telemetry first, run an attempt with one step, log inside the step, shut down.
const CHILD = `
const t = require(${JSON.stringify(LIB)});
const pino = require(require.resolve('pino', { paths: [${JSON.stringify(LIB)}] }));
const telemetry = t.startTelemetry({ serviceName: 'jr-agent', serviceVersion: '1.2.3' });
const log = pino({ mixin: t.traceLogMixin });
(async () => {
  await t.withSpan('jr.attempt.run', { 'jr.job.id': 'job_otlp' }, () =>
    t.withSpan('jr.step.run', { 'jr.step.index': 0 }, () => log.info('step running')));
  await telemetry.shutdown();
  log.info({ mode: telemetry.mode }, 'done');
})();
`;

function runChild(
  env: Record<string, string>,
): Promise<{ code: number | null; lines: Array<Record<string, unknown>>; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', CHILD], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      const lines = out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({ code, lines, stderr: err });
    });
  });
}

interface OtlpJson {
  resourceSpans: Array<{
    resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> };
    scopeSpans: Array<{ spans: Array<{ name: string; traceId: string; spanId: string; parentSpanId?: string }> }>;
  }>;
}

describe('OTLP trace export (real process, OTEL_* configuration)', () => {
  let collector: Awaited<ReturnType<typeof startCollector>>;
  beforeEach(async () => {
    collector = await startCollector();
  });
  afterEach(() => collector.close());

  it('exports the spans over OTLP/HTTP JSON, with the same trace id the log lines carry, and no metrics or logs', async () => {
    const run = await runChild({
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `${collector.url}/v1/metrics`,
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: `${collector.url}/v1/logs`,
    });
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(run.lines.at(-1)).toMatchObject({ mode: 'otlp', msg: 'done' });
    expect(collector.received.map((r) => r.path)).toEqual(['/v1/traces']);
    expect(collector.received[0]?.contentType).toMatch(/application\/json/);

    const payload = JSON.parse(collector.received[0]!.body.toString('utf8')) as OtlpJson;
    const resource = payload.resourceSpans[0]!;
    const attrs = Object.fromEntries(resource.resource.attributes.map((a) => [a.key, a.value.stringValue]));
    expect(attrs).toMatchObject({ 'service.name': 'jr-agent', 'service.version': '1.2.3' });
    const spans = resource.scopeSpans.flatMap((s) => s.spans);
    const attempt = spans.find((s) => s.name === 'jr.attempt.run')!;
    const step = spans.find((s) => s.name === 'jr.step.run')!;
    expect(step.parentSpanId).toBe(attempt.spanId);
    expect(step.traceId).toBe(attempt.traceId);
    const logged = run.lines.find((l) => l.msg === 'step running');
    expect(logged).toMatchObject({ trace_id: step.traceId, span_id: step.spanId });
  });

  it('speaks OTLP/HTTP protobuf by default, and OTEL_SERVICE_NAME wins over the built-in name', async () => {
    const run = await runChild({
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${collector.url}/custom/traces`,
      OTEL_SERVICE_NAME: 'agent-eu-1',
    });
    expect(run.code).toBe(0);
    expect(collector.received.map((r) => [r.path, r.contentType])).toEqual([
      ['/custom/traces', 'application/x-protobuf'],
    ]);
    const body = collector.received[0]!.body;
    expect(body.includes('jr.step.run')).toBe(true);
    expect(body.includes('agent-eu-1')).toBe(true);
  });

  it('exports nothing without an endpoint, yet the logs still carry trace ids', async () => {
    const run = await runChild({
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `${collector.url}/v1/metrics`,
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: `${collector.url}/v1/logs`,
    });
    expect(run.code).toBe(0);
    expect(run.lines.at(-1)).toMatchObject({ mode: 'off' });
    expect(run.lines.find((l) => l.msg === 'step running')?.trace_id).toMatch(/^[0-9a-f]{32}$/);
    await new Promise((r) => setTimeout(r, 200));
    expect(collector.received).toEqual([]);
  });

  it('stays silent and traceless with OTEL_SDK_DISABLED=true even when an endpoint is set', async () => {
    const run = await runChild({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_SDK_DISABLED: 'true' });
    expect(run.code).toBe(0);
    expect(run.lines.at(-1)).toMatchObject({ mode: 'disabled' });
    expect(run.lines.find((l) => l.msg === 'step running')).not.toHaveProperty('trace_id');
    expect(collector.received).toEqual([]);
  });
});
