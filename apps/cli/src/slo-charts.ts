import type { Incident, SloObjectiveReport, SloReport } from '@jr/contracts';
import { formatDurationMs } from '@jr/contracts';
import { formatPercent } from './slo-render';

// Static inline SVG charts of the HTML report, drawn here rather than by a script in the page: the
// report must read the same with JavaScript off, in a mail client, or archived next to an incident
// review. Colours are presentation attributes (not page CSS) so a chart copied out alone still draws.

/** Text and attribute values in the page: names and details come from config files and error messages. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const W = 760;
const M = { left: 72, right: 20, top: 16, bottom: 44 };
const COLORS = { line: '#1f6feb', target: '#57606a', grid: '#d8dee4', text: '#424a53', zero: '#cf222e' };
const INCIDENT_COLORS = { outage: '#cf222e', degraded: '#d4a72c' };

type Window = SloReport['window'];

/** A chart's plot area: time on x over the report's window, a value range on y. */
interface Frame {
  from: number;
  to: number;
  lo: number;
  hi: number;
  height: number;
}

const num = (n: number): string => String(Math.round(n * 10) / 10);
const sx = (f: Frame, t: number): number =>
  M.left + ((t - f.from) / Math.max(1, f.to - f.from)) * (W - M.left - M.right);
const sy = (f: Frame, v: number): number =>
  f.height - M.bottom - ((v - f.lo) / (f.hi - f.lo || 1)) * (f.height - M.top - M.bottom);

function frameOf(w: Window, lo: number, hi: number, height = 240): Frame {
  return { from: Date.parse(w.from), to: Date.parse(w.to), lo, hi, height };
}

/** Time ticks at round UTC boundaries, at most eight of them over the window. */
export function timeTicks(from: number, to: number): Array<{ t: number; label: string }> {
  const H = 3_600_000;
  const steps = [H, 3 * H, 6 * H, 12 * H, 24 * H, 48 * H, 120 * H, 168 * H, 336 * H, 720 * H];
  const step = steps.find((s) => (to - from) / s <= 8) ?? 720 * H;
  const ticks: Array<{ t: number; label: string }> = [];
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) {
    const iso = new Date(t).toISOString();
    ticks.push({ t, label: step >= 24 * H ? iso.slice(5, 10) : `${iso.slice(5, 10)} ${iso.slice(11, 16)}` });
  }
  return ticks;
}

/**
 * Value ticks at a round step (1, 2, 2.5 or 5 times a power of ten, in percent) over [lo, hi], labelled
 * with as many decimals as the step needs: 99.8 %, 99.85 %, 99.9 % rather than 99.8125 %.
 */
export function valueTicks(lo: number, hi: number): Array<{ v: number; label: string }> {
  const raw = (hi - lo) / 5 || 0.01;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((k) => k * mag >= raw) ?? 10) * mag;
  const decimals = Math.max(0, -Math.floor(Math.log10(step * 100)) + (step / mag === 2.5 ? 1 : 0));
  const ticks: Array<{ v: number; label: string }> = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + 1e-12; k++) {
    // Multiples of the step, rounded: 0.1 + 0.2 must not print as 30.000000000000004 %.
    const v = Number((k * step).toFixed(12));
    ticks.push({ v, label: formatPercent(v, decimals) });
  }
  return ticks;
}

const text = (x: number, y: number, body: string, extra = ''): string =>
  `<text x="${num(x)}" y="${num(y)}" fill="${COLORS.text}" font-size="11"${extra}>${escapeHtml(body)}</text>`;

/** Grid, tick labels and axis titles; y ticks are optional (the incident band has lanes instead). */
function axes(f: Frame, yTitle: string, yTicks: Array<{ v: number; label: string }>): string {
  const bottom = f.height - M.bottom;
  const parts = [`<g class="axes">`];
  for (const { v, label } of yTicks) {
    parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${num(sy(f, v))}" y2="${num(sy(f, v))}"`);
    parts.push(` stroke="${COLORS.grid}"/>`, text(M.left - 6, sy(f, v) + 4, label, ' text-anchor="end"'));
  }
  for (const { t, label } of timeTicks(f.from, f.to)) {
    parts.push(`<line x1="${num(sx(f, t))}" x2="${num(sx(f, t))}" y1="${M.top}" y2="${bottom}"`);
    parts.push(` stroke="${COLORS.grid}"/>`, text(sx(f, t), bottom + 15, label, ' text-anchor="middle"'));
  }
  parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${bottom}" y2="${bottom}" stroke="${COLORS.text}"/>`);
  parts.push(text((M.left + W - M.right) / 2, f.height - 6, 'time (UTC)', ' text-anchor="middle"'));
  const mid = (M.top + bottom) / 2;
  if (yTitle) parts.push(text(14, mid, yTitle, ` text-anchor="middle" transform="rotate(-90 14 ${num(mid)})"`));
  return `${parts.join('')}</g>`;
}

function svg(kind: string, label: string, height: number, body: string): string {
  const open = `<svg class="chart" data-chart="${kind}" role="img" aria-label="${escapeHtml(label)}"`;
  const size = ` viewBox="0 0 ${W} ${height}" width="${W}" height="${height}">`;
  return `${open}${size}<title>${escapeHtml(label)}</title>${body}</svg>`;
}

/** A polyline as a path; `null` values are gaps (a new `M` starts after each), points get a dot each. */
function linePath(f: Frame, points: Array<{ t: number; v: number | null }>, color: string): string {
  let d = '';
  let pen = false;
  const dots: string[] = [];
  for (const { t, v } of points) {
    if (v === null) {
      pen = false;
      continue;
    }
    const [x, y] = [num(sx(f, t)), num(sy(f, Math.max(f.lo, v)))];
    d += `${pen ? 'L' : 'M'}${x} ${y} `;
    pen = true;
    dots.push(`<circle cx="${x}" cy="${y}" r="2" fill="${color}"/>`);
  }
  return `<path class="series" d="${d.trim()}" fill="none" stroke="${color}" stroke-width="2"/>${dots.join('')}`;
}

/** Each bucket's start and end (the next bucket's start, the last one's the window's end). */
function buckets(o: SloObjectiveReport, w: Window): Array<{ from: number; to: number; good: number; total: number }> {
  return o.series.map((b, i) => ({
    from: Date.parse(b.from),
    to: Date.parse(o.series[i + 1]?.from ?? w.to),
    good: b.good,
    total: b.total,
  }));
}

/** A horizontal reference line across the plot with its label at the right end. */
function hline(f: Frame, v: number, color: string, label: string, dashed: boolean): string {
  const y = num(sy(f, v));
  const dash = dashed ? ' stroke-dasharray="6 4"' : '';
  return `<line class="reference" x1="${M.left}" x2="${W - M.right}" y1="${y}" y2="${y}" stroke="${color}"${dash}/>${text(W - M.right - 4, sy(f, v) - 4, label, ' text-anchor="end"')}`;
}

/** Attainment (good ÷ total) per bucket, plotted at the bucket's middle, with the target dashed. */
export function attainmentChart(o: SloObjectiveReport, w: Window): string {
  const points = buckets(o, w).map((b) => ({ t: (b.from + b.to) / 2, v: b.total > 0 ? b.good / b.total : null }));
  const values = points.flatMap((p) => (p.v === null ? [] : [p.v]));
  // Room under the target for twice the allowed error, so a line sitting on the target is not on the floor.
  const floor = Math.min(o.target - 2 * (1 - o.target), ...values);
  const lo = Math.max(0, floor - (1 - floor) * 0.1);
  const f = frameOf(w, lo, 1);
  const body = [
    axes(f, 'attainment', valueTicks(lo, 1)),
    hline(f, o.target, COLORS.target, `target ${formatPercent(o.target, 0)}`, true),
    linePath(f, points, COLORS.line),
  ];
  const label = `${o.displayName}: attainment per bucket against the target of ${formatPercent(o.target, 0)}`;
  return svg('attainment', label, f.height, body.join(''));
}

/**
 * Error budget left over the window, cumulative from its start: 1 − (bad ÷ total so far) ÷ (1 − target).
 * It starts at 100 % (nothing spent), drops with each bad event and goes below 0 when overspent.
 */
export function budgetPoints(o: SloObjectiveReport, w: Window): Array<{ t: number; v: number }> {
  let good = 0;
  let total = 0;
  const points = [{ t: Date.parse(w.from), v: 1 }];
  for (const b of buckets(o, w)) {
    good += b.good;
    total += b.total;
    points.push({ t: b.to, v: total === 0 ? 1 : 1 - (1 - good / total) / (1 - o.target) });
  }
  return points;
}

export function budgetChart(o: SloObjectiveReport, w: Window): string {
  const points = budgetPoints(o, w);
  const lo = Math.min(0, ...points.map((p) => p.v));
  const f = frameOf(w, lo - (1 - lo) * 0.05, 1, 200);
  const body = [
    axes(f, 'budget left', valueTicks(f.lo, 1)),
    hline(f, 0, COLORS.zero, 'budget spent', false),
    linePath(f, points, COLORS.line),
  ];
  const last = points[points.length - 1]?.v ?? 1;
  return svg(
    'budget',
    `${o.displayName}: error budget left, ${formatPercent(last, 1)} at the end`,
    f.height,
    body.join(''),
  );
}

/** One bar per incident: outages in the upper lane (red), degradations in the lower (amber). */
function incidentBar(f: Frame, i: Incident): string {
  const start = Math.max(f.from, Date.parse(i.startedAt));
  const end = Math.min(f.to, i.endedAt === null ? f.to : Date.parse(i.endedAt));
  // At least 3 px: a 20-second outage in a 30-day window is still worth seeing.
  const width = Math.max(3, sx(f, end) - sx(f, start));
  const [y, color] = i.outage ? [M.top + 4, INCIDENT_COLORS.outage] : [M.top + 38, INCIDENT_COLORS.degraded];
  const how = i.endedAt === null ? `ongoing, ${formatDurationMs(i.durationMs)} so far` : formatDurationMs(i.durationMs);
  const tip = `${i.outage ? 'outage' : 'degraded'}: ${i.cause} ${i.scope}, ${i.startedAt} (${how}) ${i.detail}`;
  const cls = `incident ${i.outage ? 'outage' : 'degraded'}${i.endedAt === null ? ' ongoing' : ''}`;
  return `<rect class="${cls}" x="${num(sx(f, start))}" y="${y}" width="${num(width)}" height="28" fill="${color}"><title>${escapeHtml(tip)}</title></rect>`;
}

/** The incidents timeline over the window; an empty band says so instead of looking broken. */
export function incidentsChart(list: readonly Incident[], w: Window): string {
  const f = frameOf(w, 0, 1, 130);
  const lanes = [
    `<rect class="band" x="${M.left}" y="${M.top}" width="${W - M.left - M.right}" height="${f.height - M.bottom - M.top}" fill="#f6f8fa"/>`,
    text(M.left - 6, M.top + 22, 'outages', ' text-anchor="end"'),
    text(M.left - 6, M.top + 56, 'degraded', ' text-anchor="end"'),
  ];
  // Only what overlaps the window (the API's list does; a hand-made report may not).
  const shown = list.filter(
    (i) => Date.parse(i.startedAt) < f.to && (i.endedAt === null || Date.parse(i.endedAt) > f.from),
  );
  const bars = shown.map((i) => incidentBar(f, i));
  const empty =
    shown.length === 0
      ? [text((M.left + W - M.right) / 2, M.top + 40, 'no incidents in the window', ' text-anchor="middle"')]
      : [];
  const label = `incidents over the window: ${list.filter((i) => i.outage).length} outages, ${list.filter((i) => !i.outage).length} degraded`;
  return svg('incidents', label, f.height, [...lanes, axes(f, '', []), ...bars, ...empty].join(''));
}
