import { collectDefaultMetrics, Registry } from 'prom-client';
import type { CounterDef, GaugeDef, HistogramDef, MetricDef } from './metric-defs';
import { CounterHandle, GaugeHandle, HistogramHandle } from './metric-handles';
import { AGENT_METRICS, API_METRICS, type AgentMetricDefs, type ApiMetricDefs } from './metrics-catalog';

type HandleFor<D> =
  D extends CounterDef<infer L>
    ? CounterHandle<L>
    : D extends GaugeDef<infer L>
      ? GaugeHandle<L>
      : D extends HistogramDef<infer L>
        ? HistogramHandle<L>
        : never;
export type Handles<C> = { readonly [K in keyof C]: HandleFor<C[K]> };

/** Longest a scrape waits for its collectors (database reads) before answering with the values it has. */
export const COLLECT_TIMEOUT_MS = 2_000;

export interface MetricsOptions {
  /** The running service's version, for jr_build_info. */
  version?: string;
  /** Adds prom-client's process_* and nodejs_* runtime metrics (default true). */
  defaultMetrics?: boolean;
}

/** A process's metrics: the typed handles of its catalog plus rendering for GET /metrics. */
export class ProcessMetrics {
  private readonly collectors: Array<() => Promise<void> | void> = [];

  constructor(
    readonly registry: Registry,
    private readonly onCollectError: () => void,
  ) {}

  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * Registers a collector run before every scrape (e.g. queue depth and fleet gauges read from the
   * database). Collectors run concurrently; one that throws or exceeds COLLECT_TIMEOUT_MS counts in
   * jr_metrics_collection_errors_total and the scrape answers with the values already held.
   */
  beforeScrape(collector: () => Promise<void> | void): void {
    this.collectors.push(collector);
  }

  /** The Prometheus text exposition (run collectors first). */
  async render(): Promise<string> {
    await Promise.all(this.collectors.map((c) => this.runCollector(c)));
    return this.registry.metrics();
  }

  private async runCollector(collector: () => Promise<void> | void): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('collector timed out')), COLLECT_TIMEOUT_MS);
      });
      await Promise.race([Promise.resolve().then(collector), timeout]);
    } catch {
      this.onCollectError();
    } finally {
      clearTimeout(timer);
    }
  }
}

export type ApiMetrics = ProcessMetrics & Handles<ApiMetricDefs>;
export type AgentMetrics = ProcessMetrics & Handles<AgentMetricDefs>;

/** Metrics of `jr-api`: `metrics.jobsSubmitted.inc({ pool })`, `await metrics.render()` for GET /metrics. */
export function createApiMetrics(registry: Registry = new Registry(), options: MetricsOptions = {}): ApiMetrics {
  return build(API_METRICS, registry, 'jr-api', options);
}

/** Metrics of `jr-agent`, served on JR_METRICS_PORT by `startMetricsServer`. */
export function createAgentMetrics(registry: Registry = new Registry(), options: MetricsOptions = {}): AgentMetrics {
  return build(AGENT_METRICS, registry, 'jr-agent', options);
}

function build<C extends Record<string, MetricDef<string>>>(
  defs: C,
  registry: Registry,
  service: string,
  options: MetricsOptions,
): ProcessMetrics & Handles<C> {
  const handles = instantiate(defs, registry);
  const collectionErrors = handles.collectionErrors as CounterHandle<never> | undefined;
  const metrics = new ProcessMetrics(registry, () => collectionErrors?.inc());
  (handles.buildInfo as GaugeHandle<'service' | 'version'> | undefined)?.set(
    { service, version: options.version ?? 'unknown' },
    1,
  );
  if (options.defaultMetrics ?? true) addRuntimeMetrics(registry);
  return Object.assign(metrics, handles);
}

/**
 * prom-client's process_* and nodejs_* metrics, minus three gauges named `*_total` against Prometheus
 * conventions (`promtool check metrics` flags them); their per-type siblings (nodejs_active_handles{type}
 * and friends) carry the same numbers.
 */
const UNCONVENTIONAL_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

function addRuntimeMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of UNCONVENTIONAL_DEFAULTS) registry.removeSingleMetric(name);
}

/** One prom-client metric per catalog entry, registered in `registry`. */
export function instantiate<C extends Record<string, MetricDef<string>>>(defs: C, registry: Registry): Handles<C> {
  const out: Record<string, unknown> = {};
  for (const [key, def] of Object.entries(defs)) out[key] = handleFor(def, registry);
  return out as Handles<C>;
}

function handleFor(def: MetricDef<string>, registry: Registry): unknown {
  switch (def.kind) {
    case 'counter':
      return new CounterHandle(def, registry);
    case 'gauge':
      return new GaugeHandle(def, registry);
    case 'histogram':
      return new HistogramHandle(def, registry);
  }
}
