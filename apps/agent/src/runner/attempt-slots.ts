import type { pb } from '@jr/contracts';
import type { CompletionResult } from '../reporting/reporter';
import type { AttemptRun, StopRequest } from './attempt-runner';

/**
 * The attempts this agent holds leases for: from the assignment until the API answered Complete
 * (until then the heartbeat must keep extending the lease). At most `capacity` leased at once.
 */
export class AttemptSlots {
  private readonly running = new Map<string, AttemptRun>();
  private waiters: Array<() => void> = [];
  /** Slots promised to Lease calls in flight. */
  private reserved = 0;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.running.size;
  }

  has(key: string): boolean {
    return this.running.has(key);
  }

  free(): number {
    return Math.max(0, this.capacity - this.running.size - this.reserved);
  }

  /**
   * Waits for a free slot and holds it for a Lease call in flight; the check and the hold happen in
   * one synchronous step, so callers side by side never over-commit. The returned function gives the
   * slot back (once). Undefined when `signal` aborts first.
   */
  async reserve(signal: AbortSignal): Promise<(() => void) | undefined> {
    while (this.free() === 0) {
      if (signal.aborted) return undefined;
      await this.nextChange(signal);
    }
    if (signal.aborted) return undefined;
    this.reserved++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.reserved--;
      this.wakeAll();
    };
  }

  /** Runs the attempt in a slot; the slot is released once its completion is settled. */
  start(run: AttemptRun): Promise<CompletionResult> {
    this.running.set(run.key, run);
    return run.run().finally(() => {
      this.running.delete(run.key);
      this.wakeAll();
    });
  }

  private wakeAll(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** What the heartbeat carries. */
  leases(): pb.RunningAttempt[] {
    return [...this.running.values()].map((r) => ({ ...r.ref }));
  }

  stop(jobId: string, attempt: number, request: StopRequest): boolean {
    const run = this.running.get(`${jobId}#${attempt}`);
    run?.stop(request);
    return run !== undefined;
  }

  stopAll(request: StopRequest): void {
    for (const run of this.running.values()) run.stop(request);
  }

  /** Resolves when no attempt is held any more, or when `signal` aborts. */
  whenIdle(signal: AbortSignal): Promise<void> {
    return this.waitUntil(() => this.running.size === 0, signal);
  }

  private async waitUntil(done: () => boolean, signal: AbortSignal): Promise<void> {
    while (!done() && !signal.aborted) await this.nextChange(signal);
  }

  /** Resolves at the next slot change, or when `signal` aborts. */
  private nextChange(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        signal.removeEventListener('abort', wake);
        resolve();
      };
      this.waiters.push(wake);
      signal.addEventListener('abort', wake, { once: true });
    });
  }
}
