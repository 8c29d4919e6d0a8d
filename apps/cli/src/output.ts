import { formatDurationMs } from '@jr/contracts';

/** A writable the CLI prints to: process.stdout/stderr, or a collector in tests. */
export interface OutStream {
  write(chunk: string | Uint8Array): boolean;
  once?(event: 'drain', listener: () => void): unknown;
  isTTY?: boolean;
}

export interface InStream {
  [Symbol.asyncIterator](): AsyncIterator<string | Uint8Array>;
}

/** Everything a command touches of the outside world besides the API. */
export interface Io {
  stdout: OutStream;
  stderr: OutStream;
  stdin?: InStream;
  env: Record<string, string | undefined>;
  /** Calls `handler` on Ctrl-C (SIGINT) until the returned function is called; absent: the default (the process dies). */
  onInterrupt?: (handler: () => void) => () => void;
}

/** Writes a chunk, waiting for 'drain' when the stream asks us to (large logs into a slow pipe). */
export async function writeAll(stream: OutStream, chunk: string | Uint8Array): Promise<void> {
  if (stream.write(chunk) || !stream.once) return;
  await new Promise<void>((resolve) => stream.once?.('drain', resolve));
}

/** Exactly one JSON document on stdout (the `--json` promise). */
export function printJson(io: Io, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A human status line on stderr. */
export function say(io: Io, line: string): void {
  io.stderr.write(`${line}\n`);
}

/**
 * Text from the API shown in tables and status lines: control characters (terminal escape
 * sequences included) are replaced so a hostile job name cannot rewrite the user's terminal.
 */
export function clean(value: unknown, maxLength = 80): string {
  const text = value === null || value === undefined ? '-' : typeof value === 'string' ? value : JSON.stringify(value);
  // eslint-disable-next-line no-control-regex
  const safe = text.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/g, '?');
  return safe.length > maxLength ? `${safe.slice(0, maxLength - 1)}…` : safe;
}

/** Colours a body cell after its width is measured: (row index, column index, text) → text to print. */
export type CellPaint = (row: number, col: number, text: string) => string;

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function formatTable(
  headers: readonly string[],
  rows: ReadonlyArray<readonly string[]>,
  paint?: CellPaint,
): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[], row: number): string =>
    cells
      .map((c, i) => {
        const text = row >= 0 && paint ? paint(row, i, c) : c;
        return i === cells.length - 1 ? text : text + ' '.repeat(Math.max(0, (widths[i] ?? 0) - c.length));
      })
      .join('  ')
      .trimEnd();
  return [line(headers, -1), ...rows.map(line)].join('\n') + '\n';
}

/** "3m12s ago" from an ISO timestamp; "-" when absent or unreadable. */
export function age(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return '-';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '-';
  return `${formatDurationMs(Math.max(0, now - t))} ago`;
}

/** Duration between two ISO timestamps, or "-". */
export function between(startIso: string | null | undefined, endIso: string | null | undefined): string {
  if (!startIso || !endIso) return '-';
  const ms = Date.parse(endIso) - Date.parse(startIso);
  return Number.isNaN(ms) || ms < 0 ? '-' : formatDurationMs(ms);
}

/** ISO timestamp trimmed to seconds, or "-". */
export function timestamp(iso: string | null | undefined): string {
  if (!iso) return '-';
  const t = Date.parse(iso);
  return Number.isNaN(t) ? '-' : new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function formatLabels(labels: Record<string, string> | undefined): string {
  const entries = Object.entries(labels ?? {});
  return entries.length === 0 ? '-' : entries.map(([k, v]) => `${k}=${v}`).join(',');
}
