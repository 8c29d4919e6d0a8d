import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import type { FleetSpec, NormalizedJob, TargetState, TargetView } from '@jr/contracts';
import { PG_POOL } from '../database/database.module';
import { withTransaction, type Tx } from '../database/transaction';
import { holdsFence, type Fence } from '../leadership/fence-sql';

import { PIN_LABEL } from './pin-label';

export { PIN_LABEL };

/** A fleet job's row, as the coordinator reads it (locked). */
export interface FleetJobRow {
  id: string;
  state: string;
  spec: NormalizedJob & { fleet: FleetSpec };
  secrets: Record<string, string> | null;
  trace: unknown;
  cancel_requested: boolean;
  created_at: Date;
}

/** A target with what the planner needs to know about its agent and its run. */
export interface TargetRow {
  agent_id: string;
  name: string;
  seq: number;
  state: TargetState;
  batch: number | null;
  due_at: Date | null;
  run_id: string | null;
  ended_at: Date | null;
  /** The agent can lease now: active, not draining, not revoked, heard within two heartbeat intervals. */
  online: boolean;
  /** The run's state (null before it started). */
  run_state: string | null;
  run_updated_at: Date | null;
}

const TERMINAL = `('succeeded', 'failed', 'timed_out', 'cancelled')`;

/** Fleet jobs' targets and rollout progress in Postgres (the coordinator's writes run in its locked transaction). */
@Injectable()
export class FleetRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  /** Fleet jobs not yet ended, oldest first. */
  async live(limit: number): Promise<string[]> {
    const res = await this.pool.query<{ id: string }>(
      `SELECT id FROM jobs WHERE fleet AND state IN ('queued', 'leased', 'running') ORDER BY id LIMIT $1`,
      [limit],
    );
    return res.rows.map((r) => r.id);
  }

  /** Runs `fn` holding the fleet job's row (and the leader's fence); undefined when fenced off or gone. */
  async locked<T>(id: string, fence: Fence, fn: (tx: Tx, job: FleetJobRow) => Promise<T>): Promise<T | undefined> {
    return withTransaction(this.pool, async (tx) => {
      if (!(await holdsFence(tx, fence))) return undefined;
      const res = await tx.query<FleetJobRow>(
        `SELECT id, state, spec, secrets, trace, cancel_requested, created_at FROM jobs WHERE id = $1 AND fleet FOR UPDATE`,
        [id],
      );
      const job = res.rows[0];
      return job ? fn(tx, job) : undefined;
    });
  }

  async aborted(tx: Tx, jobId: string): Promise<boolean | undefined> {
    const res = await tx.query<{ aborted: boolean }>('SELECT aborted FROM fleet_rollouts WHERE job_id = $1', [jobId]);
    return res.rows[0]?.aborted;
  }

  /** The agents a selector names now (not revoked), in the rollout's order: by name, then id. */
  async resolve(tx: Tx, fleet: FleetSpec): Promise<Array<{ id: string; name: string }>> {
    const t = fleet.targets;
    if (t.kind === 'match') {
      const res = await tx.query<{ id: string; name: string }>(
        `SELECT id, name FROM agents WHERE pool = $1 AND labels @> $2::jsonb AND revoked_at IS NULL ORDER BY name, id`,
        [t.pool, JSON.stringify(t.labels)],
      );
      return res.rows;
    }
    const ids = t.agents.flatMap((a) => (a.kind === 'id' ? [a.id] : []));
    const names = t.agents.flatMap((a) => (a.kind === 'name' ? [a.name] : []));
    const res = await tx.query<{ id: string; name: string }>(
      `SELECT id, name FROM agents WHERE pool = $1 AND revoked_at IS NULL AND (id = ANY($2) OR name = ANY($3))`,
      [t.pool, ids, names],
    );
    return res.rows;
  }

  /** Adds targets after the existing ones (expansion, and continuous jobs' newcomers); returns how many. */
  async addTargets(
    tx: Tx,
    jobId: string,
    targets: Array<{ agentId: string; name: string; state: 'pending' | 'undelivered' }>,
    now: Date,
  ): Promise<number> {
    await tx.query(
      `INSERT INTO fleet_rollouts (job_id, expanded_at, updated_at) VALUES ($1, $2, $2) ON CONFLICT DO NOTHING`,
      [jobId, now],
    );
    if (targets.length === 0) return 0;
    const res = await tx.query(
      `INSERT INTO job_targets (job_id, agent_id, name, seq, state, ended_at)
       SELECT $1, r.agent, r.name, coalesce((SELECT max(seq) FROM job_targets WHERE job_id = $1), 0) + r.i, r.state,
         CASE WHEN r.state = 'pending' THEN NULL ELSE $5::timestamptz END
       FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS r(agent, name, state, i)
       ON CONFLICT DO NOTHING`,
      [jobId, targets.map((t) => t.agentId), targets.map((t) => t.name), targets.map((t) => t.state), now],
    );
    return res.rowCount ?? 0;
  }

  /** Targets whose run ended take its end (state, exit code, time). */
  async syncRuns(tx: Tx, jobId: string): Promise<Array<{ agentId: string; state: TargetState }>> {
    const res = await tx.query<{ agent_id: string; state: TargetState }>(
      `UPDATE job_targets t SET state = j.state, exit_code = j.exit_code, ended_at = coalesce(j.ended_at, j.updated_at)
       FROM jobs j WHERE t.job_id = $1 AND t.state = 'running' AND j.id = t.run_id AND j.state IN ${TERMINAL}
       RETURNING t.agent_id, t.state`,
      [jobId],
    );
    return res.rows.map((r) => ({ agentId: r.agent_id, state: r.state }));
  }

  async targets(tx: Tx, jobId: string, now: Date, heartbeatMs: number): Promise<TargetRow[]> {
    const res = await tx.query<TargetRow>(
      `SELECT t.agent_id, t.name, t.seq, t.state, t.batch, t.due_at, t.run_id, t.ended_at,
         coalesce(a.state = 'active' AND NOT a.drain_requested AND a.revoked_at IS NULL
           AND a.last_heartbeat_at > $2::timestamptz - make_interval(secs => $3 / 1000.0), false) AS online,
         j.state AS run_state, j.updated_at AS run_updated_at
       FROM job_targets t LEFT JOIN agents a ON a.id = t.agent_id LEFT JOIN jobs j ON j.id = t.run_id
       WHERE t.job_id = $1 ORDER BY t.seq`,
      [jobId, now, 2 * heartbeatMs],
    );
    return res.rows;
  }

  async markDue(tx: Tx, jobId: string, due: Array<{ agentId: string; batch: number }>, now: Date): Promise<void> {
    if (due.length === 0) return;
    await tx.query(
      `UPDATE job_targets t SET batch = r.batch, due_at = $4 FROM unnest($2::text[], $3::int[]) AS r(agent, batch)
       WHERE t.job_id = $1 AND t.agent_id = r.agent AND t.due_at IS NULL`,
      [jobId, due.map((d) => d.agentId), due.map((d) => d.batch), now],
    );
  }

  /** Ends pending (or stranded running) targets without a run: undelivered or skipped. */
  async endTargets(tx: Tx, jobId: string, agents: string[], state: 'undelivered' | 'skipped', now: Date) {
    if (agents.length === 0) return;
    await tx.query(
      `UPDATE job_targets SET state = $3, ended_at = $4 WHERE job_id = $1 AND agent_id = ANY($2) AND state IN ('pending', 'running')`,
      [jobId, agents, state, now],
    );
  }

  /**
   * Starts targets: one queued job each (the fleet job's spec without its fleet part, its secrets sealed
   * to the run, labels pinning it to the agent), and the targets `running`.
   */
  async startRuns(tx: Tx, job: FleetJobRow, runs: NewRun[], now: Date): Promise<void> {
    if (runs.length === 0) return;
    const { fleet: _fleet, ...spec } = job.spec;
    await tx.query(
      `INSERT INTO jobs (id, name, state, pool, labels, spec, request_hash, retries, created_at, updated_at, secrets, trace, parent_id, target_agent)
       SELECT r.id, $2, 'queued', $3, r.labels, $4, $5, $6, $7, $7, r.secrets, $8, $9, r.agent
       FROM unnest($1::text[], $10::jsonb[], $11::jsonb[], $12::text[]) AS r(id, labels, secrets, agent)
       ON CONFLICT DO NOTHING`,
      [
        runs.map((r) => r.id),
        spec.name,
        spec.pool,
        JSON.stringify(spec),
        `fleet:${job.id}`,
        spec.retries,
        now,
        job.trace === null || job.trace === undefined ? null : JSON.stringify(job.trace),
        job.id,
        runs.map((r) => JSON.stringify({ ...spec.labels, [PIN_LABEL]: r.agentId })),
        runs.map((r) => (r.secrets ? JSON.stringify(r.secrets) : null)),
        runs.map((r) => r.agentId),
      ],
    );
    await tx.query(
      `UPDATE job_targets t SET state = 'running', run_id = r.id, started_at = $4
       FROM unnest($2::text[], $3::text[]) AS r(agent, id) WHERE t.job_id = $1 AND t.agent_id = r.agent AND t.state = 'pending'`,
      [job.id, runs.map((r) => r.agentId), runs.map((r) => r.id), now],
    );
    await tx.query(`UPDATE jobs SET state = 'running', updated_at = $2 WHERE id = $1 AND state = 'queued'`, [
      job.id,
      now,
    ]);
  }

  async markAborted(tx: Tx, jobId: string, now: Date): Promise<void> {
    await tx.query('UPDATE fleet_rollouts SET aborted = true, updated_at = $2 WHERE job_id = $1', [jobId, now]);
  }

  /** The fleet job's end. */
  async finish(tx: Tx, jobId: string, state: string, reason: string | null, now: Date): Promise<void> {
    await tx.query(
      `UPDATE jobs SET state = $2, reason = $3, enqueue_pending = false, ended_at = $4, updated_at = $4
       WHERE id = $1 AND state NOT IN ${TERMINAL}`,
      [jobId, state, reason, now],
    );
  }

  /** The runs of a fleet job not yet ended (to cancel with it). */
  async liveRuns(tx: Tx, jobId: string): Promise<string[]> {
    const res = await tx.query<{ id: string }>(
      `SELECT id FROM jobs WHERE parent_id = $1 AND state NOT IN ${TERMINAL} AND NOT cancel_requested`,
      [jobId],
    );
    return res.rows.map((r) => r.id);
  }

  /** A page of a fleet job's targets in rollout order, after `afterSeq`. */
  async page(jobId: string, q: { state?: TargetState; afterSeq: number; limit: number }): Promise<TargetPageRows> {
    const res = await this.pool.query<TargetPageRow>(
      `SELECT agent_id, name, state, exit_code, batch, run_id, started_at, ended_at, seq FROM job_targets
       WHERE job_id = $1 AND seq > $2 AND ($3::text IS NULL OR state = $3) ORDER BY seq LIMIT $4`,
      [jobId, q.afterSeq, q.state ?? null, q.limit + 1],
    );
    const rows = res.rows.slice(0, q.limit);
    return { items: rows.map(toTargetView), lastSeq: res.rows.length > q.limit ? (rows.at(-1)?.seq ?? null) : null };
  }
}

export interface NewRun {
  id: string;
  agentId: string;
  secrets: Record<string, string> | null;
}

interface TargetPageRow {
  agent_id: string;
  name: string;
  state: TargetState;
  exit_code: number | null;
  batch: number | null;
  run_id: string | null;
  started_at: Date | null;
  ended_at: Date | null;
  seq: number;
}

export interface TargetPageRows {
  items: TargetView[];
  /** The seq to continue after, when more follow. */
  lastSeq: number | null;
}

function toTargetView(r: TargetPageRow): TargetView {
  return {
    agentId: r.agent_id,
    name: r.name,
    state: r.state,
    exitCode: r.exit_code,
    batch: r.batch,
    jobId: r.run_id,
    startedAt: r.started_at?.toISOString() ?? null,
    endedAt: r.ended_at?.toISOString() ?? null,
  };
}
