import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { PG_POOL } from '../database/database.module';
import { withTransaction } from '../database/transaction';
import { fenceCondition, type Fence } from '../leadership/fence-sql';

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
  /** `jr agents revoke`: every credential of the agent is refused from then on, until it is removed. */
  revoked_at: Date | null;
  /** The operator enroll token it enrolled with; null: the bootstrap JR_ENROLL_TOKEN. */
  enroll_token_id: string | null;
  /** sha256 of the SPKI of the key its client certificates are for (pinned at its first one); null: none yet. */
  cert_key_sha256: string | null;
  /** The API replica (JR_REPLICA_ID) that stored its last heartbeat; null: none yet. */
  last_replica: string | null;
}

export interface Enrollment {
  name: string;
  pool: string;
  labels: Record<string, string>;
  slots: number;
  version: string;
}

/** What a heartbeat reports. Its slots are the ones it enrolled with: a heartbeat cannot raise them. */
export interface AgentReport {
  running: number;
  breakerState: string;
  outboxDepth: number;
  outboxOldestAgeMs: number;
}

export interface AttemptRef {
  jobId: string;
  attempt: number;
}

export interface HeartbeatResult {
  /** The agent's row after the heartbeat. */
  agent: AgentRow;
  /** An enable-reporting request was pending (it is cleared now). */
  reportingRequested: boolean;
  /** The leases of `running` that were extended (the others are no longer this agent's). */
  extended: AttemptRef[];
  /** Live attempts of this agent whose job has a cancel request. */
  cancelRequested: AttemptRef[];
}

export type Removal =
  | { kind: 'unknown' }
  | { kind: 'refused'; reason: string }
  | { kind: 'removed'; agent: AgentRow; endedAttempts: AttemptRef[] };

export interface LiveAttemptRef {
  jobId: string;
  attempt: number;
  leaseToken: string;
}

@Injectable()
export class AgentsRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  async find(id: string): Promise<AgentRow | undefined> {
    const res = await this.pool.query<AgentRow>('SELECT * FROM agents WHERE id = $1', [id]);
    return res.rows[0];
  }

  /**
   * One heartbeat in one statement, and only if `credentialHash` is still the agent's (a re-enrolment
   * anywhere replaces it, and the old credential is refused from then on): records the report (a lost
   * agent that speaks again is active, or draining, again), extends the leases it still holds, reads
   * the live attempts whose job has a cancel request, and reads-and-clears the reporting flag. The flag
   * is read under the row lock (FOR UPDATE) so that an enable-reporting committed concurrently is either
   * seen here or lands after this heartbeat, never cleared unseen. Undefined: unknown agent or stale credential.
   */
  async heartbeat(
    id: string,
    credentialHash: string,
    r: AgentReport,
    running: LiveAttemptRef[],
    now: Date,
    leaseExpiresAt: Date,
    replica: string | null = null,
  ): Promise<HeartbeatResult | undefined> {
    const res = await this.pool.query<
      AgentRow & {
        reporting: boolean;
        extended: Array<{ j: string; n: number }>;
        cancels: Array<{ j: string; n: number }>;
      }
    >(
      `WITH prev AS (
         SELECT id, reporting_enable_requested AS reporting FROM agents
         WHERE id = $1 AND credential_hash = $2 AND revoked_at IS NULL FOR UPDATE
       ), hb AS (
         UPDATE agents a SET last_heartbeat_at = $3, running = $4, breaker_state = $5,
           outbox_depth = $6, outbox_oldest_age_ms = $7, state = CASE WHEN a.drain_requested THEN 'draining' ELSE 'active' END,
           reporting_enable_requested = false, last_replica = coalesce($12, a.last_replica)
         FROM prev WHERE a.id = prev.id
         RETURNING a.*, prev.reporting
       ), ext AS (
         UPDATE attempts t SET lease_expires_at = GREATEST(t.lease_expires_at, $8)
         FROM unnest($9::text[], $10::int[], $11::text[]) AS r(job_id, n, token)
         WHERE t.job_id = r.job_id AND t.n = r.n AND t.lease_token = r.token AND t.agent_id = $1 AND t.state IN ('leased','running')
           AND EXISTS (SELECT 1 FROM prev)
         RETURNING t.job_id, t.n
       )
       SELECT hb.*,
         (SELECT coalesce(json_agg(json_build_object('j', e.job_id, 'n', e.n)), '[]'::json) FROM ext e) AS extended,
         (SELECT coalesce(json_agg(json_build_object('j', c.job_id, 'n', c.n)), '[]'::json)
            FROM attempts c JOIN jobs j ON j.id = c.job_id
           WHERE c.agent_id = $1 AND c.state IN ('leased','running') AND j.cancel_requested) AS cancels
       FROM hb`,
      [
        id,
        credentialHash,
        now,
        r.running,
        r.breakerState,
        r.outboxDepth,
        r.outboxOldestAgeMs,
        leaseExpiresAt,
        running.map((x) => x.jobId),
        running.map((x) => x.attempt),
        running.map((x) => x.leaseToken),
        replica,
      ],
    );
    const row = res.rows[0];
    if (!row) return undefined;
    const { reporting, extended, cancels, ...agent } = row;
    return {
      agent,
      reportingRequested: reporting,
      extended: extended.map((e) => ({ jobId: e.j, attempt: e.n })),
      cancelRequested: cancels.map((c) => ({ jobId: c.j, attempt: c.n })),
    };
  }

  async requestDrain(id: string): Promise<boolean> {
    const res = await this.pool.query(
      `UPDATE agents SET drain_requested = true, state = CASE WHEN state = 'lost' THEN state ELSE 'draining' END WHERE id = $1`,
      [id],
    );
    return (res.rowCount ?? 0) > 0;
  }

  /** Lifts a drain; the agent's next heartbeat carries no drain directive and it leases again. Undefined: unknown agent. */
  async requestUndrain(id: string): Promise<AgentRow | undefined> {
    const res = await this.pool.query<AgentRow>(
      `UPDATE agents SET drain_requested = false, state = CASE WHEN state = 'draining' THEN 'active' ELSE state END WHERE id = $1 RETURNING *`,
      [id],
    );
    return res.rows[0];
  }

  /**
   * Deletes the agent's row (its credential with it) if `refuse` finds no reason not to, given the row and
   * its live attempts, all under the row lock. The live attempts' leases end `now`: the reaper ends them
   * `lost` and sends their jobs through the retry decision at its next pass, as for any expired lease.
   */
  async remove(
    id: string,
    now: Date,
    refuse: (agent: AgentRow, liveAttempts: number) => string | undefined,
  ): Promise<Removal> {
    return withTransaction(this.pool, async (tx) => {
      const agent = (await tx.query<AgentRow>('SELECT * FROM agents WHERE id = $1 FOR UPDATE', [id])).rows[0];
      if (!agent) return { kind: 'unknown' };
      const live = await tx.query<{ job_id: string; n: number }>(
        `SELECT job_id, n FROM attempts WHERE agent_id = $1 AND state IN ('leased','running') ORDER BY job_id, n FOR UPDATE`,
        [id],
      );
      const refusal = refuse(agent, live.rows.length);
      if (refusal !== undefined) return { kind: 'refused', reason: refusal };
      await tx.query(
        `UPDATE attempts SET lease_expires_at = LEAST(lease_expires_at, $2) WHERE agent_id = $1 AND state IN ('leased','running')`,
        [id, now],
      );
      await tx.query('DELETE FROM agents WHERE id = $1', [id]);
      return { kind: 'removed', agent, endedAttempts: live.rows.map((r) => ({ jobId: r.job_id, attempt: r.n })) };
    });
  }

  /**
   * Revokes the agent (idempotent: the first revocation time stays) and ends the leases of its live
   * attempts now: the caller ends them `lost` at once. Undefined: unknown agent.
   */
  async revoke(id: string, now: Date): Promise<{ agent: AgentRow; endedAttempts: AttemptRef[] } | undefined> {
    return withTransaction(this.pool, async (tx) => {
      // FOR UPDATE waits for grants in flight (they hold KEY SHARE), so the attempts below include theirs
      await tx.query('SELECT 1 FROM agents WHERE id = $1 FOR UPDATE', [id]);
      const agent = (
        await tx.query<AgentRow>('UPDATE agents SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1 RETURNING *', [
          id,
          now,
        ])
      ).rows[0];
      if (!agent) return undefined;
      const ended = await tx.query<{ job_id: string; n: number }>(
        `UPDATE attempts SET lease_expires_at = LEAST(lease_expires_at, $2::timestamptz - interval '1 millisecond')
         WHERE agent_id = $1 AND state IN ('leased','running') RETURNING job_id, n`,
        [id, now],
      );
      return { agent, endedAttempts: ended.rows.map((r) => ({ jobId: r.job_id, attempt: r.n })) };
    });
  }

  /** For one agent, or every agent when `id` is undefined; returns how many were flagged. */
  async requestReportingEnable(id: string | undefined): Promise<number> {
    const res =
      id === undefined
        ? await this.pool.query('UPDATE agents SET reporting_enable_requested = true')
        : await this.pool.query('UPDATE agents SET reporting_enable_requested = true WHERE id = $1', [id]);
    return res.rowCount ?? 0;
  }

  /**
   * Marks lost the agents silent since `cutoff`, but those a live replica heard (`spare.agents`) and those
   * whose last replica (agents.last_replica; '' for none) is in its amnesty (`spare.replicas`). Fenced: a
   * deposed leader's pass changes nothing.
   */
  async markLost(
    cutoff: Date,
    fence: Fence,
    spare: { agents: readonly string[]; replicas: readonly string[] } = { agents: [], replicas: [] },
  ): Promise<Array<{ id: string; pool: string }>> {
    const res = await this.pool.query<{ id: string; pool: string }>(
      `UPDATE agents SET state = 'lost' WHERE state <> 'lost' AND last_heartbeat_at < $1
         AND NOT (id = ANY($2::text[])) AND NOT (coalesce(last_replica, '') = ANY($3::text[]))
         AND ${fenceCondition(4, 5)}
       RETURNING id, pool`,
      [cutoff, spare.agents, spare.replicas, fence.duty, fence.epoch],
    );
    return res.rows;
  }

  /** Agents not lost, most recently heard first. */
  async listActive(limit: number): Promise<AgentRow[]> {
    const res = await this.pool.query<AgentRow>(
      `SELECT * FROM agents WHERE state <> 'lost' ORDER BY last_heartbeat_at DESC NULLS LAST LIMIT $1`,
      [limit],
    );
    return res.rows;
  }

  /** Every agent of these pools (lost ones too, revoked ones not) as job placement weighs them (jobs/placement.service.ts). */
  async placementOf(
    pools: string[],
  ): Promise<Array<Pick<AgentRow, 'pool' | 'labels' | 'state' | 'drain_requested' | 'last_heartbeat_at'>>> {
    const res = await this.pool.query<
      Pick<AgentRow, 'pool' | 'labels' | 'state' | 'drain_requested' | 'last_heartbeat_at'>
    >(
      'SELECT pool, labels, state, drain_requested, last_heartbeat_at FROM agents WHERE pool = ANY($1::text[]) AND revoked_at IS NULL',
      [pools],
    );
    return res.rows;
  }

  async knownPools(): Promise<string[]> {
    const res = await this.pool.query<{ pool: string }>(
      `SELECT DISTINCT pool FROM agents WHERE state <> 'lost' AND revoked_at IS NULL`,
    );
    return res.rows.map((r) => r.pool);
  }

  async list(): Promise<AgentRow[]> {
    const res = await this.pool.query<AgentRow>('SELECT * FROM agents ORDER BY enrolled_at DESC, id');
    return res.rows;
  }

  async countByState(): Promise<Array<{ state: string; count: number }>> {
    const res = await this.pool.query<{ state: string; count: number }>(
      'SELECT state, count(*)::int AS count FROM agents GROUP BY state',
    );
    return res.rows;
  }
}
