import { parse } from 'yaml';
import { DEFAULT_SLO_DOCUMENT, parseSloDocument, SloDocumentError, type SloDocument } from './slo';
import { BURN_RATE_WINDOWS, generateSloRules, SLO_RUNBOOK } from './slo-rules';

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const groupsOf = (doc: SloDocument): Array<{ name: string; rules: Rule[] }> =>
  (parse(generateSloRules(doc)) as { groups: Array<{ name: string; rules: Rule[] }> }).groups;
const rulesOf = (doc: SloDocument, group: string): Rule[] =>
  groupsOf(doc).find((g) => g.name === `jr-slo-${group}`)?.rules ?? [];
const exprOf = (doc: SloDocument, name: string): string =>
  groupsOf(doc)
    .flatMap((g) => g.rules)
    .find((r) => r.record === name || r.alert === name)?.expr ?? '';

function docOf(...objectives: unknown[]): SloDocument {
  return parseSloDocument({ apiVersion: 'jr/v1', kind: 'ServiceLevels', spec: { objectives } });
}
const objective = (name: string, indicator: unknown, extra: object = {}) => ({
  metadata: { name },
  spec: { indicator, target: 0.99, ...extra },
});
const httpGood = {
  ratioMetric: {
    good: 'sum(rate(http_requests_total{code!~"5.."}[$window]))',
    total: 'sum(rate(http_requests_total[$window]))',
  },
};

describe('generateSloRules', () => {
  it('uses the workbook burn-rate pairs', () => {
    expect(BURN_RATE_WINDOWS.map((w) => [w.long, w.short, w.factor, w.severity])).toEqual([
      ['1h', '5m', 14.4, 'page'],
      ['6h', '30m', 6, 'page'],
      ['3d', '6h', 1, 'ticket'],
    ]);
  });

  it('gives every objective a group with its ratio and event records and three alerts', () => {
    const groups = groupsOf(DEFAULT_SLO_DOCUMENT);
    expect(groups.map((g) => g.name)).toEqual([
      'jr-slo-submissions-accepted',
      'jr-slo-pickup-2s',
      'jr-slo-canaries-30s',
    ]);
    const rules = rulesOf(DEFAULT_SLO_DOCUMENT, 'pickup-2s');
    expect(rules.filter((r) => r.record).map((r) => r.record)).toEqual([
      ...['5m', '30m', '1h', '6h', '3d'].map((w) => `jr_slo:pickup_2s:error_ratio_rate${w}`),
      ...['1h', '6h', '3d'].map((w) => `jr_slo:pickup_2s:events_increase${w}`),
    ]);
    const alerts = rules.filter((r) => r.alert);
    expect(alerts.map((a) => [a.alert, a.for, a.labels])).toEqual([
      ['JrSloPickup2sBurnRate14x', '2m', { severity: 'page', slo: 'pickup-2s', long_window: '1h', short_window: '5m' }],
      [
        'JrSloPickup2sBurnRate6x',
        '15m',
        { severity: 'page', slo: 'pickup-2s', long_window: '6h', short_window: '30m' },
      ],
      [
        'JrSloPickup2sBurnRate1x',
        '1h',
        { severity: 'ticket', slo: 'pickup-2s', long_window: '3d', short_window: '6h' },
      ],
    ]);
    for (const g of groups) expect(g.rules.filter((r) => r.alert)).toHaveLength(3);
    expect(alerts[0]?.annotations).toMatchObject({ runbook: SLO_RUNBOOK });
    expect(alerts[0]?.annotations?.description).toContain('target 99 % over 30d');
    expect(alerts[0]?.annotations?.description).toContain('a burn rate of 14.4');
  });

  it('needs the long and the short window over factor x budget, and the minimum of events (low traffic)', () => {
    expect(exprOf(DEFAULT_SLO_DOCUMENT, 'JrSloCanaries30sBurnRate6x')).toBe(
      [
        'jr_slo:canaries_30s:error_ratio_rate6h > 6 * (1 - 0.999)',
        'jr_slo:canaries_30s:error_ratio_rate30m > 6 * (1 - 0.999)',
        'jr_slo:canaries_30s:events_increase6h >= 3',
      ].join('\nand\n') + '\n',
    );
    for (const o of DEFAULT_SLO_DOCUMENT.objectives)
      for (const r of rulesOf(DEFAULT_SLO_DOCUMENT, o.name).filter((x) => x.alert))
        expect(r.expr).toMatch(new RegExp(`:events_increase${r.labels?.long_window} >= ${o.minEvents}\\n$`));
  });

  it('aggregates latency SLIs per pool, or filters one pool; submissions are global', () => {
    const d = DEFAULT_SLO_DOCUMENT;
    expect(exprOf(d, 'jr_slo:pickup_2s:error_ratio_rate5m')).toContain(
      'sum by (pool) (rate(jr_dispatch_latency_seconds_bucket{le=~"2(\\\\.0)?"}[5m]))',
    );
    expect(exprOf(d, 'jr_slo:canaries_30s:events_increase3d')).toBe(
      'sum by (pool) (increase(jr_canaries_total[3d]))\n',
    );
    const submissions = exprOf(d, 'jr_slo:submissions_accepted:error_ratio_rate1h');
    expect(submissions).not.toContain('by (pool)');
    expect(submissions).toContain('(sum(rate(jr_intake_rejected_total{reason!="invalid_input"}[1h])) or vector(0))');
    const gpu = docOf(objective('gpu', { builtin: 'canary_success', threshold: '2s', pool: 'g"pu' }));
    const ratio = exprOf(gpu, 'jr_slo:gpu:error_ratio_rate30m');
    expect(ratio).toContain('jr_canary_duration_seconds_bucket{pool="g\\"pu",le=~"2(\\\\.0)?"}[30m]');
    expect(ratio).toContain('sum by (pool) (rate(jr_canaries_total{pool="g\\"pu"}[30m])) * 0');
    expect(rulesOf(gpu, 'gpu').find((r) => r.alert)?.annotations?.summary).toContain('pool {{ $labels.pool }}');
    expect(rulesOf(d, 'submissions-accepted').find((r) => r.alert)?.annotations?.summary).not.toContain('pool');
  });

  it('matches a fractional bucket boundary exactly', () => {
    const d = docOf(
      objective('half', { builtin: 'pickup_latency', threshold: '500ms' }),
      objective('two-and-a-half', { builtin: 'pickup_latency', threshold: 2.5 }),
    );
    expect(exprOf(d, 'jr_slo:half:error_ratio_rate5m')).toContain('{le="0.5"}[5m]');
    expect(exprOf(d, 'jr_slo:two_and_a_half:error_ratio_rate5m')).toContain('{le="2.5"}[5m]');
  });

  it('replaces $window in ratioMetric queries and counts events as total x seconds', () => {
    const bad = {
      ratioMetric: { bad: 'sum(rate(errs_total[$window])) # errors', total: 'sum(rate(all_total[$window]))' },
    };
    const d = docOf(objective('http', httpGood), objective('errs', bad));
    const text = generateSloRules(d);
    expect(text).not.toContain('$window');
    expect(exprOf(d, 'jr_slo:http:error_ratio_rate6h')).toContain('(sum(rate(http_requests_total{code!~"5.."}[6h])))');
    expect(exprOf(d, 'jr_slo:http:error_ratio_rate6h')).toMatch(/^1 - \(/);
    expect(exprOf(d, 'jr_slo:http:events_increase1h')).toBe('(sum(rate(http_requests_total[1h]))) * 3600\n');
    expect(exprOf(d, 'jr_slo:http:events_increase3d')).toBe('(sum(rate(http_requests_total[3d]))) * 259200\n');
    // a trailing PromQL comment must not swallow the closing parenthesis
    expect(exprOf(d, 'jr_slo:errs:error_ratio_rate5m')).toContain('sum(rate(errs_total[5m])) # errors\n  )');
    const noWindow = docOf(objective('x', { ratioMetric: { good: 'sum(good_rate)', total: 'sum(all_rate)' } }));
    expect(() => generateSloRules(noWindow)).toThrow(SloDocumentError);
  });

  it('is deterministic and explains itself in a header', () => {
    const text = generateSloRules(DEFAULT_SLO_DOCUMENT);
    expect(generateSloRules(structuredClone(DEFAULT_SLO_DOCUMENT))).toBe(text);
    const header = text.slice(0, text.indexOf('groups:')).trimEnd().split('\n');
    expect(header.every((l) => l.startsWith('#'))).toBe(true);
    expect(header.join('\n')).toContain('submissions-accepted: 99.9 % of valid submissions accepted (target 0.999');
    expect(header.join('\n')).toContain("relative to each objective's own window");
  });

  it('quotes user text safely for YAML and for alert templates', () => {
    const name = "it's {{ odd }}: #1\n  or\ttwo";
    const d = docOf({ metadata: { name: 'odd', displayName: name }, spec: { indicator: httpGood, target: 0.9 } });
    const description = rulesOf(d, 'odd').find((r) => r.alert)?.annotations?.description;
    expect(description).toMatch(/^it's \{\{ "\{\{" \}\} odd \}\}: #1 or two \(target 90 % over 30d\)/);
  });

  it('refuses objectives that would share rule names', () => {
    const d = docOf(
      objective('pickup-2s', { builtin: 'pickup_latency', threshold: '2s' }),
      objective('pickup2s', { builtin: 'pickup_latency', threshold: '2s' }),
    );
    expect(() => generateSloRules(d)).toThrow(/JrSloPickup2sBurnRate14x/);
  });
});
