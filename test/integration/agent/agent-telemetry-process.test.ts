import * as http from 'node:http';
import * as net from 'node:net';
import { freePort, jobUserEnv, testTlsIfMade, waitFor, type ManagedProcess, type TestTls } from '@jr/testing';
import { logLines, runAgentMain as runAgentCommand, shell, spec, useAgentFixture } from './agent-harness';
import { promtoolCheck, sample, scrape } from './metrics-text';

jest.setTimeout(60_000);

const LEASE_TRACE = '6e0c63257de34c926f9efcd03899ad9f';
const LEASE_SPAN = 'a3ce929d0e0e4736';

interface OtlpSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
}

/** An OTLP/HTTP JSON collector on loopback: the spans of every export it received. */
async function startCollector(): Promise<{
  url: string;
  spans(): OtlpSpan[];
  services(): string[];
  close(): Promise<void>;
}> {
  const bodies: string[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      if (req.url === '/v1/traces') bodies.push(body);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  type Export = {
    resourceSpans: Array<{
      resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> };
      scopeSpans: Array<{ spans: OtlpSpan[] }>;
    }>;
  };
  const exports = (): Export[] => bodies.map((b) => JSON.parse(b) as Export);
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    spans: () => exports().flatMap((e) => e.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans))),
    services: () =>
      exports().flatMap((e) =>
        e.resourceSpans.flatMap((r) =>
          r.resource.attributes.filter((a) => a.key === 'service.name').map((a) => a.value.stringValue ?? ''),
        ),
      ),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The daemon as operators run it: telemetry started by main, its own /metrics, `jr-agent status`. */
describe('jr-agent process: JR_METRICS_PORT, trace ids in its logs, jr-agent status', () => {
  const f = useAgentFixture({ build: true });
  const start = (extraEnv: Record<string, string>): ManagedProcess =>
    f.spawn({ name: 'telemetry-agent', slots: 2, extraEnv });

  it('serves /metrics on JR_METRICS_PORT, logs with the trace id the Lease answer carried, answers jr-agent status, and closes the port on SIGTERM', async () => {
    const port = await freePort();
    f.api.leaseMetadata = () => ({ traceparent: `00-${LEASE_TRACE}-${LEASE_SPAN}-01` });
    const p = start({ JR_METRICS_PORT: String(port) });
    await waitFor(() => logLines(p).find((l) => l.msg === 'jr-agent ready'), {
      timeoutMs: 20_000,
      what: 'the ready line',
    });
    const url = `http://127.0.0.1:${port}/metrics`;
    expect(logLines(p).find((l) => l.msg === 'serving metrics')).toMatchObject({ url });

    const jobId = f.api.enqueue(spec([shell('echo traced')]));
    await waitFor(() => f.api.completion(jobId), { timeoutMs: 20_000, what: 'the completion' });
    const text = await scrape(url);
    expect(promtoolCheck(text)).toEqual({ code: 0, out: '' });
    expect(sample(text, 'jr_build_info', { service: 'jr-agent', version: '0.1.0' })).toBe(1);
    expect(sample(text, 'jr_agent_attempts_finished_total', { outcome: 'succeeded' })).toBe(1);
    expect(sample(text, 'process_cpu_seconds_total')).toBeGreaterThan(0);

    // No OTEL_* endpoint: nothing is exported, yet ids flow (the job's trace id in its log lines and on the wire).
    await waitFor(() => logLines(p).find((l) => l.msg === 'attempt finished'), { what: 'the attempt log line' });
    expect(logLines(p).find((l) => l.msg === 'attempt finished')).toMatchObject({ trace_id: LEASE_TRACE, jobId });
    expect(f.api.traceparents.find((t) => t.method === 'Complete')?.traceparent).toMatch(
      new RegExp(`^00-${LEASE_TRACE}-[0-9a-f]{16}-0[01]$`),
    );

    const status = await runAgentCommand(['status', '--json'], { JR_DATA_DIR: f.dataDir });
    expect(status).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(status.stdout)).toMatchObject({
      name: 'telemetry-agent',
      health: 'healthy',
      connected: true,
      metricsUrl: url,
      attempts: { slots: 2 },
    });

    await expect(p.stop(10_000)).resolves.toEqual({ code: 0, signal: null });
    await expect(fetch(url)).rejects.toThrow();
    await expect(runAgentCommand(['status'], { JR_DATA_DIR: f.dataDir })).resolves.toMatchObject({
      code: 69,
      stdout: '',
    });
  });

  it('exports its spans over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set, flushed when it stops: the attempt under the lease span', async () => {
    const collector = await startCollector();
    try {
      f.api.leaseMetadata = () => ({ traceparent: `00-${LEASE_TRACE}-${LEASE_SPAN}-01` });
      const p = start({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' });
      const jobId = f.api.enqueue(spec([shell('echo exported'), shell('true')]));
      await waitFor(() => f.api.completion(jobId), { timeoutMs: 20_000, what: 'the completion' });
      await expect(p.stop(10_000)).resolves.toEqual({ code: 0, signal: null });
      const spans = collector.spans();
      const attempt = spans.find((s) => s.name === 'jr.attempt.run');
      expect(attempt).toMatchObject({ traceId: LEASE_TRACE, parentSpanId: LEASE_SPAN });
      const children = spans.filter((s) =>
        ['jr.step.run', 'jr.attempt.report', 'jr.attempt.complete'].includes(s.name),
      );
      expect(new Set(children.map((s) => s.name))).toEqual(
        new Set(['jr.step.run', 'jr.attempt.report', 'jr.attempt.complete']),
      );
      for (const child of children)
        expect(child).toMatchObject({ traceId: LEASE_TRACE, parentSpanId: attempt?.spanId });
      expect(new Set(collector.services())).toEqual(new Set(['jr-agent']));
    } finally {
      await collector.close();
    }
  });

  it('exits 78 with one line when JR_METRICS_PORT is taken, and 2 when it is malformed', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const env = {
        JR_API_GRPC: f.api.address,
        JR_DATA_DIR: f.dataDir,
        JR_ENROLL_TOKEN: 'enroll-secret',
        JR_METRICS_PORT: String(port),
        ...jobUserEnv(),
        JR_CA_FILE: (testTlsIfMade() as TestTls).caFile,
      };
      const r = await runAgentCommand([], env);
      expect(r.code).toBe(78);
      expect(r.stderr.trim().split('\n')).toEqual([
        expect.stringContaining(`cannot serve metrics on 127.0.0.1:${port}`),
      ]);
      expect(f.api.calls.Enroll).toBe(0);
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
    const bad = await runAgentCommand([], {
      JR_DATA_DIR: f.dataDir,
      JR_METRICS_PORT: '99999',
      JR_METRICS_HOST: 'http://x',
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(
      /^jr-agent: bad configuration: .*JR_METRICS_PORT.*JR_METRICS_HOST|^jr-agent: bad configuration: .*JR_METRICS_HOST.*JR_METRICS_PORT/,
    );
  });
});
