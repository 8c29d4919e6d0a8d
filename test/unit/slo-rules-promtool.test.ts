import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse, stringify } from 'yaml';
import { DEFAULT_SLO_DOCUMENT, generateSloRules, parseSloDocument, type SloDocument } from '@jr/contracts';
import { API_METRICS } from '@jr/telemetry';
import { ensurePrometheusTools } from '@jr/testing';

// The rules generateSloRules writes, checked and run by Prometheus' own tool: promtool evaluates them
// minute by minute over made-up series (as the API would expose them) and compares the alerts.

/** A second document: a user's ratioMetric objective and a pickup objective for one pool. */
const OTHER_DOCUMENT = parseSloDocument({
  apiVersion: 'jr/v1',
  kind: 'ServiceLevels',
  metadata: { name: 'other' },
  spec: {
    objectives: [
      {
        metadata: { name: 'http-availability' },
        spec: {
          indicator: {
            ratioMetric: {
              good: 'sum(rate(http_requests_total{code!~"5.."}[$window]))',
              total: 'sum(rate(http_requests_total[$window]))',
            },
          },
          target: 0.99,
          minEvents: 100,
        },
      },
      {
        metadata: { name: 'gpu-pickup-500ms' },
        spec: { indicator: { builtin: 'pickup_latency', threshold: '500ms', pool: 'gpu' }, target: 0.95 },
      },
    ],
  },
});

type Series = { series: string; values: string };
type AlertRule = { alert: string; labels: Record<string, string>; annotations: Record<string, string> };
type Case = { name: string; series: Series[]; expect: object[] };

const s = (metric: string, labels: string, values: string): Series => ({
  series: `${metric}{job="jr-api",instance="api-1:8080"${labels ? `,${labels}` : ''}}`,
  values,
});

/** The generated alert rules by "<slo>/<long window>". */
function alertRules(rulesText: string): Map<string, AlertRule> {
  const groups = (parse(rulesText) as { groups: Array<{ rules: Array<Partial<AlertRule>> }> }).groups;
  const alerts = groups.flatMap((g) => g.rules).filter((r): r is AlertRule => r.alert !== undefined);
  return new Map(alerts.map((a) => [`${a.labels.slo}/${a.labels.long_window}`, a]));
}

/** An alert_rule_test entry: which pools fire (null: an alert without pool label; none: quiet). */
function expectAt(rules: Map<string, AlertRule>, key: string, at: string, pools: Array<string | null>): object {
  const rule = rules.get(key);
  if (!rule) throw new Error(`no alert ${key}`);
  const expand = (t: string, pool: string | null) => t.replaceAll('{{ $labels.pool }}', pool ?? '');
  const exp_alerts = pools.map((pool) => ({
    exp_labels: { ...rule.labels, ...(pool !== null ? { pool } : {}) },
    exp_annotations: Object.fromEntries(Object.entries(rule.annotations).map(([k, v]) => [k, expand(v, pool)])),
  }));
  return { eval_time: at, alertname: rule.alert, exp_alerts };
}

/** The same expectation for the three alerts of an objective (1h, 6h, 3d long windows). */
const everyWindow = (r: Map<string, AlertRule>, slo: string, at: string, pools: Array<string | null>) =>
  ['1h', '6h', '3d'].map((w) => expectAt(r, `${slo}/${w}`, at, pools));
/** Quiet at times where, without the min-events guard, each alert would have fired. */
const quietAt = (r: Map<string, AlertRule>, slo: string, times: string[]) =>
  times.map((at, i) => expectAt(r, `${slo}/${['1h', '6h', '3d'][i]}`, at, []));

function submissionCases(r: Map<string, AlertRule>): Case[] {
  const slo = 'submissions-accepted';
  const rejected = (reason: string, values: string) => s('jr_intake_rejected_total', `reason="${reason}"`, values);
  const accepted = (values: string) => s('jr_jobs_submitted_total', 'pool="default"', values);
  return [
    {
      name: 'submissions: half refused (journal_full) for 2 h pages; invalid input does not count',
      series: [accepted('0+10x130'), rejected('journal_full', '0+10x130'), rejected('invalid_input', '0+100x130')],
      expect: everyWindow(r, slo, '1h10m', [null]),
    },
    {
      name: 'submissions: 0.05 % refused is within the 0.1 % budget',
      series: [accepted('0+1999x420'), rejected('disk_full', '0+1x420')],
      expect: everyWindow(r, slo, '6h', []),
    },
    {
      name: 'submissions: 5 refusals and nothing else stay under minEvents 10',
      series: [accepted('0x185'), rejected('journal_full', '0x49 1 2 3 4 5x130')],
      expect: quietAt(r, slo, ['56m', '1h15m', '3h']),
    },
  ];
}

function pickupCases(r: Map<string, AlertRule>): Case[] {
  const slo = 'pickup-2s';
  const pickups = (pool: string, le: string, fast: string, all: string) => [
    s('jr_dispatch_latency_seconds_bucket', `pool="${pool}",le="${le}"`, fast),
    s('jr_dispatch_latency_seconds_count', `pool="${pool}"`, all),
  ];
  return [
    {
      name: 'pickup: 10 % late is a slow burn (6x, 1x), 50 % late (le="2.0", Prometheus 3) a fast one',
      series: [...pickups('default', '2', '0+90x420', '0+100x420'), ...pickups('gpu', '2.0', '0+50x420', '0+100x420')],
      expect: [
        expectAt(r, `${slo}/1h`, '6h', ['gpu']),
        expectAt(r, `${slo}/6h`, '6h', ['default', 'gpu']),
        expectAt(r, `${slo}/3d`, '6h', ['default', 'gpu']),
      ],
    },
    {
      name: 'pickup: 0.5 % late is within the 1 % budget, an idle pool (0/0) is quiet',
      series: [...pickups('default', '2', '0+995x420', '0+1000x420'), ...pickups('idle', '2', '7x420', '9x420')],
      expect: everyWindow(r, slo, '6h', []),
    },
    {
      name: 'pickup: 3 late jobs stay under minEvents 10',
      series: pickups('default', '2', '0x185', '0x49 1 2 3x130'),
      expect: quietAt(r, slo, ['53m', '1h10m', '3h']),
    },
  ];
}

function canaryCases(r: Map<string, AlertRule>): Case[] {
  const slo = 'canaries-30s';
  const canaries = (failed: string, succeeded: string) => [
    s('jr_canaries_total', 'pool="default",outcome="failed"', failed),
    s('jr_canaries_total', 'pool="default",outcome="succeeded"', succeeded),
  ];
  const within = (le: string, values: string) =>
    s('jr_canary_duration_seconds_bucket', `pool="default",le="${le}"`, values);
  return [
    {
      name: 'canaries: every canary failing fires, though no duration was ever recorded',
      series: canaries('0+1x130', '0x130'),
      expect: [expectAt(r, `${slo}/1h`, '10m', ['default']), expectAt(r, `${slo}/6h`, '20m', ['default'])],
    },
    {
      name: 'canaries: succeeding in 60 s misses the 30 s threshold',
      series: [...canaries('0x60', '0+1x60'), within('30', '0x60'), within('60', '0+1x60')],
      expect: [expectAt(r, `${slo}/1h`, '10m', ['default'])],
    },
    {
      name: 'canaries: all succeeding within 30 s is quiet',
      series: [...canaries('0x420', '0+1x420'), within('30', '0+1x420')],
      expect: everyWindow(r, slo, '6h', []),
    },
    {
      name: 'canaries: 2 failed of 2 (100 %) stay under minEvents 3',
      series: canaries('0x49 1 2x130', '0x180'),
      expect: quietAt(r, slo, ['54m', '1h10m', '3h']),
    },
  ];
}

const defaultCases = (r: Map<string, AlertRule>): Case[] => [
  ...submissionCases(r),
  ...pickupCases(r),
  ...canaryCases(r),
];

function otherCases(r: Map<string, AlertRule>): Case[] {
  const http = (code: string, values: string) => s('http_requests_total', `code="${code}"`, values);
  const gpu = (pool: string, fast: string) => [
    s('jr_dispatch_latency_seconds_bucket', `pool="${pool}",le="0.5"`, fast),
    s('jr_dispatch_latency_seconds_count', `pool="${pool}"`, '0+100x420'),
  ];
  return [
    {
      name: 'ratioMetric: half the requests failing pages',
      series: [http('200', '0+50x130'), http('500', '0+50x130')],
      expect: [expectAt(r, 'http-availability/1h', '30m', [null])],
    },
    {
      name: 'ratioMetric: only failures (no good series at all) page too',
      series: [http('500', '0+100x60')],
      expect: [expectAt(r, 'http-availability/1h', '10m', [null])],
    },
    {
      name: 'ratioMetric: all good is quiet',
      series: [http('200', '0+50x420'), http('503', '0x420')],
      expect: everyWindow(r, 'http-availability', '6h', []),
    },
    {
      name: 'ratioMetric: 3 failures (100 %) stay under minEvents 100',
      series: [http('503', '0x49 1 2 3x130')],
      expect: quietAt(r, 'http-availability', ['53m', '1h10m']),
    },
    {
      name: 'one pool: 80 % late in gpu is over 14.4 x 5 %; only gpu counts (default is 100 % late)',
      series: [...gpu('gpu', '0+20x420'), ...gpu('default', '0x420')],
      expect: [expectAt(r, 'gpu-pickup-500ms/1h', '30m', ['gpu'])],
    },
    {
      name: 'one pool: gpu fast is quiet although default is late',
      series: [...gpu('gpu', '0+100x420'), ...gpu('default', '0x420')],
      expect: everyWindow(r, 'gpu-pickup-500ms', '6h', []),
    },
  ];
}

function promtool(args: string[], cwd: string): { code: number; out: string } {
  const { promtool: bin } = ensurePrometheusTools();
  const r = spawnSync(bin, args, { cwd, encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw r.error;
  return { code: r.status ?? 1, out: `${r.stdout}${r.stderr}` };
}

/** Names of the catalog's metrics, with the series names a histogram adds. */
function catalogNames(): Set<string> {
  return new Set(
    Object.values(API_METRICS).flatMap((m) =>
      m.kind === 'histogram' ? [`${m.name}_bucket`, `${m.name}_count`, `${m.name}_sum`] : [m.name],
    ),
  );
}

describe('generated SLO rules (promtool)', () => {
  let dir: string;
  const documents: Array<[string, SloDocument, (r: Map<string, AlertRule>) => Case[]]> = [
    ['default', DEFAULT_SLO_DOCUMENT, defaultCases],
    ['other', OTHER_DOCUMENT, otherCases],
  ];

  beforeAll(() => {
    ensurePrometheusTools();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jr-slo-rules-'));
    for (const [name, doc, cases] of documents) {
      const rules = generateSloRules(doc);
      fs.writeFileSync(path.join(dir, `${name}.rules.yml`), rules);
      const tests = cases(alertRules(rules)).map((c) => ({
        name: c.name,
        interval: '1m',
        input_series: c.series,
        alert_rule_test: c.expect,
      }));
      const file = { rule_files: [`${name}.rules.yml`], evaluation_interval: '1m', tests };
      fs.writeFileSync(path.join(dir, `${name}.test.yml`), stringify(file));
    }
  }, 600_000);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('passes promtool check rules', () => {
    const r = promtool(['check', 'rules', 'default.rules.yml', 'other.rules.yml'], dir);
    if (r.code !== 0) throw new Error(r.out);
    expect(r.out).toContain('SUCCESS: 33 rules found');
    expect(r.out).toContain('SUCCESS: 22 rules found');
  });

  it('fires on fast and slow burns, stays quiet within the budget and under minEvents', () => {
    const r = promtool(['test', 'rules', 'default.test.yml', 'other.test.yml'], dir);
    if (r.code !== 0) throw new Error(r.out);
    expect(r.out).toContain('SUCCESS');
  });

  it('reads only metrics of the catalog', () => {
    const names = catalogNames();
    const used = new Set(
      documents.flatMap(([, doc]) =>
        [...generateSloRules(doc).matchAll(/\bjr_[a-z0-9_]+(?![a-z0-9_:])/g)].map((m) => m[0]),
      ),
    );
    expect([...used].sort()).toEqual([
      'jr_canaries_total',
      'jr_canary_duration_seconds_bucket',
      'jr_dispatch_latency_seconds_bucket',
      'jr_dispatch_latency_seconds_count',
      'jr_intake_rejected_total',
      'jr_jobs_submitted_total',
    ]);
    expect([...used].filter((n) => !names.has(n))).toEqual([]);
  });
});
