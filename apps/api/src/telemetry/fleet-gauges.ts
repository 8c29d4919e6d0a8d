import { AGENT_STATES, type ApiMetrics } from '@jr/telemetry';
import type { FleetAgentRow, PoolQueueRow } from './metrics.repository';

type Row<L extends string> = { labels: Record<L, string>; value: number };

/** jr_queue_depth / jr_queue_oldest_age_seconds per pool: pools that vanished stop being reported. */
export function setQueueGauges(m: ApiMetrics, rows: PoolQueueRow[]): void {
  m.queueDepth.replaceAll(rows.map((r) => ({ labels: { pool: r.pool }, value: r.depth })));
  m.queueOldestAge.replaceAll(rows.map((r) => ({ labels: { pool: r.pool }, value: r.oldestAgeSeconds })));
}

/**
 * The fleet as heartbeats describe it: agents by pool and state (every state of a known pool, 0 when
 * none), and per live agent its info, slots, running attempts, breaker, outbox and last heartbeat.
 * Lost agents leave the per-agent gauges (a dead agent's last outbox depth is not news).
 */
export function setFleetGauges(m: ApiMetrics, agents: FleetAgentRow[]): void {
  const counts = new Map<string, number>();
  for (const pool of new Set(agents.map((a) => a.pool)))
    for (const state of AGENT_STATES) counts.set(`${pool}\u0000${state}`, 0);
  for (const a of agents) counts.set(`${a.pool}\u0000${a.state}`, (counts.get(`${a.pool}\u0000${a.state}`) ?? 0) + 1);
  m.fleetAgents.replaceAll(
    [...counts].map(([key, value]) => {
      const [pool = '', state = ''] = key.split('\u0000');
      return { labels: { pool, state }, value };
    }),
  );
  const live = agents.filter((a) => a.state !== 'lost');
  const per = (value: (a: FleetAgentRow) => number): Array<Row<'agent' | 'pool'>> =>
    live.map((a) => ({ labels: { agent: a.id, pool: a.pool }, value: value(a) }));
  m.fleetAgentInfo.replaceAll(
    live.map((a) => ({
      labels: { agent: a.id, name: a.name, pool: a.pool, version: a.version || 'unknown' },
      value: 1,
    })),
  );
  m.fleetSlots.replaceAll(per((a) => a.slots));
  m.fleetRunning.replaceAll(per((a) => a.running));
  m.fleetBreakerOpen.replaceAll(per((a) => (a.breakerState === 'open' ? 1 : 0)));
  m.fleetOutboxDepth.replaceAll(per((a) => a.outboxDepth));
  m.fleetOutboxOldestAge.replaceAll(per((a) => a.outboxOldestAgeSeconds));
  m.fleetLastHeartbeat.replaceAll(
    live
      .filter((a) => a.lastHeartbeatSeconds !== null)
      .map((a) => ({ labels: { agent: a.id, pool: a.pool }, value: a.lastHeartbeatSeconds ?? 0 })),
  );
}
