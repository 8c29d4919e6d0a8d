import type { MaskPattern } from './mask-patterns';

/**
 * Masks secrets in one output stream before anything else sees it (chunker, outbox, API), also when a
 * value is split across reads. Only a tail that is the beginning of some pattern (a secret's form) is
 * held back, until the next read shows whether it completes one or the step ends (`end()`); every
 * other byte goes on in the same call, so ordinary output is never delayed. Cuts fall on UTF-8
 * character boundaries. Without patterns it is a pass-through.
 */
export class SecretMasker {
  private held: Buffer = Buffer.alloc(0);
  private readonly maxLen: number;

  constructor(
    private readonly patterns: readonly MaskPattern[],
    private readonly emit: (data: Buffer) => void,
  ) {
    this.maxLen = patterns.reduce((m, p) => Math.max(m, p.bytes.length), 0);
  }

  /** Bytes held back right now (at most the longest pattern's length, plus a partial UTF-8 character). */
  get heldBytes(): number {
    return this.held.length;
  }

  write(data: Buffer): void {
    if (this.maxLen === 0) {
      if (data.length > 0) this.emit(data);
      return;
    }
    const buf = this.held.length > 0 ? Buffer.concat([this.held, data]) : data;
    // a match starting before `cut` lies wholly inside buf: it is found now, or never
    const first = maskUpTo(buf, this.patterns, Math.max(0, buf.length - (this.maxLen - 1)));
    // of the rest, what cannot begin a match goes too (its complete matches masked)
    const live = Math.min(firstLivePrefix(first.rest, this.patterns), completeUtf8(first.rest));
    const second = maskUpTo(first.rest, this.patterns, live);
    this.held = Buffer.from(second.rest);
    const out = second.out.length > 0 ? Buffer.concat([first.out, second.out]) : first.out;
    if (out.length > 0) this.emit(out);
  }

  /** The step ended: everything held goes, masked. */
  end(): void {
    if (this.held.length === 0) return;
    const { out } = maskUpTo(this.held, this.patterns, this.held.length);
    this.held = Buffer.alloc(0);
    if (out.length > 0) this.emit(out);
  }
}

/**
 * Replaces the leftmost-longest matches that start before `cut`; `out` is everything up to the end of
 * the last replacement or `cut` (moved back to a UTF-8 boundary), `rest` the remainder.
 */
export function maskUpTo(buf: Buffer, patterns: readonly MaskPattern[], cut: number): { out: Buffer; rest: Buffer } {
  const parts: Buffer[] = [];
  const next = patterns.map((p) => buf.indexOf(p.bytes));
  let pos = 0;
  for (;;) {
    let best = -1;
    for (const [i, p] of patterns.entries()) {
      if ((next[i] ?? -1) >= 0 && (next[i] ?? 0) < pos) next[i] = buf.indexOf(p.bytes, pos);
      const at = next[i] ?? -1;
      // patterns are sorted longest first, so the first at the smallest position is the longest there
      if (at >= 0 && at < cut && (best < 0 || at < (next[best] ?? 0))) best = i;
    }
    const pattern = patterns[best];
    if (best < 0 || !pattern) break;
    const at = next[best] ?? 0;
    parts.push(buf.subarray(pos, at), pattern.replacement);
    pos = at + pattern.bytes.length;
  }
  const end = Math.max(pos, utf8Boundary(buf, cut));
  parts.push(buf.subarray(pos, end));
  return { out: Buffer.concat(parts), rest: buf.subarray(end) };
}

/** `at`, or the start of the UTF-8 character `at` falls inside. */
function utf8Boundary(buf: Buffer, at: number): number {
  let i = Math.min(at, buf.length);
  for (let back = 0; back < 3 && i > 0 && i < buf.length && ((buf[i] ?? 0) & 0xc0) === 0x80; back++) i--;
  return i;
}

/** Where a trailing incomplete UTF-8 sequence of `buf` starts; buf.length when it ends on a character. */
function completeUtf8(buf: Buffer): number {
  for (let i = buf.length - 1; i >= Math.max(0, buf.length - 4); i--) {
    const b = buf[i] ?? 0;
    if ((b & 0xc0) === 0x80) continue;
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return buf.length - i < need ? i : buf.length;
  }
  return buf.length;
}

/** The first index from which the rest of `buf` is the beginning of some pattern; buf.length if none. */
export function firstLivePrefix(buf: Buffer, patterns: readonly MaskPattern[]): number {
  for (let i = Math.max(0, buf.length - maxLength(patterns)); i < buf.length; i++) {
    const b = buf[i];
    const tail = buf.subarray(i);
    if (
      patterns.some(
        (p) => p.bytes[0] === b && p.bytes.length > tail.length && p.bytes.subarray(0, tail.length).equals(tail),
      )
    )
      return utf8Boundary(buf, i);
  }
  return buf.length;
}

function maxLength(patterns: readonly MaskPattern[]): number {
  return patterns.reduce((m, p) => Math.max(m, p.bytes.length), 0);
}
