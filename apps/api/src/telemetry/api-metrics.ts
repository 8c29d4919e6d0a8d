import { createApiMetrics, type ApiMetrics } from '@jr/telemetry';
import { API_VERSION } from '../version';

/** The API's metrics (the catalog's `createApiMetrics` handles): inject with `@Inject(METRICS)`. */
export const METRICS = Symbol('ApiMetrics');
export type { ApiMetrics };

/**
 * Metrics for one API instance. `runtime` adds prom-client's process_* and nodejs_* metrics: the
 * process (main.ts) wants them, while tests that start several APIs in one process do not.
 */
export function newApiMetrics(runtime = false): ApiMetrics {
  return createApiMetrics(undefined, { version: API_VERSION, defaultMetrics: runtime });
}
