/** Flush thresholds of step output: whichever comes first. */
export const CHUNK_MAX_BYTES = 64 * 1024;
export const CHUNK_FLUSH_MS = 200;

/**
 * Buffers one output stream and hands it on in chunks of at most `maxBytes`, at the latest
 * `flushMs` after the first unflushed byte arrived. Chunks leave in arrival order, so the caller can
 * number them as they come out.
 */
export class OutputChunker {
  private buffered: Buffer[] = [];
  private size = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly emit: (data: Buffer) => void,
    private readonly maxBytes = CHUNK_MAX_BYTES,
    private readonly flushMs = CHUNK_FLUSH_MS,
  ) {}

  write(data: Buffer): void {
    let rest = data;
    while (rest.length > 0) {
      const room = this.maxBytes - this.size;
      const piece = rest.subarray(0, room);
      rest = rest.subarray(piece.length);
      this.buffered.push(piece);
      this.size += piece.length;
      if (this.size >= this.maxBytes) this.flush();
    }
    if (this.size > 0 && !this.timer) this.timer = setTimeout(() => this.flush(), this.flushMs);
  }

  /** Emits whatever is buffered now. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.size === 0) return;
    const data = Buffer.concat(this.buffered, this.size);
    this.buffered = [];
    this.size = 0;
    this.emit(data);
  }
}
