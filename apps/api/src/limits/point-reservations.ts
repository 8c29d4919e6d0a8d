/**
 * Points a replica has taken from the shared counter in one block and spends locally, one call at a
 * time, until the block or its window runs out. A block is taken as a consumption of `size` points in
 * Redis, so the replicas together never admit more than the limit; what a replica took and did not
 * spend before the window ended is lost, so N replicas may refuse up to N × (size − 1) calls early.
 */
interface Block {
  /** Consumed in the shared window before this block's first point. */
  base: number;
  /** Points of the block, and how many of them were spent. */
  usable: number;
  spent: number;
  expiresAtMs: number;
}

/** What a call was told: as in the shared counter, `consumed` includes the call itself. */
export interface Spent {
  consumed: number;
  resetMs: number;
}

/** Past this many keys, expired blocks are swept on the next insert. */
const SWEEP_AT = 10_000;
/** The largest block, and the share of the limit one block may take (1 %). */
const MAX_BLOCK = 32;
const BLOCK_SHARE = 100;

/** Block size for a limit of `points` per window: 1 for small limits, which stay exact. */
export function blockSize(points: number): number {
  return Math.max(1, Math.min(MAX_BLOCK, Math.floor(points / BLOCK_SHARE)));
}

export class PointReservations {
  private readonly blocks = new Map<string, Block>();

  constructor(
    readonly size: number,
    private readonly limit: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Spends one point of the key's block; undefined when there is none left (take a new block). */
  spend(key: string): Spent | undefined {
    const b = this.blocks.get(key);
    if (!b) return undefined;
    const now = this.now();
    if (b.spent >= b.usable || now >= b.expiresAtMs) {
      this.blocks.delete(key);
      return undefined;
    }
    b.spent += 1;
    return { consumed: b.base + b.spent, resetMs: b.expiresAtMs - now };
  }

  /**
   * Records what the shared counter answered to taking a block: `consumed` after adding `size`.
   * Returns the first point of the block when at least one was still under the limit (the rest is
   * kept for later calls), undefined when none was.
   */
  took(key: string, consumed: number, resetMs: number): Spent | undefined {
    const usable = Math.max(0, Math.min(this.size, this.size - (consumed - this.limit)));
    if (usable === 0) return undefined;
    const base = consumed - this.size;
    if (usable > 1) {
      if (this.blocks.size >= SWEEP_AT) this.sweep();
      this.blocks.set(key, { base, usable, spent: 1, expiresAtMs: this.now() + resetMs });
    }
    return { consumed: base + 1, resetMs };
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, b] of this.blocks) if (b.spent >= b.usable || now >= b.expiresAtMs) this.blocks.delete(key);
  }
}
