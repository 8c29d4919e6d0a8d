import type { ServerResponse } from 'node:http';
import { Inject, Injectable, type NestMiddleware } from '@nestjs/common';
import { METRICS, type ApiMetrics } from './api-metrics';
import { methodLabel, routeLabel, type RoutedRequest } from './route-label';
import type { IncomingMessage } from 'node:http';

/**
 * jr_http_request_duration_seconds{method,route,status}: timed from the first middleware to the
 * response's end (or the connection closing first: status 499, the nginx convention for "client gone").
 */
@Injectable()
export class HttpMetricsMiddleware implements NestMiddleware<IncomingMessage & RoutedRequest, ServerResponse> {
  constructor(@Inject(METRICS) private readonly metrics: ApiMetrics) {}

  use(req: IncomingMessage & RoutedRequest, res: ServerResponse, next: () => void): void {
    const end = this.metrics.httpDuration.startTimer();
    let done = false;
    const record = (): void => {
      if (done) return;
      done = true;
      const status = res.writableFinished ? String(res.statusCode) : '499';
      end({ method: methodLabel(req.method), route: routeLabel(req), status });
    };
    res.once('finish', record);
    res.once('close', record);
    next();
  }
}
