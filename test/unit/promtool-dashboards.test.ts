import * as fs from 'node:fs';
import * as path from 'node:path';
import { renderSampleExposition } from '@jr/telemetry';
import {
  expandGrafanaVariables,
  expositionSeries,
  grafanaDashboardQueries,
  promqlSelectors,
  variableQueryToPromql,
} from '@jr/testing';

// The Grafana dashboards may only use metrics our catalog declares (plus Prometheus' `up`, the runtime
// process_/nodejs_ metrics and our recording rules), with labels those metrics carry.
const root = path.resolve(__dirname, '../..');
const dashboardsDir = path.join(root, 'infra/grafana/dashboards');
const rulesDir = path.join(root, 'infra/prometheus/rules');
const TARGET_LABELS = ['job', 'instance'];

/** Series name -> allowed label names, from the catalog's populated expositions and the rule files. */
async function allowedSeries(): Promise<Map<string, Set<string>>> {
  const allowed = new Map<string, Set<string>>();
  for (const kind of ['api', 'agent'] as const) {
    for (const [name, labels] of expositionSeries(await renderSampleExposition(kind))) {
      allowed.set(name, new Set([...(allowed.get(name) ?? []), ...labels, ...TARGET_LABELS]));
    }
  }
  allowed.set('up', new Set(TARGET_LABELS));
  for (const file of fs.readdirSync(rulesDir)) {
    for (const m of fs.readFileSync(path.join(rulesDir, file), 'utf8').matchAll(/^\s*- record:\s*(\S+)\s*$/gm))
      allowed.set(m[1] as string, new Set(['pool']));
  }
  return allowed;
}

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: Array<{ expr: string; datasource: { type: string; uid: string } }>;
}

function loadDashboards(): Array<{
  file: string;
  json: {
    uid: string;
    title: string;
    panels: Panel[];
    templating: { list: Array<{ name: string; type: string; query: unknown }> };
  };
}> {
  return fs
    .readdirSync(dashboardsDir)
    .filter((f) => f.endsWith('.json'))
    .map((file) => ({ file, json: JSON.parse(fs.readFileSync(path.join(dashboardsDir, file), 'utf8')) }));
}

describe('Grafana dashboards', () => {
  const dashboards = loadDashboards();

  it('are the three the operators need, with unique uids', () => {
    expect(dashboards.map((d) => d.file).sort()).toEqual(['fleet.json', 'job-flow.json', 'reliability.json']);
    expect(new Set(dashboards.map((d) => d.json.uid)).size).toBe(3);
    for (const d of dashboards) expect(d.json.title).toMatch(/^jobrunner \/ /);
  });

  it('are well-formed: unique panel ids, panels inside the 24-column grid, every query on the datasource variable', () => {
    for (const { file, json } of dashboards) {
      const ids = json.panels.map((p) => p.id);
      expect({ file, duplicateIds: ids.filter((id, i) => ids.indexOf(id) !== i) }).toEqual({ file, duplicateIds: [] });
      const variable = json.templating.list.find((v) => v.name === 'datasource');
      expect(variable).toMatchObject({ type: 'datasource', query: 'prometheus' });
      for (const panel of json.panels) {
        expect(panel.gridPos.x + panel.gridPos.w).toBeLessThanOrEqual(24);
        if (panel.type === 'row') continue;
        expect({ file, panel: panel.title, targets: (panel.targets ?? []).length > 0 }).toEqual({
          file,
          panel: panel.title,
          targets: true,
        });
        for (const target of panel.targets ?? [])
          expect(target.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
      }
    }
  });

  it('use only metrics and labels of the catalog', async () => {
    const allowed = await allowedSeries();
    const queries = grafanaDashboardQueries(dashboardsDir);
    expect(queries.length).toBeGreaterThan(60);
    const problems: string[] = [];
    for (const q of queries) {
      const selectors = promqlSelectors(expandGrafanaVariables(q.expr));
      if (selectors.length === 0) problems.push(`${q.dashboard} / ${q.where}: no metric in ${q.expr}`);
      for (const s of selectors) {
        const labels = allowed.get(s.metric);
        if (!labels) problems.push(`${q.dashboard} / ${q.where}: unknown metric ${s.metric}`);
        else
          for (const l of s.labels)
            if (!labels.has(l)) problems.push(`${q.dashboard} / ${q.where}: ${s.metric} has no label ${l}`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('PromQL helpers', () => {
  it('finds metric selectors and their matchers, skipping functions, keywords, groupings, strings and numbers', () => {
    const expr = `histogram_quantile(0.99, sum by (le, pool) (rate(jr_x_bucket{le=~"1(\\\\.0)?", pool="a"}[5m] offset 1h)))
      / on (pool) group_left (name) max without (agent) (jr_info) > bool 1e3 and absent(up{job="jr-api"}) or vector(0) # comment jr_not_this`;
    expect(promqlSelectors(expr)).toEqual([
      { metric: 'jr_x_bucket', labels: ['le', 'pool'] },
      { metric: 'jr_info', labels: [] },
      { metric: 'up', labels: ['job'] },
    ]);
    expect(promqlSelectors('jr:dispatch_slo_errors:ratio_rate5m{pool=~".*"} / 0.01')).toEqual([
      { metric: 'jr:dispatch_slo_errors:ratio_rate5m', labels: ['pool'] },
    ]);
    expect(promqlSelectors('label_replace(jr_a, "dst", "jr_b $1", "src", "(.*)")')).toEqual([
      { metric: 'jr_a', labels: [] },
    ]);
  });

  it('turns Grafana variables and variable queries into plain PromQL', () => {
    expect(expandGrafanaVariables('rate(x{pool=~"$pool"}[$__rate_interval]) + y{a="${pool:regex}"}[[pool]]')).toBe(
      'rate(x{pool=~".*"}[1m]) + y{a=".*"}.*',
    );
    expect(expandGrafanaVariables('x{pool=~"$pool"}', { pool: 'gpu' })).toBe('x{pool=~"gpu"}');
    expect(variableQueryToPromql('label_values(jr_queue_depth, pool)')).toBe('count by (pool) (jr_queue_depth)');
    expect(variableQueryToPromql('query_result(topk(3, x))')).toBe('topk(3, x)');
  });

  it('reads series names and label names from an exposition', () => {
    const series = expositionSeries(
      '# HELP a A\n# TYPE a counter\na_total{pool="x",state="y"} 1\nb 2\nc_bucket{le="+Inf"} 3 1700000000\n',
    );
    expect([...series.keys()]).toEqual(['a_total', 'b', 'c_bucket']);
    expect([...(series.get('a_total') ?? [])]).toEqual(['pool', 'state']);
  });
});
