import type { ReportingStatus } from './reporting/reporting';

/** Heartbeat counters: answered, failed, and how late the loop's timer fired (event-loop lag). */
export class HeartbeatStats {
  ok = 0;
  failed = 0;
  lastOkAtMs = 0;
  lastLagMs = 0;
  maxLagMs = 0;

  observe(beat: { ok: boolean; lagMs: number }): void {
    if (beat.ok) {
      this.ok += 1;
      this.lastOkAtMs = Date.now();
    } else {
      this.failed += 1;
    }
    this.lastLagMs = beat.lagMs;
    this.maxLagMs = Math.max(this.maxLagMs, beat.lagMs);
  }
}

/**
 * What the agent counts, for its own /metrics (wired up by the observability work) and for
 * `jr-agent reporting status`; the heartbeat's AgentState carries the same breaker and outbox view.
 */
export interface AgentMetrics {
  heartbeats: { ok: number; failed: number; lastOkAtMs: number; lastLagMs: number; maxLagMs: number };
  reporting: ReportingStatus | undefined;
  attempts: { slots: number; running: number; undelivered: number };
  draining: boolean;
}
