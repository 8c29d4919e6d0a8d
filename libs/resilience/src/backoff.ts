/** Exponential backoff with full jitter: delay n is uniform in [base, min(cap, base * factor^n)]. */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor?: number;
  /** Injected for tests; defaults to Math.random. */
  random?: () => number;
}

export class Backoff {
  private attempt = 0;
  constructor(private readonly options: BackoffOptions) {}

  /** The next delay, growing with each call until `reset()`. */
  next(): number {
    const { initialMs, maxMs, factor = 2, random = Math.random } = this.options;
    const ceiling = Math.min(maxMs, initialMs * factor ** this.attempt);
    this.attempt++;
    return Math.round(initialMs + (ceiling - initialMs) * random());
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}

/** `intervalMs` ± `fraction`, so a fleet of loops does not synchronise. */
export function jittered(intervalMs: number, fraction = 0.1, random: () => number = Math.random): number {
  return Math.round(intervalMs * (1 - fraction + 2 * fraction * random()));
}
