import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  AGENT_METRICS,
  API_METRICS,
  createAgentMetrics,
  createApiMetrics,
  fillWithSamples,
  startMetricsServer,
  type MetricsServer,
} from '@jr/telemetry';
import {
  expandGrafanaVariables,
  expositionSeries,
  grafanaDashboardQueries,
  PrometheusServer,
  promqlSelectors,
  waitFor,
  type QueryResult,
} from '@jr/testing';

// A real Prometheus on loopback loads our rule files and scrapes two metrics servers built from the
// catalog (API and agent), every metric populated and moving on each scrape. Every PromQL expression of
// the dashboards and rules must parse and evaluate in Prometheus itself, rule expressions may only name
// catalog metrics, and every dashboard query must return data. (Part B repeats this against a real API.)
const root = path.resolve(__dirname, '../../..');
const rulesDir = path.join(root, 'infra/prometheus/rules');
const dashboardsDir = path.join(root, 'infra/grafana/dashboards');

function samples(result: QueryResult): number {
  if (result.resultType === 'scalar' || result.resultType === 'string') return 1;
  return (result.result as unknown[]).length;
}

describe('dashboards and rules against a real Prometheus', () => {
  let prometheus: PrometheusServer;
  const servers: MetricsServer[] = [];
  const api = createApiMetrics(undefined, { version: 'test' });
  const agent = createAgentMetrics(undefined, { version: 'test' });

  beforeAll(async () => {
    // Every scrape adds a sample to each metric, so rates and quantiles have something to show.
    api.beforeScrape(() => fillWithSamples(api, API_METRICS, 0.3));
    agent.beforeScrape(() => fillWithSamples(agent, AGENT_METRICS, 0.3));
    servers.push(
      await startMetricsServer({ port: 0, metrics: api }),
      await startMetricsServer({ port: 0, metrics: agent }),
    );
    const ruleFiles = fs
      .readdirSync(rulesDir)
      .filter((f) => f.endsWith('.yml'))
      .map((f) => path.join(rulesDir, f));
    prometheus = await PrometheusServer.start({
      ruleFiles,
      targets: [
        { job: 'jr-api', targets: [`127.0.0.1:${servers[0]!.port}`] },
        { job: 'jr-agent', targets: [`127.0.0.1:${servers[1]!.port}`], labels: { pool: 'default' } },
      ],
    });
    await prometheus.waitForScrapes(4);
  }, 600_000);

  afterAll(async () => {
    await prometheus?.stop();
    for (const s of servers) await s.close();
  });

  it('loads every rule file and evaluates every rule without error', async () => {
    const rules = await waitFor(
      async () => {
        const all = await prometheus.rules();
        return all.length > 0 && all.every((r) => r.health !== 'unknown') ? all : undefined;
      },
      { timeoutMs: 30_000, what: 'every rule to be evaluated' },
    );
    expect(rules.filter((r) => r.type === 'alerting').length).toBeGreaterThanOrEqual(13);
    expect(rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.lastError ?? r.health}`)).toEqual([]);
  });

  it('rule expressions name only catalog metrics, Prometheus `up` and our recording rules', async () => {
    const rules = await prometheus.rules();
    const known = new Set<string>(['up', ...rules.filter((r) => r.type === 'recording').map((r) => r.name)]);
    for (const m of [api, agent])
      for (const name of expositionSeries(await m.registry.metrics()).keys()) known.add(name);
    const unknown = rules.flatMap((r) =>
      promqlSelectors(r.query)
        .filter((s) => !known.has(s.metric))
        .map((s) => `${r.name}: ${s.metric}`),
    );
    expect(unknown).toEqual([]);
  });

  it('parses and evaluates every dashboard expression, and each returns data', async () => {
    const queries = grafanaDashboardQueries(dashboardsDir);
    const refused: string[] = [];
    const empty: string[] = [];
    for (const q of queries) {
      const expr = expandGrafanaVariables(q.expr);
      try {
        if (samples(await prometheus.query(expr)) === 0) empty.push(`${q.dashboard} / ${q.where}: ${expr}`);
      } catch (err) {
        refused.push(`${q.dashboard} / ${q.where}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    expect(refused).toEqual([]);
    expect(empty).toEqual([]);
  });

  it('answers the SLO recording rules with the share of late dispatches', async () => {
    // fillWithSamples observes 0.3 s: every dispatch is within 1 s, so the error ratio is 0.
    const result = await waitFor(
      async () => {
        const r = await prometheus.query('jr:dispatch_slo_errors:ratio_rate5m{pool="default"}');
        const vector = r.result as Array<{ value: [number, string] }>;
        return vector[0] && vector[0].value[1] !== 'NaN' ? vector[0].value[1] : undefined;
      },
      { timeoutMs: 30_000, what: 'the SLO recording rule to have a value' },
    );
    expect(Number(result)).toBe(0);
  });

  it("refuses a malformed expression with Prometheus' own parse error (the check is live)", async () => {
    await expect(prometheus.query('sum(rate(jr_jobs_submitted_total[5m])')).rejects.toThrow(/bad_data/);
  });
});
