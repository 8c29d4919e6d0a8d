/** The one table `npm run bench` prints: a row per figure, a row per failed or skipped section. */
import type { Figure, SectionResult } from './report';

const HEADER = ['section', 'figure', 'value', 'unit', 'reference', 'ratio'];

/** A figure without samples (NaN: e.g. no heartbeat was answered at all) reads "none", not "NaN". */
export function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'none';
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  if (abs >= 1_000) return Math.round(n).toLocaleString('en-US');
  if (abs >= 100) return n.toFixed(0);
  if (abs >= 10) return n.toFixed(1);
  if (abs >= 1) return n.toFixed(2);
  return n.toPrecision(2);
}

function figureRow(section: string, f: Figure): string[] {
  const reference = f.reference ? `${formatNumber(f.reference.value)} ${f.reference.label}` : '';
  const ratio =
    f.ratio === undefined || !Number.isFinite(f.ratio)
      ? ''
      : `${f.ratio >= 10 ? f.ratio.toFixed(0) : f.ratio.toFixed(2)}x`;
  return [section, f.label, formatNumber(f.value), f.unit, reference, ratio];
}

function rows(results: readonly SectionResult[]): string[][] {
  const out: string[][] = [];
  for (const r of results) {
    if (r.error !== undefined) out.push([r.id, `FAILED: ${firstLine(r.error)}`, '', '', '', '']);
    else if (r.skipped !== undefined) out.push([r.id, `skipped: ${r.skipped}`, '', '', '', '']);
    for (const f of r.figures) out.push(figureRow(r.id, f));
  }
  return out;
}

function firstLine(text: string): string {
  const line = text.split('\n')[0] ?? '';
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

/** Fixed-width columns, numbers right-aligned, with a rule under the header. */
export function renderTable(results: readonly SectionResult[]): string {
  const body = rows(results);
  const widths = HEADER.map((h, c) => Math.max(h.length, ...body.map((r) => (r[c] ?? '').length)));
  const numeric = new Set([2, 5]);
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => (numeric.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  return [line(HEADER), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}
