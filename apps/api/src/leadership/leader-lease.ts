/**
 * How long a leader may believe it leads, and the server-side limits that end a partitioned leader's
 * session (and its advisory lock) after it has stopped believing it. The order matters:
 *
 *   query answer timeout (2.5 s) < the leader's lease (3 s) < the server's idle timeout (5 s)
 *
 * A leader renews every second; the lease runs from the moment a renewal was SENT, so the server saw that
 * query no earlier. A partitioned leader stops every duty by the end of its lease; the server ends its
 * session only once it has been silent for the idle timeout, after that; only then can another replica
 * take the lock and begin the next epoch. Failover after a partition: idle timeout + a retry interval
 * (~6 s); after a clean stop or a crash the session ends at once: a retry interval (~1 s).
 */
export const LEADER_TIMING = {
  renewIntervalMs: 1_000,
  leaseMs: 3_000,
  queryTimeoutMs: 2_500,
  statementTimeoutMs: 2_000,
  serverIdleTimeoutMs: 5_000,
  retryIntervalMs: 1_000,
} as const;

/** The duty every singleton task runs under (one lock, one epoch). */
export const SINGLETON_DUTY = 'singleton';

/** What a fenced write carries: refused by Postgres unless the duty's epoch is still this one. */
export interface Fence {
  duty: string;
  epoch: number;
}

/**
 * The leader's belief in its own leadership, on a monotonic clock: elected or renewed at `sentAtMs`
 * (when the query went out), valid until `sentAtMs + leaseMs`. A renewal that answers after its lease
 * ran out does not count: the duties had to stop by then.
 */
export class LeaderLease {
  private epochValue: number | undefined;
  private validUntilMs = 0;

  constructor(private readonly leaseMs: number = LEADER_TIMING.leaseMs) {}

  elected(epoch: number, sentAtMs: number, answeredAtMs: number): boolean {
    if (answeredAtMs >= sentAtMs + this.leaseMs) return false;
    this.epochValue = epoch;
    this.validUntilMs = sentAtMs + this.leaseMs;
    return true;
  }

  /** False (and no longer leading) when the renewal came too late. */
  renewed(sentAtMs: number, answeredAtMs: number): boolean {
    if (this.epochValue === undefined || answeredAtMs >= this.validUntilMs) {
      this.lost();
      return false;
    }
    this.validUntilMs = Math.max(this.validUntilMs, sentAtMs + this.leaseMs);
    return true;
  }

  lost(): void {
    this.epochValue = undefined;
    this.validUntilMs = 0;
  }

  /** The epoch while the lease holds at `nowMs`; undefined otherwise. */
  epochAt(nowMs: number): number | undefined {
    return nowMs < this.validUntilMs ? this.epochValue : undefined;
  }

  /** Held (the election or last renewal succeeded), whether or not it has run out yet. */
  get held(): boolean {
    return this.epochValue !== undefined;
  }

  get validUntil(): number {
    return this.validUntilMs;
  }
}
