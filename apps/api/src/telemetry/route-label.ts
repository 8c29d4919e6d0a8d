/** What an unmatched request (404, or a path no route declares) is counted as. */
export const UNMATCHED_ROUTE = 'unmatched';

/** The parts of an Express request the route label needs. */
export interface RoutedRequest {
  baseUrl?: unknown;
  route?: { path?: unknown } | null;
}

/**
 * The bounded `route` label of jr_http_request_duration_seconds: the route pattern Express matched
 * (`/v1/jobs/:id`), never the raw URL, so job ids and query strings cannot multiply series.
 */
export function routeLabel(req: RoutedRequest): string {
  const pattern = req.route?.path;
  if (typeof pattern !== 'string' || pattern.length === 0) return UNMATCHED_ROUTE;
  const base = typeof req.baseUrl === 'string' ? req.baseUrl : '';
  const full = `${base}${pattern}`;
  // Nest registers '/' routes as '/'; a trailing slash never varies by request
  return full.length > 1 && full.endsWith('/') ? full.slice(0, -1) : full;
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The `method` label: the usual HTTP methods, anything else folded into OTHER. */
export function methodLabel(method: string | undefined): string {
  const upper = (method ?? '').toUpperCase();
  return METHODS.has(upper) ? upper : 'OTHER';
}
