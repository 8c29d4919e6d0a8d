import {
  formatDurationMs,
  type Distribution,
  type Incident,
  type SloObjectiveReport,
  type SloReport,
} from '@jr/contracts';
import { clean, formatTable, timestamp } from './output';

// Human text of `jr slo` and `jr incidents`. Every number the API sends may be null (no events, no
// outage yet): those print as "—" with the reason, never as 0, which would read as "measured and bad".

/** Incidents `jr slo` lists after the numbers; `jr incidents` shows them all. */
export const LAST_INCIDENTS = 10;

/** Decimals tried before a ratio near 100 % is truncated instead (0.9999999999 is not worth 10 digits). */
const MAX_DECIMALS = 8;

/**
 * A ratio as a percentage, `decimals` places by default but as many more as it takes (up to
 * MAX_DECIMALS) for a value below 1 not to print as 100 % and one above 0 not to print as 0 %:
 * 0.999 → "99.90 %", 0.999996 → "99.9996 %". Someone reading an SLO report must never see 100 %
 * while budget was spent.
 */
export function formatPercent(ratio: number, decimals = 2): string {
  const misleading = (text: string): boolean =>
    (ratio < 1 && Number(text) >= 100) || (ratio > 0 && Number(text) <= 0) || (ratio < 0 && Number(text) >= 0);
  let d = decimals;
  let text = (ratio * 100).toFixed(d);
  while (misleading(text) && d < MAX_DECIMALS) text = (ratio * 100).toFixed(++d);
  // Still rounding to 100: truncate, so the digits shown are all 9s and honest.
  if (misleading(text)) text = (Math.trunc(ratio * 100 * 10 ** d) / 10 ** d).toFixed(d);
  return `${text} %`;
}

/** A target is a round number by nature (99.9 %): no padding zeros, but the same never-100 rule. */
export function formatTarget(target: number): string {
  return formatPercent(target, 0)
    .replace(/(\.\d*?)0+ %$/, '$1 %')
    .replace(/\. %$/, ' %');
}

/** `0.4x`, `1.3x`, `12x`: how fast the error budget burns (1x spends it exactly in the window). */
export function formatBurn(rate: number): string {
  const fixed = rate >= 10 ? rate.toFixed(0) : rate >= 1 ? rate.toFixed(1) : rate.toFixed(2);
  return `${fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed}x`;
}

/** Whole days print as `30d` (a window), anything else in the CLI's usual `1h2m3s`. */
export function formatSpan(ms: number): string {
  return ms >= 86_400_000 && ms % 86_400_000 === 0 ? `${ms / 86_400_000}d` : formatDurationMs(ms);
}

/** `—`, or `— (reason)` where the reason helps. */
const none = (reason?: string): string => (reason ? `— (${reason})` : '—');

function objectiveRow(o: SloObjectiveReport): string[] {
  const measured = o.attainment !== null;
  return [
    clean(o.name, 40),
    formatTarget(o.target),
    measured ? formatPercent(o.attainment as number) : none('no events'),
    o.budgetRemaining === null ? none() : formatPercent(o.budgetRemaining, 1),
    o.burnRate === null ? none() : formatBurn(o.burnRate),
    `${o.good}/${o.total}`,
    o.met === null ? none() : o.met ? '✓' : '✗',
  ];
}

/** The objectives table of `jr slo`. */
export function renderObjectives(objectives: readonly SloObjectiveReport[]): string {
  if (objectives.length === 0) return 'objectives: none\n';
  const headers = ['OBJECTIVE', 'TARGET', 'ATTAINMENT', 'BUDGET LEFT', 'BURN', 'GOOD/TOTAL', 'MET'];
  return formatTable(headers, objectives.map(objectiveRow));
}

/** `p50 4m0s  p90 12m0s  max 30m0s  (mean 7m30s, 5 outages)`, or why there is nothing. */
export function formatDistribution(d: Distribution | null, noun: string, reason: string): string {
  if (d === null) return none(reason);
  const f = formatDurationMs;
  const counted = `${d.count} ${noun}${d.count === 1 ? '' : 's'}`;
  return `p50 ${f(d.p50Ms)}  p90 ${f(d.p90Ms)}  max ${f(d.maxMs)}  (mean ${f(d.meanMs)}, ${counted})`;
}

/** Outages in the report: tells "no outage at all" from "not enough of them" for the null MTBF. */
const outageCount = (r: SloReport): number => r.incidents.filter((i) => i.outage).length;

/**
 * The availability block: measured both ways, downtime, MTBF/MTTR, and the theoretical model (the
 * product of the dependencies' published figures: what jr could reach at best) beside the measured one.
 */
export function renderAvailability(r: SloReport): string {
  const outages = outageCount(r);
  const noOutage = outages === 0 ? 'no outage' : 'no outage ended yet';
  const fromMtbf = r.availabilityFromMtbf === null ? none(noOutage) : formatPercent(r.availabilityFromMtbf);
  const downtime = `${formatDurationMs(r.downtimeMs)} in ${outages} outage${outages === 1 ? '' : 's'}`;
  const lines: Array<[string, string]> = [
    ['availability', `${formatPercent(r.availability)}  (uptime ÷ (uptime + downtime))`],
    ['', `${fromMtbf}  (MTBF ÷ (MTBF + MTTR))`],
    ['downtime', r.downtimeMs > 0 ? downtime : none('no outage')],
    ['MTBF', formatDistribution(r.mtbf, 'interval', outages < 2 ? 'fewer than two outages' : 'not measured')],
    ['MTTR', formatDistribution(r.mttr, 'outage', noOutage)],
    ['theoretical', theoreticalLine(r)],
  ];
  const width = Math.max(...lines.map(([k]) => k.length));
  const block = lines.map(([k, v]) => `${k.padEnd(width)}  ${v}`.trimEnd()).join('\n');
  return `${block}\n${renderDependencies(r)}`;
}

function theoreticalLine(r: SloReport): string {
  const { availability, dependencies } = r.theoretical;
  if (availability === null) return none('no dependencies listed');
  const n = dependencies.length;
  return `${formatPercent(availability)}  (product of ${n} dependenc${n === 1 ? 'y' : 'ies'}; measured ${formatPercent(r.availability)})`;
}

/** Each dependency with its published availability and the one jr measured of it. */
export function renderDependencies(r: SloReport): string {
  const { dependencies } = r.theoretical;
  if (dependencies.length === 0) return '';
  const rows = dependencies.map((d) => [
    clean(d.name, 64),
    formatPercent(d.availability),
    d.measured === null ? none('not measured') : formatPercent(d.measured),
  ]);
  return indent(formatTable(['DEPENDENCY', 'PUBLISHED', 'MEASURED'], rows));
}

/** How long an incident lasted, or that it still lasts. */
export function incidentDuration(i: Incident): string {
  return i.endedAt === null ? `ongoing (${formatDurationMs(i.durationMs)} so far)` : formatDurationMs(i.durationMs);
}

/** `jr incidents`: one row per incident, in the order given (the API sends newest first). */
export function renderIncidents(list: readonly Incident[]): string {
  if (list.length === 0) return 'incidents: none\n';
  const rows = list.map((i) => [
    timestamp(i.startedAt),
    incidentDuration(i),
    `${clean(i.cause, 40)}${i.outage ? '' : ' (degraded)'}`,
    clean(i.scope, 40),
    clean(i.detail, 100),
  ]);
  return formatTable(['STARTED', 'DURATION', 'CAUSE', 'SCOPE', 'DETAIL'], rows);
}

/** The LAST_INCIDENTS most recent incidents, newest first, whatever order the report holds them in. */
export function lastIncidents(list: readonly Incident[], n = LAST_INCIDENTS): Incident[] {
  return [...list].sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt)).slice(0, n);
}

/** The whole `jr slo` report. */
export function renderSloTable(r: SloReport): string {
  const window = `window: ${timestamp(r.window.from)} → ${timestamp(r.window.to)} (${formatSpan(r.window.ms)})`;
  const shown = lastIncidents(r.incidents);
  const more = r.incidents.length > shown.length ? ` (last ${shown.length} of ${r.incidents.length})` : '';
  const incidents =
    r.incidents.length === 0 ? 'incidents: none\n' : `incidents${more}:\n${indent(renderIncidents(shown))}`;
  return [`${window}\n`, renderObjectives(r.objectives), renderAvailability(r), incidents].join('\n');
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => (l === '' ? l : `  ${l}`))
    .join('\n');
}
