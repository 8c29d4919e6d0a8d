import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { PG_POOL } from '../database/database.module';

export interface PoolQueueRow {
  pool: string;
  depth: number;
  oldestAgeSeconds: number;
}

export interface FleetAgentRow {
  id: string;
  name: string;
  pool: string;
  version: string;
  state: string;
  slots: number;
  running: number;
  breakerState: string;
  outboxDepth: number;
  outboxOldestAgeSeconds: number;
  lastHeartbeatSeconds: number | null;
}

/** The reads behind scrape-time gauges: one query for the queues, one for the fleet. */
@Injectable()
export class MetricsRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  /** Every pool known from live agents or queued jobs, with its queued jobs (0 when none) and the oldest one's age. */
  async queues(now: Date): Promise<PoolQueueRow[]> {
    const res = await this.pool.query<{ pool: string; depth: number; oldest: number }>(
      `SELECT p.pool, count(j.id)::int AS depth, coalesce(extract(epoch FROM ($1::timestamptz - min(j.updated_at))), 0)::float8 AS oldest
       FROM (SELECT pool FROM agents WHERE state <> 'lost' UNION SELECT DISTINCT pool FROM jobs WHERE state = 'queued') p
       LEFT JOIN jobs j ON j.pool = p.pool AND j.state = 'queued'
       GROUP BY p.pool`,
      [now],
    );
    return res.rows.map((r) => ({ pool: r.pool, depth: r.depth, oldestAgeSeconds: Math.max(0, r.oldest) }));
  }

  /** Every enrolled agent as its last heartbeat described it. */
  async fleet(): Promise<FleetAgentRow[]> {
    const res = await this.pool.query<{
      id: string;
      name: string;
      pool: string;
      version: string;
      state: string;
      slots: number;
      running: number;
      breaker_state: string;
      outbox_depth: string;
      outbox_oldest_age_ms: string;
      last_heartbeat: number | null;
    }>(
      `SELECT id, name, pool, version, state, slots, running, breaker_state, outbox_depth, outbox_oldest_age_ms,
              extract(epoch FROM last_heartbeat_at)::float8 AS last_heartbeat
       FROM agents`,
    );
    return res.rows.map((r) => ({
      id: r.id,
      name: r.name,
      pool: r.pool,
      version: r.version,
      state: r.state,
      slots: r.slots,
      running: r.running,
      breakerState: r.breaker_state,
      outboxDepth: Number(r.outbox_depth),
      outboxOldestAgeSeconds: Number(r.outbox_oldest_age_ms) / 1000,
      lastHeartbeatSeconds: r.last_heartbeat,
    }));
  }
}
