import type { IBreaker } from 'cockatiel';

/**
 * Opens on a sustained outage only: at least `threshold` consecutive failed reports AND at least
 * `minOutageMs` between the first of them and the latest. A count alone opened the breaker 0.6 s after
 * an API restart refused a few connections (every routine restart or failover would then suspend
 * reporting fleet-wide until an operator steps in), while how fast a report fails depends on how the
 * network fails (a refused connection in a millisecond, a blackhole only at the timeout). Any success
 * starts the count and the clock again.
 */
export class SustainedOutageBreaker implements IBreaker {
  private failures = 0;
  private firstFailureAt = 0;

  constructor(
    private readonly threshold: number,
    private readonly minOutageMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get state(): unknown {
    return { failures: this.failures, firstFailureAt: this.firstFailureAt };
  }

  set state(value: unknown) {
    const v = value as { failures?: unknown; firstFailureAt?: unknown } | undefined;
    this.failures = typeof v?.failures === 'number' ? v.failures : 0;
    this.firstFailureAt = typeof v?.firstFailureAt === 'number' ? v.firstFailureAt : 0;
  }

  success(): void {
    this.failures = 0;
    this.firstFailureAt = 0;
  }

  failure(): boolean {
    const now = this.now();
    if (this.failures === 0) this.firstFailureAt = now;
    this.failures += 1;
    return this.failures >= this.threshold && now - this.firstFailureAt >= this.minOutageMs;
  }

  /** How long the current run of failures has lasted (0 when the last report succeeded). */
  outageMs(): number {
    return this.failures === 0 ? 0 : this.now() - this.firstFailureAt;
  }
}
