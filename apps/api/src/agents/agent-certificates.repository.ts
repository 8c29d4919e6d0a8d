import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { PG_POOL } from '../database/database.module';

export interface AgentCertificateRow {
  serial: string;
  agent_id: string;
  issued_at: Date;
  not_after: Date;
  revoked_at: Date | null;
}

/** The client certificates the agent CA issued (migration 012). */
@Injectable()
export class AgentCertificatesRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  async record(c: { serial: string; agentId: string; issuedAt: Date; notAfter: Date }): Promise<void> {
    await this.pool.query(
      'INSERT INTO agent_certificates (serial, agent_id, issued_at, not_after) VALUES ($1, $2, $3, $4)',
      [c.serial, c.agentId, c.issuedAt, c.notAfter],
    );
  }

  async find(serial: string): Promise<AgentCertificateRow | undefined> {
    const r = await this.pool.query<AgentCertificateRow>('SELECT * FROM agent_certificates WHERE serial = $1', [
      serial,
    ]);
    return r.rows[0];
  }

  /** Certificates not expired at `now` (revoked ones too), newest first: the serial caches at start-up. */
  async listUnexpired(now: Date, limit: number): Promise<AgentCertificateRow[]> {
    const r = await this.pool.query<AgentCertificateRow>(
      'SELECT * FROM agent_certificates WHERE not_after > $1 ORDER BY issued_at DESC LIMIT $2',
      [now, limit],
    );
    return r.rows;
  }

  /** Revokes every certificate of the agent not revoked yet; the serials revoked now. */
  async revokeAgent(agentId: string, now: Date): Promise<string[]> {
    const r = await this.pool.query<{ serial: string }>(
      `UPDATE agent_certificates SET revoked_at = $2 WHERE agent_id = $1 AND revoked_at IS NULL RETURNING serial`,
      [agentId, now],
    );
    return r.rows.map((row) => row.serial);
  }
}
