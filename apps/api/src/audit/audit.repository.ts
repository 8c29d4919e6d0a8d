import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { PG_POOL } from '../database/database.module';

/** One audit row: who did what to what, when, from where, and how it ended. */
export interface AuditEntry {
  at: Date;
  /** `admin` (the bootstrap token), a token id, or an agent id. */
  actor: string;
  actorName: string | null;
  /** e.g. `jobs.submit`, `jobs.cancel`, `agents.drain`, `tokens.create`. */
  action: string;
  target: string | null;
  address: string | null;
  /** `ok`, `accepted`, or the refusal's error code in lower case (`forbidden`, `not_found`, …). */
  outcome: string;
  detail: Record<string, unknown> | null;
}

export interface AuditRow extends AuditEntry {
  seq: string;
}

export interface AuditQuery {
  action?: string;
  actor?: string;
  target?: string;
  since?: Date;
  beforeSeq?: string;
  limit: number;
}

interface DbRow {
  seq: string;
  at: Date;
  actor: string;
  actor_name: string | null;
  action: string;
  target: string | null;
  address: string | null;
  outcome: string;
  detail: Record<string, unknown> | null;
}

@Injectable()
export class AuditRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  async insert(e: AuditEntry): Promise<void> {
    await this.pool.query(
      `INSERT INTO audit_log (at, actor, actor_name, action, target, address, outcome, detail)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [e.at, e.actor, e.actorName, e.action, e.target, e.address, e.outcome, e.detail && JSON.stringify(e.detail)],
    );
  }

  /** Newest first, filtered; `beforeSeq` pages on. */
  async list(q: AuditQuery): Promise<AuditRow[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (sql: string, value: unknown): void => {
      args.push(value);
      where.push(sql.replace('?', `$${args.length}`));
    };
    if (q.action !== undefined) add('action = ?', q.action);
    if (q.actor !== undefined) add('actor = ?', q.actor);
    if (q.target !== undefined) add('target = ?', q.target);
    if (q.since !== undefined) add('at >= ?', q.since);
    if (q.beforeSeq !== undefined) add('seq < ?::bigint', q.beforeSeq);
    args.push(q.limit);
    const res = await this.pool.query<DbRow>(
      `SELECT seq::text AS seq, at, actor, actor_name, action, target, address, outcome, detail FROM audit_log
       ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY audit_log.seq DESC LIMIT $${args.length}`,
      args,
    );
    return res.rows.map((r) => ({
      seq: r.seq,
      at: r.at,
      actor: r.actor,
      actorName: r.actor_name,
      action: r.action,
      target: r.target,
      address: r.address,
      outcome: r.outcome,
      detail: r.detail,
    }));
  }
}
