import * as net from 'node:net';
import { createAgentMetrics } from './metrics';
import { startMetricsServer, type MetricsServer, type MetricsSource } from './metrics-server';

/** One raw HTTP exchange, so hostile requests reach the server exactly as written. */
function raw(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (data += d));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
    socket.write(request);
  });
}

describe('startMetricsServer', () => {
  let server: MetricsServer;
  const metrics = createAgentMetrics(undefined, { defaultMetrics: false, version: '9.9.9' });
  const url = (path: string) => `http://127.0.0.1:${server.port}${path}`;

  beforeAll(async () => {
    metrics.outboxDepth.set(3);
    server = await startMetricsServer({ port: 0, metrics });
  });
  afterAll(() => server.close());

  it('serves the registry on GET /metrics, on loopback by default', async () => {
    expect(server.host).toBe('127.0.0.1');
    const res = await fetch(url('/metrics?x=1'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const body = await res.text();
    expect(body).toContain('jr_agent_outbox_depth 3');
    expect(body).toContain('jr_build_info{service="jr-agent",version="9.9.9"} 1');
  });

  it('answers HEAD without a body', async () => {
    const res = await fetch(url('/metrics'), { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
  });

  it('refuses other paths and methods', async () => {
    expect((await fetch(url('/'))).status).toBe(404);
    expect((await fetch(url('/metrics/../etc/passwd'))).status).toBe(404);
    const post = await fetch(url('/metrics'), { method: 'POST', body: 'x'.repeat(100_000) });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('refuses an oversized URL and survives a malformed request line', async () => {
    expect((await fetch(url(`/metrics?${'a'.repeat(5_000)}`))).status).toBe(414);
    const answer = await raw(server.port, 'GARBAGE\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    expect((await fetch(url('/metrics'))).status).toBe(200);
  });

  it('answers 500 with a reason when rendering fails', async () => {
    const failing: MetricsSource = {
      contentType: 'text/plain',
      render: () => Promise.reject(new Error('registry broken')),
    };
    const other = await startMetricsServer({ port: 0, metrics: failing });
    try {
      const res = await fetch(`http://127.0.0.1:${other.port}/metrics`);
      expect(res.status).toBe(500);
      expect(await res.text()).toContain('registry broken');
    } finally {
      await other.close();
    }
  });

  it('fails to start, with the cause, when the port is taken', async () => {
    await expect(startMetricsServer({ port: server.port, metrics })).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});
