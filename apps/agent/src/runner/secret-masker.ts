import type { MaskPattern } from './mask-patterns';
import { PatternIndex } from './pattern-index';

/**
 * Masks secrets in one output stream before anything else sees it (chunker, outbox, API), also when a
 * value is split across reads. Only a tail that is the beginning of some pattern (a secret's form) is
 * held back, until the next read shows whether it completes one or the step ends (`end()`); every
 * other byte goes on in the same call, so ordinary output is never delayed. Cuts fall on UTF-8
 * character boundaries. Without patterns it is a pass-through.
 */
export class SecretMasker {
  private held: Buffer = Buffer.alloc(0);
  private readonly index: PatternIndex;

  constructor(
    patterns: readonly MaskPattern[] | PatternIndex,
    private readonly emit: (data: Buffer) => void,
  ) {
    this.index = patterns instanceof PatternIndex ? patterns : new PatternIndex(patterns);
  }

  /** Bytes held back right now (at most the longest pattern's length, plus a partial UTF-8 character). */
  get heldBytes(): number {
    return this.held.length;
  }

  write(data: Buffer): void {
    if (this.index.empty) {
      if (data.length > 0) this.emit(data);
      return;
    }
    const buf = this.held.length > 0 ? Buffer.concat([this.held, data]) : data;
    // a match starting before `cut` lies wholly inside buf: it is found now, or never
    const first = this.index.maskUpTo(buf, Math.max(0, buf.length - (this.index.maxLen - 1)));
    // of the rest, what cannot begin a match goes too (its complete matches masked)
    const live = Math.min(this.index.firstLivePrefix(first.rest), completeUtf8(first.rest));
    const second = this.index.maskUpTo(first.rest, live);
    this.held = Buffer.from(second.rest);
    const out = second.out.length > 0 ? Buffer.concat([first.out, second.out]) : first.out;
    if (out.length > 0) this.emit(out);
  }

  /** The step ended: everything held goes, masked. */
  end(): void {
    if (this.held.length === 0) return;
    const { out } = this.index.maskUpTo(this.held, this.held.length);
    this.held = Buffer.alloc(0);
    if (out.length > 0) this.emit(out);
  }
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
