import { parseDurationMs } from './duration';
import { SloDocumentError, type SloDocument, type SloIndicator, type SloObjective } from './slo';

/**
 * Prometheus rules from an SLO document: per objective, recording rules for its error ratio over every
 * window the alerts use, and multi-window, multi-burn-rate alerts (Google SRE workbook, "Alerting on
 * SLOs"). Pure text generation; the output is what `promtool check rules` reads.
 */

export interface BurnRateWindow {
  /** Is the budget really burning? Long enough that a blip does not page. */
  readonly long: string;
  /** Is it still burning now? 1/12 of the long window, so the alert resets soon after recovery. */
  readonly short: string;
  /** Burn rate: 1 spends exactly the whole error budget over the objective's window. */
  readonly factor: number;
  readonly severity: 'page' | 'ticket';
  readonly for: string;
}

/** The workbook's three pairs (for a 30-day window: 2 % of the budget in 1 h, 5 % in 6 h, 10 % in 3 d). */
export const BURN_RATE_WINDOWS: readonly BurnRateWindow[] = [
  { long: '1h', short: '5m', factor: 14.4, severity: 'page', for: '2m' },
  { long: '6h', short: '30m', factor: 6, severity: 'page', for: '15m' },
  { long: '3d', short: '6h', factor: 1, severity: 'ticket', for: '1h' },
];

export const SLO_RUNBOOK = 'infra/RUNBOOKS.md#slo-burn-rate';

/** An indicator as PromQL over a window: the share of bad events, and how many events there were. */
interface SliQueries {
  errorRatio(window: string): string;
  events(window: string): string;
  /** Whether the series keep a `pool` label (one alert per pool). */
  byPool: boolean;
}

type Fn = 'rate' | 'increase';

function promqlString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/** A bucket boundary: Prometheus 3 writes whole numbers as "2.0", older versions as "2". */
function leMatcher(seconds: number): string {
  return Number.isInteger(seconds) ? `le=~"${seconds}(\\\\.0)?"` : `le="${seconds}"`;
}

function poolSum(pool: string | undefined, fn: Fn, metric: string, w: string, extra: string[] = []): string {
  const matchers = [...(pool !== undefined ? [`pool=${promqlString(pool)}`] : []), ...extra];
  const selector = matchers.length > 0 ? `${metric}{${matchers.join(',')}}` : metric;
  return `sum by (pool) (${fn}(${selector}[${w}]))`;
}

const indented = (s: string) => s.replace(/^(?=.)/gm, '  ');

/** `a or b`, one operand a line (they are long). */
const orElse = (a: string, b: string) => `(\n${indented(`${a}\nor\n${b}`)}\n)`;

/**
 * good ÷ total as an error ratio. `good or total * 0`: a pool whose good series does not exist yet (every
 * canary failed, so the duration histogram never got a sample) counts 0 good instead of vanishing.
 */
function oneMinusGood(good: string, total: string): string {
  return `1 - (\n${indented(`${orElse(good, `${total} * 0`)}\n/\n${total}`)}\n)`;
}

/** Latency SLIs: good = events in the threshold's bucket of `histogram`, total = rate of `totalMetric`. */
function latencySli(histogram: string, totalMetric: string, ind: SloIndicator): SliQueries {
  const le = leMatcher((ind.thresholdMs ?? 0) / 1_000);
  const total = (w: string, fn: Fn) => poolSum(ind.pool, fn, totalMetric, w);
  return {
    byPool: true,
    errorRatio: (w) => oneMinusGood(poolSum(ind.pool, 'rate', `${histogram}_bucket`, w, [le]), total(w, 'rate')),
    events: (w) => total(w, 'increase'),
  };
}

/** invalid_input is no valid submission (excluded); every other refusal is a bad event. */
const REJECTED = 'jr_intake_rejected_total{reason!="invalid_input"}';

/** Global: accepted + refused submissions; `or vector(0)` keeps the ratio 0 while nothing was refused. */
function submissionsSli(): SliQueries {
  const sum0 = (fn: Fn, selector: string, w: string) => `(sum(${fn}(${selector}[${w}])) or vector(0))`;
  const total = (w: string, fn: Fn) => `${sum0(fn, 'jr_jobs_submitted_total', w)}\n+\n${sum0(fn, REJECTED, w)}`;
  return {
    byPool: false,
    errorRatio: (w) => `${sum0('rate', REJECTED, w)}\n/\n(\n${indented(total(w, 'rate'))}\n)`,
    events: (w) => total(w, 'increase'),
  };
}

function windowSeconds(w: string): number {
  return (parseDurationMs(w) as number) / 1_000;
}

/**
 * The user's PromQL with `$window` replaced. `total` must be a rate (events per second): the event count
 * of a window, for the low-traffic guard, is total × the window's seconds (which is what increase() is).
 */
function ratioSli(m: NonNullable<SloIndicator['ratioMetric']>): SliQueries {
  // a newline before ")" so that a trailing PromQL "# comment" does not swallow it
  const at = (q: string, w: string) => {
    const text = q.trim().split('$window').join(w);
    return /[#\n]/.test(text) ? `(\n${indented(text)}\n)` : `(${text})`;
  };
  return {
    byPool: false,
    errorRatio: (w) =>
      m.good !== undefined
        ? oneMinusGood(at(m.good, w), at(m.total, w))
        : `${orElse(at(m.bad as string, w), `${at(m.total, w)} * 0`)}\n/\n${at(m.total, w)}`,
    events: (w) => `${at(m.total, w)} * ${windowSeconds(w)}`,
  };
}

function sliOf(o: SloObjective, at: string): SliQueries {
  const ind = o.indicator;
  if (ind.ratioMetric) {
    const { good, bad, total } = ind.ratioMetric;
    if (![good ?? bad, total].every((q) => q?.includes('$window')))
      throw new SloDocumentError(`${at}.ratioMetric: good/bad and total must use [$window]`);
    return ratioSli(ind.ratioMetric);
  }
  switch (ind.builtin) {
    case 'submissions_accepted':
      return submissionsSli();
    case 'pickup_latency':
      return latencySli('jr_dispatch_latency_seconds', 'jr_dispatch_latency_seconds_count', ind);
    case 'canary_success':
      return latencySli('jr_canary_duration_seconds', 'jr_canaries_total', ind);
    case undefined:
      throw new SloDocumentError(`${at}: neither builtin nor ratioMetric`);
  }
}

// ---- names, texts ----

const RECORD_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const ALERT_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const recordName = (o: SloObjective, what: string, w: string) => `jr_slo:${o.name.replace(/-/g, '_')}:${what}${w}`;
const pascal = (name: string) =>
  name
    .split('-')
    .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
    .join('');
/** `JrSloPickup2sBurnRate14x`: the factor's whole part names the pair (stable: 14x, 6x, 1x). */
export const sloAlertName = (o: SloObjective, w: BurnRateWindow) =>
  `JrSlo${pascal(o.name)}BurnRate${Math.floor(w.factor)}x`;

/** Every window a record is needed for, shortest first. */
function windowsUsed(): string[] {
  const all = [...new Set(BURN_RATE_WINDOWS.flatMap((w) => [w.short, w.long]))];
  return all.sort((a, b) => windowSeconds(a) - windowSeconds(b));
}

function formatWindow(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
  ] as const)
    if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms / 1_000}s`;
}

const pct = (ratio: number) => `${Number((ratio * 100).toPrecision(4))} %`;
/** User text in an annotation: one line, and no "{{" that Prometheus would read as a template action. */
const plainText = (s: string) => s.replace(/\s+/g, ' ').trim().replaceAll('{{', '{{ "{{" }}');

function annotations(o: SloObjective, w: BurnRateWindow, byPool: boolean): Record<string, string> {
  const window = formatWindow(o.windowMs);
  const where = byPool ? ' in pool {{ $labels.pool }}' : '';
  const spent = (w.factor * windowSeconds(w.long) * 1_000) / o.windowMs;
  return {
    summary: `SLO ${o.name}${where}: error budget burning ${Math.floor(w.factor)}x (${w.long} and ${w.short} windows)`,
    description:
      `${plainText(o.displayName)} (target ${pct(o.target)} over ${window}): more than ` +
      `${pct(w.factor * (1 - o.target))} of the events${where} were bad over the last ${w.long} and still are over ` +
      `the last ${w.short}, a burn rate of ${w.factor} (1 spends the whole budget in ${window}); ` +
      `at this rate ${pct(spent)} of the budget goes in ${w.long}.`,
    runbook: SLO_RUNBOOK,
  };
}

// ---- rules ----

// type aliases, not interfaces: they must be assignable to YamlValue
type RecordRule = { record: string; expr: string };
type AlertRule = {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
};
type RuleGroup = { name: string; rules: Array<RecordRule | AlertRule> };

/** Long AND short window above factor × budget, AND enough events in the long window (low-traffic guard). */
function alertRule(o: SloObjective, w: BurnRateWindow, byPool: boolean): AlertRule {
  const threshold = `${w.factor} * (1 - ${o.target})`;
  const expr = [
    `${recordName(o, 'error_ratio_rate', w.long)} > ${threshold}`,
    `${recordName(o, 'error_ratio_rate', w.short)} > ${threshold}`,
    `${recordName(o, 'events_increase', w.long)} >= ${o.minEvents}`,
  ].join('\nand\n');
  return {
    alert: sloAlertName(o, w),
    expr: `${expr}\n`,
    for: w.for,
    labels: { severity: w.severity, slo: o.name, long_window: w.long, short_window: w.short },
    annotations: annotations(o, w, byPool),
  };
}

function objectiveGroup(o: SloObjective, at: string): RuleGroup {
  const sli = sliOf(o, at);
  const ratios = windowsUsed().map((w) => ({
    record: recordName(o, 'error_ratio_rate', w),
    expr: `${sli.errorRatio(w)}\n`,
  }));
  const events = [...new Set(BURN_RATE_WINDOWS.map((w) => w.long))].map((w) => ({
    record: recordName(o, 'events_increase', w),
    expr: `${sli.events(w)}\n`,
  }));
  const alerts = BURN_RATE_WINDOWS.map((w) => alertRule(o, w, sli.byPool));
  return { name: `jr-slo-${o.name}`, rules: [...ratios, ...events, ...alerts] };
}

/** Names must be valid for Prometheus and distinct ("pickup-2s" and "pickup2s" would share alert names). */
function checkNames(groups: RuleGroup[]): void {
  const seen = new Set<string>();
  for (const rule of groups.flatMap((g) => g.rules)) {
    const [name, re] = 'record' in rule ? [rule.record, RECORD_RE] : [rule.alert, ALERT_RE];
    if (!re.test(name)) throw new SloDocumentError(`"${name}" is not a valid Prometheus name`);
    if (seen.has(name)) throw new SloDocumentError(`two objectives give the rule name "${name}"`);
    seen.add(name);
  }
}

function header(doc: SloDocument): string {
  const lines = [
    `Prometheus rules for the service levels "${doc.name}", generated by generateSloRules`,
    '(libs/contracts/src/slo-rules.ts) from these objectives; regenerate rather than edit:',
    ...doc.objectives.map(
      (o) =>
        `  ${o.name}: ${plainText(o.displayName)} (target ${o.target}, window ${formatWindow(o.windowMs)}, ` +
        `at least ${o.minEvents} events)`,
    ),
    'Multi-window, multi-burn-rate alerts (Google SRE workbook): an alert fires while the error ratio over',
    'both its long and its short window exceeds factor x (1 - target), and the long window saw at least',
    'minEvents events (low traffic: a couple of failures is no trend). Pairs (long/short, factor, severity):',
    ...BURN_RATE_WINDOWS.map((w) => `  ${w.long}/${w.short} x${w.factor} ${w.severity}, for ${w.for}`),
    "The factors are relative to each objective's own window (1 spends exactly its budget over that window);",
    'they are the workbook values for 30 days, kept as they are for other windows.',
    'A window without events gives 0/0 = NaN, which compares false: no alert.',
  ];
  return lines.map((l) => `# ${l}`.trimEnd()).join('\n');
}

export function generateSloRules(doc: SloDocument): string {
  const groups = doc.objectives.map((o, i) => objectiveGroup(o, `objectives.${i} (${o.name})`));
  checkNames(groups);
  return `${header(doc)}\n${toYaml({ groups }).join('\n')}\n`;
}

// ---- a small deterministic YAML emitter (block style; literal blocks for multi-line text) ----

type YamlValue = string | number | YamlValue[] | { [key: string]: YamlValue };

const RESERVED = /^(true|false|yes|no|on|off|y|n|null|~)$/i;
function scalar(v: string | number): string {
  if (typeof v === 'number') return String(v);
  if ((/^[A-Za-z_][\w.:/-]*$/.test(v) || /^\d+(ms|s|m|h|d)$/.test(v)) && !RESERVED.test(v)) return v;
  // eslint-disable-next-line no-control-regex
  return /[\x00-\x1f\x7f]/.test(v) ? JSON.stringify(v) : `'${v.replace(/'/g, "''")}'`;
}

/** Literal block (`|`) when the text allows it: no leading space, no control characters but tab and newline. */
function literalBlock(key: string, v: string, indent: string): string[] | undefined {
  // eslint-disable-next-line no-control-regex
  if (!v.includes('\n') || /^\s/.test(v) || /\n\n$/.test(v) || /[\x00-\x08\x0b-\x1f\x7f]/.test(v)) return undefined;
  const body = v.endsWith('\n') ? v.slice(0, -1) : v;
  const lines = body.split('\n').map((l) => (l === '' ? '' : `${indent}  ${l}`));
  return [`${indent}${key}: ${v.endsWith('\n') ? '|' : '|-'}`, ...lines];
}

function mapEntry(key: string, v: YamlValue, indent: string): string[] {
  if (typeof v === 'string') return literalBlock(key, v, indent) ?? [`${indent}${key}: ${scalar(v)}`];
  if (typeof v === 'number') return [`${indent}${key}: ${scalar(v)}`];
  const empty = Array.isArray(v) ? v.length === 0 : Object.keys(v).length === 0;
  if (empty) return [`${indent}${key}: ${Array.isArray(v) ? '[]' : '{}'}`];
  return [`${indent}${key}:`, ...toYaml(v, `${indent}  `)];
}

function toYaml(v: YamlValue, indent = ''): string[] {
  if (typeof v !== 'object') return [`${indent}${scalar(v)}`];
  if (!Array.isArray(v)) return Object.entries(v).flatMap(([k, x]) => mapEntry(k, x, indent));
  return v.flatMap((item) => {
    const lines = toYaml(item, `${indent}  `);
    return [`${indent}- ${(lines[0] as string).slice(indent.length + 2)}`, ...lines.slice(1)];
  });
}
