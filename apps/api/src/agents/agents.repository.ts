import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import type { AgentView } from '@jr/contracts';
import { PG_POOL } from '../database/database.module';

export interface AgentRow {
  id: string;
  name: string;
  pool: string;
  labels: Record<string, string>;
  credential_hash: string;
  slots: number;
  state: 'active' | 'draining' | 'lost';
  drain_requested: boolean;
  reporting_enable_requested: boolean;
  running: number;
  breaker_state: string;
  outbox_depth: string;
  outbox_oldest_age_ms: string;
  last_heartbeat_at: Date | null;
  enrolled_at: Date;
}

export interface Enrollment {
  name: string;
  pool: string;
  labels: Record<string, string>;
  slots: number;
  version: string;
}

export interface AgentReport {
  slots: number;
  running: number;
  breakerState: string;
  outboxDepth: number;
  outboxOldestAgeMs: number;
}

export interface LiveAttemptRef {
  jobId: string;
  attempt: number;
  leaseToken: string;
}

@Injectable()
export class AgentsRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  /** Re-uses `previousId` when that agent exists under the same name; else inserts `newId`. Returns the id used. */
  async enroll(e: Enrollment, previousId: string | undefined, newId: string, credentialHash: string, now: Date): Promise<string> {
    if (previousId) {
      const res = await this.pool.query<{ id: string }>(
        `UPDATE agents SET pool = $3, labels = $4, slots = $5, version = $6, credential_hash = $7, state = 'active', drain_requested = false,
           last_heartbeat_at = $8 WHERE id = $1 AND name = $2 RETURNING id`,
        [previousId, e.name, e.pool, JSON.stringify(e.labels), e.slots, e.version, credentialHash, now],
      );
      if (res.rows[0]) return res.rows[0].id;
    }
    await this.pool.query(
      `INSERT INTO agents (id, name, pool, labels, slots, version, credential_hash, state, last_heartbeat_at, enrolled_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $8)`,
      [newId, e.name, e.pool, JSON.stringify(e.labels), e.slots, e.version, credentialHash, now],
    );
    return newId;
  }

  async find(id: string): Promise<AgentRow | undefined> {
    const res = await this.pool.query<AgentRow>('SELECT * FROM agents WHERE id = $1', [id]);
    return res.rows[0];
  }

  /** Records a heartbeat; a lost agent that speaks again is active (or draining) again. */
  async heartbeat(id: string, r: AgentReport, now: Date): Promise<AgentRow | undefined> {
    const res = await this.pool.query<AgentRow>(
      `UPDATE agents SET last_heartbeat_at = $2, slots = CASE WHEN $3 > 0 THEN $3 ELSE slots END, running = $4, breaker_state = $5,
         outbox_depth = $6, outbox_oldest_age_ms = $7, state = CASE WHEN drain_requested THEN 'draining' ELSE 'active' END
       WHERE id = $1 RETURNING *`,
      [id, now, r.slots, r.running, r.breakerState, r.outboxDepth, r.outboxOldestAgeMs],
    );
    return res.rows[0];
  }

  /** Extends the leases the agent still holds; returns the ones extended. */
  async extendLeases(agentId: string, running: LiveAttemptRef[], expiresAt: Date): Promise<LiveAttemptRef[]> {
    if (running.length === 0) return [];
    const res = await this.pool.query<{ job_id: string; n: number; lease_token: string }>(
      `UPDATE attempts a SET lease_expires_at = GREATEST(a.lease_expires_at, $5)
       FROM unnest($2::text[], $3::int[], $4::text[]) AS r(job_id, n, token)
       WHERE a.job_id = r.job_id AND a.n = r.n AND a.lease_token = r.token AND a.agent_id = $1 AND a.state IN ('leased','running')
       RETURNING a.job_id, a.n, a.lease_token`,
      [agentId, running.map((r) => r.jobId), running.map((r) => r.attempt), running.map((r) => r.leaseToken), expiresAt],
    );
    return res.rows.map((r) => ({ jobId: r.job_id, attempt: r.n, leaseToken: r.lease_token }));
  }

  /** Live attempts of this agent whose job has a cancel request. */
  async cancelRequested(agentId: string): Promise<Array<{ jobId: string; attempt: number }>> {
    const res = await this.pool.query<{ job_id: string; n: number }>(
      `SELECT a.job_id, a.n FROM attempts a JOIN jobs j ON j.id = a.job_id
       WHERE a.agent_id = $1 AND a.state IN ('leased','running') AND j.cancel_requested`,
      [agentId],
    );
    return res.rows.map((r) => ({ jobId: r.job_id, attempt: r.n }));
  }

  /** True once per request to re-enable reporting (the flag clears as it is read). */
  async takeReportingFlag(agentId: string): Promise<boolean> {
    const res = await this.pool.query('UPDATE agents SET reporting_enable_requested = false WHERE id = $1 AND reporting_enable_requested RETURNING id', [agentId]);
    return (res.rowCount ?? 0) > 0;
  }

  async requestDrain(id: string): Promise<boolean> {
    const res = await this.pool.query(`UPDATE agents SET drain_requested = true, state = CASE WHEN state = 'lost' THEN state ELSE 'draining' END WHERE id = $1`, [id]);
    return (res.rowCount ?? 0) > 0;
  }

  /** For one agent, or every agent when `id` is undefined; returns how many were flagged. */
  async requestReportingEnable(id: string | undefined): Promise<number> {
    const res = id === undefined
      ? await this.pool.query('UPDATE agents SET reporting_enable_requested = true')
      : await this.pool.query('UPDATE agents SET reporting_enable_requested = true WHERE id = $1', [id]);
    return res.rowCount ?? 0;
  }

  async markLost(cutoff: Date): Promise<Array<{ id: string; pool: string }>> {
    const res = await this.pool.query<{ id: string; pool: string }>(`UPDATE agents SET state = 'lost' WHERE state <> 'lost' AND last_heartbeat_at < $1 RETURNING id, pool`, [cutoff]);
    return res.rows;
  }

  /** Agents not lost, most recently heard first. */
  async listActive(limit: number): Promise<AgentRow[]> {
    const res = await this.pool.query<AgentRow>(`SELECT * FROM agents WHERE state <> 'lost' ORDER BY last_heartbeat_at DESC NULLS LAST LIMIT $1`, [limit]);
    return res.rows;
  }

  async knownPools(): Promise<string[]> {
    const res = await this.pool.query<{ pool: string }>(`SELECT DISTINCT pool FROM agents WHERE state <> 'lost'`);
    return res.rows.map((r) => r.pool);
  }

  async list(): Promise<AgentView[]> {
    const res = await this.pool.query<AgentRow>('SELECT * FROM agents ORDER BY enrolled_at DESC, id');
    return res.rows.map(toAgentView);
  }

  async countByState(): Promise<Array<{ state: string; count: number }>> {
    const res = await this.pool.query<{ state: string; count: number }>('SELECT state, count(*)::int AS count FROM agents GROUP BY state');
    return res.rows;
  }
}

function toAgentView(a: AgentRow): AgentView {
  return {
    id: a.id,
    name: a.name,
    pool: a.pool,
    labels: a.labels,
    state: a.state,
    slots: a.slots,
    running: a.running,
    lastHeartbeatAt: a.last_heartbeat_at?.toISOString() ?? null,
    breakerState: a.breaker_state,
    spoolDepth: Number(a.outbox_depth),
    spoolOldestAgeMs: Number(a.outbox_oldest_age_ms),
    enrolledAt: a.enrolled_at.toISOString(),
  };
}
