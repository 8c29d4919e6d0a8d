import type { MaskPattern } from './mask-patterns';

/** Window of the rolling hash: the shortest pattern's length, at most this. */
const MAX_WINDOW = 8;
const BASE = 257;

/**
 * The mask patterns indexed by a rolling hash of their first `window` bytes (Rabin-Karp), so a scan
 * of the output costs one hash step per byte and a comparison only where a pattern's start hashes
 * alike, however many patterns there are (64 secrets of a PEM key's size make thousands of forms).
 */
export class PatternIndex {
  readonly maxLen: number;
  readonly window: number;
  private readonly byHash = new Map<number, MaskPattern[]>();
  /** For tails shorter than the window: patterns by first byte. */
  private readonly byFirst = new Map<number, MaskPattern[]>();
  /** BASE^(window-1) mod 2^32, to roll the leading byte out. */
  private readonly lead: number;

  constructor(readonly patterns: readonly MaskPattern[]) {
    this.maxLen = patterns.reduce((m, p) => Math.max(m, p.bytes.length), 0);
    this.window = Math.min(MAX_WINDOW, ...patterns.map((p) => p.bytes.length));
    let lead = 1;
    for (let i = 1; i < this.window; i++) lead = Math.imul(lead, BASE) >>> 0;
    this.lead = lead;
    // patterns come longest first, and each list keeps that order: the first hit at a position is its longest match
    for (const p of patterns) {
      push(this.byHash, hashOf(p.bytes, 0, this.window), p);
      push(this.byFirst, p.bytes[0] ?? -1, p);
    }
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }

  /**
   * Replaces the leftmost-longest matches that start before `cut`; `out` is everything up to the end
   * of the last replacement or `cut` (moved back to a UTF-8 boundary), `rest` the remainder.
   */
  maskUpTo(buf: Buffer, cut: number): { out: Buffer; rest: Buffer } {
    const parts: Buffer[] = [];
    let pos = 0;
    let i = 0;
    let h = buf.length >= this.window ? hashOf(buf, 0, this.window) : 0;
    while (i < cut && i + this.window <= buf.length) {
      const hit = this.byHash.get(h)?.find((p) => matchesAt(buf, i, p.bytes));
      if (hit) {
        parts.push(buf.subarray(pos, i), hit.replacement);
        pos = i = i + hit.bytes.length;
        if (i + this.window <= buf.length) h = hashOf(buf, i, this.window);
        continue;
      }
      if (i + this.window < buf.length) h = this.roll(h, buf[i] ?? 0, buf[i + this.window] ?? 0);
      i++;
    }
    const end = Math.max(pos, utf8Boundary(buf, cut));
    parts.push(buf.subarray(pos, end));
    return { out: Buffer.concat(parts), rest: buf.subarray(end) };
  }

  /** The first index from which the rest of `buf` is the beginning of some pattern; buf.length if none. */
  firstLivePrefix(buf: Buffer): number {
    const from = Math.max(0, buf.length - this.maxLen + 1);
    let h = from + this.window <= buf.length ? hashOf(buf, from, this.window) : 0;
    for (let i = from; i < buf.length; i++) {
      const rest = buf.length - i;
      const candidates = rest >= this.window ? this.byHash.get(h) : this.byFirst.get(buf[i] ?? -1);
      if (candidates?.some((p) => p.bytes.length > rest && p.bytes.subarray(0, rest).equals(buf.subarray(i))))
        return utf8Boundary(buf, i);
      if (i + this.window < buf.length) h = this.roll(h, buf[i] ?? 0, buf[i + this.window] ?? 0);
    }
    return buf.length;
  }

  private roll(h: number, out: number, inb: number): number {
    return (Math.imul((h - Math.imul(out, this.lead)) >>> 0, BASE) + inb) >>> 0;
  }
}

function hashOf(buf: Buffer, at: number, n: number): number {
  let h = 0;
  for (let k = 0; k < n; k++) h = (Math.imul(h, BASE) + (buf[at + k] ?? 0)) >>> 0;
  return h;
}

function matchesAt(buf: Buffer, at: number, pattern: Buffer): boolean {
  return at + pattern.length <= buf.length && buf.compare(pattern, 0, pattern.length, at, at + pattern.length) === 0;
}

function push<K>(map: Map<K, MaskPattern[]>, key: K, p: MaskPattern): void {
  const list = map.get(key);
  if (list) list.push(p);
  else map.set(key, [p]);
}

/** `at`, or the start of the UTF-8 character `at` falls inside. */
export function utf8Boundary(buf: Buffer, at: number): number {
  let i = Math.min(at, buf.length);
  for (let back = 0; back < 3 && i > 0 && i < buf.length && ((buf[i] ?? 0) & 0xc0) === 0x80; back++) i--;
  return i;
}
