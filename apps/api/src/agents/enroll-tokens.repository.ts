import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { PG_POOL } from '../database/database.module';

export interface EnrollTokenRow {
  id: string;
  name: string;
  token_hash: string;
  pool: string;
  labels: Record<string, string>;
  uses: number;
  used: number;
  created_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
}

export type NewEnrollToken = Omit<EnrollTokenRow, 'used' | 'revoked_at'>;

/** Operator enroll tokens (migration 011): only sha256 of each token is stored. */
@Injectable()
export class EnrollTokensRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  async create(t: NewEnrollToken): Promise<EnrollTokenRow> {
    const res = await this.pool.query<EnrollTokenRow>(
      `INSERT INTO enroll_tokens (id, name, token_hash, pool, labels, uses, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
      [t.id, t.name, t.token_hash, t.pool, JSON.stringify(t.labels), t.uses, t.created_at, t.expires_at],
    );
    return res.rows[0] as EnrollTokenRow;
  }

  async findByHash(tokenHash: string): Promise<EnrollTokenRow | undefined> {
    const res = await this.pool.query<EnrollTokenRow>('SELECT * FROM enroll_tokens WHERE token_hash = $1', [tokenHash]);
    return res.rows[0];
  }

  /** Newest first; with the number of agents enrolled with each that are still on record. */
  async list(limit: number): Promise<Array<EnrollTokenRow & { agents: number }>> {
    const res = await this.pool.query<EnrollTokenRow & { agents: number }>(
      `SELECT t.*, (SELECT count(*)::int FROM agents a WHERE a.enroll_token_id = t.id) AS agents
       FROM enroll_tokens t ORDER BY t.created_at DESC, t.id LIMIT $1`,
      [limit],
    );
    return res.rows;
  }

  /** Idempotent: a revoked token keeps its first revocation time. Undefined: unknown id. */
  async revoke(id: string, now: Date): Promise<EnrollTokenRow | undefined> {
    const res = await this.pool.query<EnrollTokenRow>(
      'UPDATE enroll_tokens SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1 RETURNING *',
      [id, now],
    );
    return res.rows[0];
  }
}
