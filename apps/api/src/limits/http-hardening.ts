import type { Server } from 'node:http';
import type { HttpServerLimits } from '../config/limits.schema';

/**
 * Socket limits for the REST listener, set on the Node server object so they apply to the HTTP and
 * the HTTPS server alike (call before listen()):
 * - `headersTimeout`: a client that has not sent a complete request head in time is answered 408 and
 *   cut (slowloris); `requestTimeout` bounds head and body together;
 * - Node enforces both from a timer that runs every `connectionsCheckingInterval` (30 s by default,
 *   read when the server starts listening): a quarter of the header timeout here, so a socket is cut
 *   within 1.25 × JR_HTTP_HEAD_TIMEOUT;
 * - `keepAliveTimeout` closes idle keep-alive connections between requests;
 * - `maxConnections`: connections past the cap are dropped as they arrive.
 * The body idle timeout is the body reader's (JsonBodyInterceptor).
 */
export function hardenHttpServer(server: Server, limits: HttpServerLimits): void {
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.maxConnections = limits.maxConnections;
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.max(
    50,
    Math.min(30_000, Math.floor(limits.headersTimeoutMs / 4)),
  );
}

/**
 * For the HTTPS listener: options to spread into its `https.createServer`/`httpsOptions` (Node reads them
 * only at construction). A client that never completes its TLS handshake would otherwise hold its socket
 * for Node's default 120 s, out of reach of the header timeout, which starts after the handshake.
 */
export function tlsServerLimits(limits: HttpServerLimits): { handshakeTimeout: number } {
  return { handshakeTimeout: limits.headersTimeoutMs };
}
