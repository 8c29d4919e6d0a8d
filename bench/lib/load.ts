/** Load shapes and the statistics every section shares. */

/** High-resolution wall clock in epoch milliseconds (sub-millisecond, comparable with `Date.now()`). */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs `concurrency` loops of `op` until `seconds` have passed; returns completed ops and elapsed seconds. */
export async function closedLoop(
  concurrency: number,
  seconds: number,
  op: () => Promise<void>,
): Promise<{ ops: number; elapsedS: number }> {
  const started = performance.now();
  const deadline = started + seconds * 1_000;
  let ops = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        await op();
        ops++;
      }
    }),
  );
  return { ops, elapsedS: (performance.now() - started) / 1_000 };
}

/** Runs `op(i)` for i in [0, count) with at most `concurrency` in flight. */
export async function forEachConcurrent(
  count: number,
  concurrency: number,
  op: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await op(next++);
    }),
  );
}

export interface OpenLoopOptions {
  /** Operations started per second, on schedule whatever the previous ones are doing. */
  rate: number;
  /** Stop after this many operations (omit to run until `stop()`). */
  count?: number;
  /** Most operations in flight at once: past it the schedule slips (counted in `slipped`). */
  maxInFlight: number;
}

/**
 * An open-loop load: operations start on a fixed schedule, not when the previous one answers, so a
 * slow server sees the offered rate (up to `maxInFlight`), and the achieved rate says what it took.
 */
export class OpenLoop {
  private stopped = false;
  private inFlight = 0;
  private started = 0;
  completed = 0;
  failed = 0;
  slipped = 0;
  private readonly startedAt = performance.now();
  private endedAt: number | undefined;
  readonly done: Promise<void>;
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly o: OpenLoopOptions,
    private readonly op: (i: number) => Promise<boolean>,
  ) {
    this.done = this.schedule();
  }

  private async schedule(): Promise<void> {
    const gapMs = 1_000 / this.o.rate;
    while (!this.stopped && (this.o.count === undefined || this.started < this.o.count)) {
      const due = this.startedAt + this.started * gapMs;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      if (this.inFlight >= this.o.maxInFlight) {
        this.slipped++;
        await sleep(1);
        continue;
      }
      this.launch(this.started++);
    }
    await Promise.all(this.pending);
    this.endedAt = performance.now();
  }

  private launch(i: number): void {
    this.inFlight++;
    const p = this.op(i)
      .then((ok) => void (ok ? this.completed++ : this.failed++))
      .catch(() => void this.failed++)
      .finally(() => {
        this.inFlight--;
        this.pending.delete(p);
      });
    this.pending.add(p);
  }

  /** Stops scheduling, waits for what is in flight; returns the achieved rate of successful ops. */
  async stop(): Promise<{ completed: number; failed: number; elapsedS: number; perSecond: number }> {
    this.stopped = true;
    await this.done;
    const elapsedS = ((this.endedAt ?? performance.now()) - this.startedAt) / 1_000;
    return { completed: this.completed, failed: this.failed, elapsedS, perSecond: this.completed / elapsedS };
  }
}

/** The p-th percentile (nearest rank) of an ascending array; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx] as number;
}

export interface LatencySummary {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? NaN,
  };
}

export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
