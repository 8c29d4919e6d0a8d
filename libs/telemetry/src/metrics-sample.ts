import type { MetricDef } from './metric-defs';
import { AGENT_METRICS, API_METRICS } from './metrics-catalog';
import { createAgentMetrics, createApiMetrics, type ProcessMetrics } from './metrics';

/** Representative label values, for a fully populated exposition (promtool checks, dashboard tests). */
const SAMPLE_LABEL_VALUES: Record<string, readonly string[]> = {
  pool: ['default'],
  agent: ['ag_sample'],
  name: ['sample-host'],
  version: ['0.0.0'],
  method: ['GET'],
  route: ['/v1/jobs/:id'],
  status: ['200', '503'],
  code: ['OK', 'UNAVAILABLE'],
  journal: ['intake'],
};

/** Label sets that populate `def`: every known value of each label (else representative ones), crossed. */
export function sampleLabelSets(def: MetricDef): Array<Record<string, string>> {
  let sets: Array<Record<string, string>> = [{}];
  for (const name of def.labelNames) {
    const values = def.knownValues?.[name] ?? SAMPLE_LABEL_VALUES[name] ?? ['sample'];
    sets = sets.flatMap((set) => values.map((v) => ({ ...set, [name]: v })));
  }
  return sets;
}

type AnyHandle = {
  inc?: (...a: unknown[]) => void;
  set?: (...a: unknown[]) => void;
  observe?: (...a: unknown[]) => void;
};

/** Gives every series of `defs` a sample (counters +n, gauges n, histograms an observation of n s). */
export function fillWithSamples(metrics: ProcessMetrics, defs: Record<string, MetricDef>, value = 1): void {
  for (const [key, def] of Object.entries(defs)) {
    const handle = (metrics as unknown as Record<string, AnyHandle>)[key];
    for (const labels of sampleLabelSets(def)) {
      const args: unknown[] = def.labelNames.length > 0 ? [labels, value] : [value];
      if (def.kind === 'counter') handle?.inc?.(...args);
      else if (def.kind === 'gauge') handle?.set?.(...args);
      else handle?.observe?.(...args);
    }
  }
}

/** A fully populated exposition of one process type, runtime metrics included. */
export async function renderSampleExposition(kind: 'api' | 'agent'): Promise<string> {
  const metrics =
    kind === 'api'
      ? createApiMetrics(undefined, { version: '0.0.0' })
      : createAgentMetrics(undefined, { version: '0.0.0' });
  fillWithSamples(metrics, kind === 'api' ? API_METRICS : AGENT_METRICS, 0.5);
  return metrics.render();
}
