import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the server needs from a ProcessMetrics. */
export interface MetricsSource {
  readonly contentType: string;
  render(): Promise<string>;
}

export interface MetricsServerOptions {
  /** 0 picks a free port (tests). */
  port: number;
  /** Loopback unless told otherwise: the agent never listens on a public address by default. */
  host?: string;
  metrics: MetricsSource;
}

export interface MetricsServer {
  readonly port: number;
  readonly host: string;
  close(): Promise<void>;
}

const MAX_URL_LENGTH = 2_048;

/**
 * A minimal HTTP server for a process's own /metrics (the agent's JR_METRICS_PORT): GET or HEAD
 * /metrics only; anything else is 404/405; request bodies are not read. Resolves once listening.
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const host = options.host ?? '127.0.0.1';
  const server = http.createServer((req, res) => void answer(req, res, options.metrics));
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 50;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    host,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function answer(req: http.IncomingMessage, res: http.ServerResponse, metrics: MetricsSource): Promise<void> {
  req.resume();
  const url = req.url ?? '/';
  if (url.length > MAX_URL_LENGTH) return send(res, 414, 'URI too long\n');
  const path = url.split('?')[0];
  if (path !== '/metrics') return send(res, 404, 'not found: this port serves /metrics only\n');
  if (req.method !== 'GET' && req.method !== 'HEAD')
    return send(res, 405, 'method not allowed\n', { allow: 'GET, HEAD' });
  try {
    const body = await metrics.render();
    send(res, 200, req.method === 'HEAD' ? '' : body, { 'content-type': metrics.contentType });
  } catch (err) {
    send(res, 500, `metrics unavailable: ${err instanceof Error ? err.message : String(err)}\n`);
  }
}

function send(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(body);
}
