/**
 * Small timing helpers. (@jr/resilience has the same ideas; the CLI keeps its own copy so that its
 * package needs no extra workspace dependency.)
 */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** Exponential delays with full jitter between `initialMs` and the current ceiling. */
export class Backoff {
  private attempt = 0;
  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  next(): number {
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** this.attempt);
    this.attempt++;
    return Math.round(this.initialMs + (ceiling - this.initialMs) * this.random());
  }

  reset(): void {
    this.attempt = 0;
  }
}

/** Seconds to wait from a Retry-After header (seconds or an HTTP date), capped; undefined if absent. */
export function retryAfterMs(header: string | null, capMs: number, now: number = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Math.min(capMs, Number(trimmed) * 1_000);
  if (!/GMT$/i.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.min(capMs, Math.max(0, at - now));
}
