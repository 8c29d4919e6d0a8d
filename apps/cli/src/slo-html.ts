import { formatDurationMs, type Distribution, type SloObjectiveReport, type SloReport } from '@jr/contracts';
import { timestamp } from './output';
import { attainmentChart, budgetChart, escapeHtml, incidentsChart } from './slo-charts';
import { formatBurn, formatPercent, formatSpan, formatTarget, incidentDuration, lastIncidents } from './slo-render';

// `jr slo report --html`: one page that is the whole report. Self-contained on purpose: it is mailed,
// attached to incident reviews and opened years later, so it loads nothing (no fonts, scripts, images
// from anywhere) and its Content-Security-Policy forbids any fetch should someone edit a link in.

export interface SloHtmlOptions {
  title?: string;
  generatedAt?: Date;
}

/** Incident rows the page lists (the timeline shows them all); beyond that `jr incidents --json`. */
export const MAX_INCIDENT_ROWS = 500;

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;margin:24px auto;max-width:960px;padding:0 16px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 8px;border-bottom:1px solid #d8dee4}h3{font-size:15px;margin:20px 0 4px}
.meta,.empty,.sub{color:#57606a}.empty{font-style:italic;padding:12px;background:#f6f8fa}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:8px;margin:16px 0}
.kpis div{background:#f6f8fa;padding:8px 12px;border-radius:6px}.kpis dt{color:#57606a;font-size:12px}.kpis dd{margin:0;font-size:20px}
table{border-collapse:collapse;margin:8px 0}th,td{padding:3px 10px;text-align:left;border-bottom:1px solid #eaeef2;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums}.met{color:#1a7f37}.missed{color:#cf222e}
svg.chart{display:block;width:100%;height:auto;margin:6px 0}td.when{white-space:nowrap}
`;

const esc = escapeHtml;
const td = (text: string, cls = ''): string => `<td${cls ? ` class="${cls}"` : ''}>${esc(text)}</td>`;
const th = (labels: string[]): string => `<tr>${labels.map((l) => `<th>${esc(l)}</th>`).join('')}</tr>`;
const table = (head: string[], rows: string[]): string => `<table>${th(head)}${rows.join('')}</table>`;
const empty = (what: string, why: string): string => `<p class="empty" data-empty="${what}">${esc(why)}</p>`;

/** "99.95 %", or — with a reason, as in the text report. */
const pct = (v: number | null, reason = ''): string =>
  v === null ? `—${reason ? ` (${reason})` : ''}` : formatPercent(v);

function kpi(label: string, value: string): string {
  return `<div><dt>${esc(label)}</dt><dd>${esc(value)}</dd></div>`;
}

/** Title, window, when it was made, and the headline numbers. */
function header(r: SloReport, title: string, generatedAt: Date): string {
  const noOutage = r.incidents.some((i) => i.outage) ? 'no outage ended yet' : 'no outage';
  const kpis = [
    kpi('availability (uptime ÷ (uptime + downtime))', formatPercent(r.availability)),
    kpi('availability (MTBF ÷ (MTBF + MTTR))', pct(r.availabilityFromMtbf, noOutage)),
    kpi('theoretical (product of dependencies)', pct(r.theoretical.availability, 'no dependencies listed')),
    kpi('downtime', r.downtimeMs > 0 ? formatDurationMs(r.downtimeMs) : '— (no outage)'),
  ];
  const window = `window ${timestamp(r.window.from)} → ${timestamp(r.window.to)} (${formatSpan(r.window.ms)})`;
  return [
    `<header><h1>${esc(title)}</h1>`,
    `<p class="meta">${esc(window)} · generated ${esc(timestamp(generatedAt.toISOString()))}</p>`,
    `<dl class="kpis">${kpis.join('')}</dl></header>`,
  ].join('\n');
}

function metCell(met: boolean | null): string {
  if (met === null) return td('—');
  return met ? td('✓ met', 'met') : td('✗ missed', 'missed');
}

function objectiveRow(o: SloObjectiveReport): string {
  const cells = [
    td(o.displayName),
    td(formatTarget(o.target), 'num'),
    td(pct(o.attainment, 'no events'), 'num'),
    td(o.budgetRemaining === null ? '—' : formatPercent(o.budgetRemaining, 1), 'num'),
    td(o.burnRate === null ? '—' : formatBurn(o.burnRate), 'num'),
    td(`${o.good}/${o.total}`, 'num'),
    metCell(o.met),
  ];
  return `<tr>${cells.join('')}</tr>`;
}

/** One objective: its numbers, then its two charts, or why there is nothing to draw. */
function objectiveSection(o: SloObjectiveReport, r: SloReport): string {
  const hasEvents = o.series.some((b) => b.total > 0);
  const sub = `${o.name} · ${o.sli} · target ${formatTarget(o.target)} · attainment ${pct(o.attainment, 'no events')}`;
  const why = 'No events in the window: nothing to chart yet.';
  return [
    `<section class="objective" id="objective-${esc(o.name)}">`,
    `<h3>${esc(o.displayName)}</h3><p class="sub">${esc(sub)}</p>`,
    hasEvents ? attainmentChart(o, r.window) : empty('attainment', why),
    hasEvents ? budgetChart(o, r.window) : empty('budget', why),
    `</section>`,
  ].join('\n');
}

function distributionRow(label: string, d: Distribution | null, reason: string): string {
  if (d === null) return `<tr>${td(label)}<td colspan="5" class="sub">${esc(`— (${reason})`)}</td></tr>`;
  const f = formatDurationMs;
  const cells = [f(d.p50Ms), f(d.p90Ms), f(d.maxMs), f(d.meanMs), String(d.count)].map((v) => td(v, 'num'));
  return `<tr>${td(label)}${cells.join('')}</tr>`;
}

/** MTBF/MTTR and the dependencies behind the theoretical availability. */
function reliabilitySection(r: SloReport): string {
  const outages = r.incidents.filter((i) => i.outage).length;
  const rows = [
    distributionRow('MTBF (uptime between outages)', r.mtbf, outages < 2 ? 'fewer than two outages' : 'not measured'),
    distributionRow('MTTR (outage duration)', r.mttr, outages === 0 ? 'no outage' : 'no outage ended yet'),
  ];
  const deps = r.theoretical.dependencies.map(
    (d) =>
      `<tr>${td(d.name)}${td(formatPercent(d.availability), 'num')}${td(pct(d.measured, 'not measured'), 'num')}</tr>`,
  );
  return [
    `<section id="reliability"><h2>MTBF and MTTR</h2>`,
    table(['', 'p50', 'p90', 'max', 'mean', 'count'], rows),
    `<h3>Theoretical availability: ${esc(pct(r.theoretical.availability, 'no dependencies listed'))}</h3>`,
    `<p class="sub">${esc(`The product of the dependencies' published availability, beside the measured ${formatPercent(r.availability)}.`)}</p>`,
    deps.length > 0
      ? table(['dependency', 'published', 'measured'], deps)
      : empty('dependencies', 'No dependencies listed.'),
    `</section>`,
  ].join('\n');
}

/** The timeline over the window, then the incidents newest first. */
function incidentsSection(r: SloReport): string {
  const list = lastIncidents(r.incidents, MAX_INCIDENT_ROWS);
  const rows = list.map((i) =>
    [
      `<tr class="${i.outage ? 'outage' : 'degraded'}">`,
      td(timestamp(i.startedAt), 'when'),
      td(incidentDuration(i), 'when'),
      td(i.outage ? 'outage' : 'degraded'),
      td(i.cause),
      td(i.scope),
      td(i.replica),
      td(i.detail),
      `</tr>`,
    ].join(''),
  );
  const more = r.incidents.length - list.length;
  return [
    `<section id="incidents"><h2>Incidents</h2>`,
    incidentsChart(r.incidents, r.window),
    rows.length > 0
      ? table(['started', 'duration', 'kind', 'cause', 'scope', 'replica', 'detail'], rows)
      : empty('incidents', 'No incidents in the window.'),
    more > 0 ? `<p class="sub">… ${more} more (jr incidents --json)</p>` : '',
    `</section>`,
  ].join('\n');
}

/** The whole report as one self-contained HTML page (inline CSS and SVG, nothing fetched). */
export function renderSloHtml(r: SloReport, opts: SloHtmlOptions = {}): string {
  const title = opts.title ?? 'jr service levels';
  const objectives =
    r.objectives.length > 0
      ? table(
          ['objective', 'target', 'attainment', 'budget left', 'burn', 'good/total', ''],
          r.objectives.map(objectiveRow),
        )
      : empty('objectives', 'No objectives.');
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${esc(title)}</title><style>${CSS}</style></head><body>`,
    header(r, title, opts.generatedAt ?? new Date()),
    `<section id="objectives"><h2>Objectives</h2>${objectives}`,
    ...r.objectives.map((o) => objectiveSection(o, r)),
    '</section>',
    incidentsSection(r),
    reliabilitySection(r),
    '</body></html>',
    '',
  ].join('\n');
}
