import type { AgentView } from '@jr/contracts';
import { agentHealth } from '../common/agent-liveness';
import type { AgentRow } from './agents.repository';

/** `GET /v1/agents`' view of a row: `stale` and the heartbeat's age by the API's clock (`nowMs`). */
export function toAgentView(a: AgentRow, nowMs: number, heartbeatIntervalMs: number): AgentView {
  const health = agentHealth(a.state, a.last_heartbeat_at?.getTime() ?? null, nowMs, heartbeatIntervalMs);
  return {
    id: a.id,
    name: a.name,
    pool: a.pool,
    labels: a.labels,
    state: health.state,
    draining: a.drain_requested,
    heartbeatAgeMs: health.heartbeatAgeMs,
    slots: a.slots,
    running: a.running,
    lastHeartbeatAt: a.last_heartbeat_at?.toISOString() ?? null,
    breakerState: a.breaker_state,
    spoolDepth: Number(a.outbox_depth),
    spoolOldestAgeMs: Number(a.outbox_oldest_age_ms),
    enrolledAt: a.enrolled_at.toISOString(),
    revokedAt: a.revoked_at?.toISOString() ?? null,
  };
}
