/**
 * How a job's stored events become the text of `GET /v1/jobs/:id/logs` (pure, no I/O): the log
 * chunks' bytes in (attempt, seq) order, `--- attempt N ---` before every attempt after the first,
 * and with markers `--- step N/M: NAME ---` before each step's output. The SSE form is the UTF-8
 * decoding of exactly these bytes, page by page, so both forms say the same thing.
 */

export interface LogEventRow {
  attempt: number;
  /** bigint, as node-postgres returns it. */
  seq: string;
  kind: 'log' | 'step_started';
  step: number;
  detail: { name?: unknown; try?: unknown } | null;
  data: Buffer | null;
}

/** Where a reader stands: after (attempt, seq); `midLine` when the last byte sent was not a newline. */
export interface LogPosition {
  attempt: number;
  seq: number;
  midLine: boolean;
}

export const START: LogPosition = { attempt: 0, seq: 0, midLine: false };

export interface RenderOptions {
  markers: boolean;
  /** Steps in the job's spec (the M of "step N/M"). */
  steps: number;
}

/** The bytes one stored event adds to the log, given where the reader stands. */
export function renderEvent(
  row: LogEventRow,
  at: LogPosition,
  o: RenderOptions,
): { pieces: Buffer[]; next: LogPosition } {
  const pieces: Buffer[] = [];
  let midLine = at.midLine;
  const line = (text: string): void => {
    // with markers (for people) a header always starts on its own line; without, the text stays as it always was
    pieces.push(Buffer.from(`${o.markers && midLine ? '\n' : ''}${text}\n`, 'utf8'));
    midLine = false;
  };
  if (row.attempt > 1 && row.attempt !== at.attempt) line(`--- attempt ${row.attempt} ---`);
  if (row.kind === 'step_started' && o.markers) line(stepMarker(row, o.steps));
  if (row.kind === 'log' && row.data && row.data.length > 0) {
    pieces.push(row.data);
    midLine = row.data[row.data.length - 1] !== 0x0a;
  }
  return { pieces, next: { attempt: row.attempt, seq: Number(row.seq), midLine } };
}

function stepMarker(row: LogEventRow, steps: number): string {
  const name =
    typeof row.detail?.name === 'string' && row.detail.name !== ''
      ? printable(row.detail.name)
      : `step-${row.step + 1}`;
  const tries = typeof row.detail?.try === 'number' && row.detail.try > 1 ? ` (try ${row.detail.try})` : '';
  return `--- step ${row.step + 1}/${Math.max(steps, row.step + 1)}: ${name}${tries} ---`;
}

/** A name from an agent on one line: control characters become '?'. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.slice(0, 200).replace(/[\x00-\x1f\x7f\u2028\u2029]/g, '?');
}

/**
 * How many trailing bytes of `buf` are the start of a UTF-8 sequence that the next bytes may
 * complete (0-3). Cutting there and prepending them to what follows decodes exactly as the whole
 * would (WHATWG decoding restarts at every lead byte).
 */
export function incompleteUtf8Tail(buf: Uint8Array): number {
  for (let back = 1; back <= Math.min(3, buf.length); back++) {
    const b = buf[buf.length - back] as number;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: look further back for its lead
    const need = b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 1;
    return need > back ? back : 0;
  }
  return 0;
}

/** An SSE resume point: the position plus the bytes of a character the last page split (`Last-Event-ID`). */
export interface SseCursor extends LogPosition {
  carry: Buffer;
}

export function formatCursor(c: SseCursor): string {
  return `${c.attempt}.${c.seq}.${c.midLine ? 1 : 0}${c.carry.length > 0 ? `.${c.carry.toString('hex')}` : ''}`;
}

const CURSOR_RE = /^(\d{1,9})\.(\d{1,18})\.([01])(?:\.((?:[0-9a-f]{2}){1,3}))?$/;

/** undefined when `text` is not a cursor this API wrote. */
export function parseCursor(text: string): SseCursor | undefined {
  const m = CURSOR_RE.exec(text.trim());
  if (!m) return undefined;
  const seq = Number(m[2]);
  const carry = Buffer.from(m[4] ?? '', 'hex');
  if (!Number.isSafeInteger(seq) || incompleteUtf8Tail(carry) !== carry.length) return undefined;
  return { attempt: Number(m[1]), seq, midLine: m[3] === '1', carry };
}
