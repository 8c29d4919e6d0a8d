import type { AgentConfig } from './config/agent-config';
import { assessHealth, type AgentStatusView } from './control/agent-status';
import type { ReportingStatus } from './reporting/reporting';
import { AGENT_VERSION } from './version';

/** Heartbeat counters: answered, failed, and how late the loop's timer fired (event-loop lag). */
export class HeartbeatStats {
  ok = 0;
  failed = 0;
  /** Failed beats since the last answered one. */
  consecutiveFailed = 0;
  lastOkAtMs = 0;
  lastLagMs = 0;
  maxLagMs = 0;

  observe(beat: { ok: boolean; lagMs: number }, now = Date.now()): void {
    if (beat.ok) {
      this.ok += 1;
      this.consecutiveFailed = 0;
      this.lastOkAtMs = now;
    } else {
      this.failed += 1;
      this.consecutiveFailed += 1;
    }
    this.lastLagMs = beat.lagMs;
    this.maxLagMs = Math.max(this.maxLagMs, beat.lagMs);
  }
}

/**
 * What the agent counts, for `jr-agent reporting status` (its /metrics has the same in Prometheus
 * form); the heartbeat's AgentState carries the same breaker and outbox view.
 */
export interface AgentCounters {
  heartbeats: {
    ok: number;
    failed: number;
    consecutiveFailed: number;
    lastOkAtMs: number;
    lastLagMs: number;
    maxLagMs: number;
  };
  reporting: ReportingStatus | undefined;
  attempts: { slots: number; running: number; undelivered: number };
  draining: boolean;
}

export interface DescribeInput {
  config: Pick<AgentConfig, 'name' | 'pool' | 'apiAddress'>;
  agentId: string;
  counters: AgentCounters;
  beats: HeartbeatStats;
  intervalMs: number;
  metricsUrl: string | undefined;
  now?: number;
}

/** What `jr-agent status` shows, health judged (see assessHealth). */
export function describeAgent(i: DescribeInput): AgentStatusView {
  const now = i.now ?? Date.now();
  const { beats, counters: c } = i;
  const b = c.reporting?.breaker;
  return assessHealth({
    agentId: i.agentId,
    name: i.config.name,
    pool: i.config.pool,
    version: AGENT_VERSION,
    pid: process.pid,
    apiAddress: i.config.apiAddress,
    heartbeat: {
      intervalMs: i.intervalMs,
      lastOkAgeMs: beats.lastOkAtMs > 0 ? Math.max(0, now - beats.lastOkAtMs) : null,
      consecutiveFailures: beats.consecutiveFailed,
      ok: beats.ok,
      failed: beats.failed,
    },
    breaker: { state: b?.state ?? 'closed', since: b?.since ?? null, reason: b?.reason ?? null },
    outbox: { depth: c.reporting?.outbox.depth ?? 0, oldestAgeMs: Math.round(c.reporting?.outbox.oldestAgeMs ?? 0) },
    attempts: c.attempts,
    draining: c.draining,
    metricsUrl: i.metricsUrl ?? null,
  });
}
