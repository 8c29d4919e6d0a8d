import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { ApiMetrics } from './api-metrics';
import { methodLabel, routeLabel, type RoutedRequest } from './route-label';

/**
 * jr_http_request_duration_seconds{method,route,status} for every request the server takes, timed from
 * its arrival to the response's end (or the connection closing first: status 499, nginx's "client gone").
 * A plain `request` listener rather than a Nest middleware: no router layer of its own on the hot path;
 * Express sets `req.route` on the same request object, read when the response ends.
 */
export function observeHttpRequests(server: Server, metrics: ApiMetrics): void {
  server.prependListener('request', (req: IncomingMessage & RoutedRequest, res: ServerResponse) => {
    const end = metrics.httpDuration.startTimer();
    // 'close' follows 'finish' on a completed response and comes alone when the client went first: one listener
    res.once('close', () =>
      end({
        method: methodLabel(req.method),
        route: routeLabel(req),
        status: res.writableFinished ? String(res.statusCode) : '499',
      }),
    );
  });
}
