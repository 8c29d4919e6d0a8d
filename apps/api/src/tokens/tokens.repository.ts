import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import type { Scope } from '@jr/contracts';
import { PG_POOL } from '../database/database.module';

export interface TokenRow {
  id: string;
  name: string;
  secretSha256: string;
  scopes: Scope[];
  pool: string | null;
  createdAt: Date;
  createdBy: string;
  expiresAt: Date;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  lastUsedAddress: string | null;
}

export type NewToken = Omit<TokenRow, 'revokedAt' | 'lastUsedAt' | 'lastUsedAddress'>;

interface DbRow {
  id: string;
  name: string;
  secret_sha256: string;
  scopes: string[];
  pool: string | null;
  created_at: Date;
  created_by: string;
  expires_at: Date;
  revoked_at: Date | null;
  last_used_at: Date | null;
  last_used_address: string | null;
}

const COLUMNS =
  'id, name, secret_sha256, scopes, pool, created_at, created_by, expires_at, revoked_at, last_used_at, last_used_address';

@Injectable()
export class TokensRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  async insert(t: NewToken): Promise<void> {
    await this.pool.query(
      `INSERT INTO api_tokens (id, name, secret_sha256, scopes, pool, created_at, created_by, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [t.id, t.name, t.secretSha256, t.scopes, t.pool, t.createdAt, t.createdBy, t.expiresAt],
    );
  }

  async find(id: string): Promise<TokenRow | undefined> {
    const res = await this.pool.query<DbRow>(`SELECT ${COLUMNS} FROM api_tokens WHERE id = $1`, [id]);
    return res.rows[0] && toRow(res.rows[0]);
  }

  /** Newest first; revoked and expired ones too (the caller filters). */
  async list(limit: number): Promise<TokenRow[]> {
    const res = await this.pool.query<DbRow>(
      `SELECT ${COLUMNS} FROM api_tokens ORDER BY created_at DESC, id LIMIT $1`,
      [limit],
    );
    return res.rows.map(toRow);
  }

  /** Sets revoked_at once; answers the row (undefined: no such token). */
  async revoke(id: string, at: Date): Promise<TokenRow | undefined> {
    const res = await this.pool.query<DbRow>(
      `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, at],
    );
    return res.rows[0] && toRow(res.rows[0]);
  }

  async touch(id: string, at: Date, address: string): Promise<void> {
    await this.pool.query('UPDATE api_tokens SET last_used_at = $2, last_used_address = $3 WHERE id = $1', [
      id,
      at,
      address,
    ]);
  }
}

function toRow(r: DbRow): TokenRow {
  return {
    id: r.id,
    name: r.name,
    secretSha256: r.secret_sha256,
    scopes: r.scopes as Scope[],
    pool: r.pool,
    createdAt: r.created_at,
    createdBy: r.created_by,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
    lastUsedAt: r.last_used_at,
    lastUsedAddress: r.last_used_address,
  };
}
