import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { PG_POOL } from '../database/database.module';
import { withTransaction } from '../database/transaction';
import type { AgentRow, Enrollment } from './agents.repository';

/** Arbitrary but fixed: enrolments on every replica serialise on this key (names, pools, token uses). */
const ENROLL_LOCK_KEY = 0x6a72_656e;

/** What an enrolment finds, under the lock, for the service to decide on. */
export interface EnrollSeen {
  /** The agent of `previous_agent_id`, when it exists. */
  previous: AgentRow | undefined;
  /** Agents already holding the requested name. */
  sameName: AgentRow[];
  /** Pools served by agents that are neither lost nor revoked, `previous` left out. */
  poolsInUse: string[];
}

/** The service's decision: re-enrol `existingId` (its credential stays), or insert a new agent. */
export interface EnrollDecision {
  existingId: string | undefined;
  /** Count one use of the operator token (a new agent, or one moving to this token). */
  consumeToken: boolean;
}

export interface EnrollWrite {
  enrollment: Enrollment;
  previousId: string | undefined;
  newId: string;
  newCredentialHash: string;
  /** sha256 of the key of the enrolment's CSR (over TLS): pinned on the agent when it has none yet. */
  keySha256: string | undefined;
  /** The operator token enrolled with; undefined: the bootstrap JR_ENROLL_TOKEN. */
  tokenId: string | undefined;
  now: Date;
}

export type EnrollApplied = { kind: 'enrolled'; id: string; existing: boolean } | { kind: 'token_spent' };

/** Enrolment in one transaction under one advisory lock, so caps and names hold across replicas. */
@Injectable()
export class EnrollmentRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  /** `decide` may throw (a refusal): nothing is written then. */
  async enroll(w: EnrollWrite, decide: (seen: EnrollSeen) => EnrollDecision): Promise<EnrollApplied> {
    return withTransaction(this.pool, async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [ENROLL_LOCK_KEY]);
      const previous = w.previousId
        ? (await tx.query<AgentRow>('SELECT * FROM agents WHERE id = $1 FOR UPDATE', [w.previousId])).rows[0]
        : undefined;
      const sameName = (
        await tx.query<AgentRow>('SELECT * FROM agents WHERE name = $1 ORDER BY enrolled_at, id FOR UPDATE', [
          w.enrollment.name,
        ])
      ).rows;
      const pools = await tx.query<{ pool: string }>(
        `SELECT DISTINCT pool FROM agents WHERE state <> 'lost' AND revoked_at IS NULL AND id <> $1`,
        [previous?.id ?? ''],
      );
      const decision = decide({ previous, sameName, poolsInUse: pools.rows.map((r) => r.pool) });
      if (decision.consumeToken && w.tokenId !== undefined) {
        const used = await tx.query(
          `UPDATE enroll_tokens SET used = used + 1
           WHERE id = $1 AND used < uses AND revoked_at IS NULL AND expires_at > $2 RETURNING id`,
          [w.tokenId, w.now],
        );
        if (used.rowCount === 0) return { kind: 'token_spent' };
      }
      const e = w.enrollment;
      if (decision.existingId !== undefined) {
        // An operator's drain outlives re-enrolment: only an undrain lifts it, never the agent itself.
        await tx.query(
          `UPDATE agents SET name = $2, pool = $3, labels = $4, slots = $5, version = $6, enroll_token_id = $7,
             state = CASE WHEN drain_requested THEN 'draining' ELSE 'active' END, last_heartbeat_at = $8,
             cert_key_sha256 = COALESCE(cert_key_sha256, $9)
           WHERE id = $1`,
          [
            decision.existingId,
            e.name,
            e.pool,
            JSON.stringify(e.labels),
            e.slots,
            e.version,
            w.tokenId ?? null,
            w.now,
            w.keySha256 ?? null,
          ],
        );
        return { kind: 'enrolled', id: decision.existingId, existing: true };
      }
      await tx.query(
        `INSERT INTO agents (id, name, pool, labels, slots, version, credential_hash, state, last_heartbeat_at, enrolled_at, enroll_token_id, cert_key_sha256)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $8, $9, $10)`,
        [
          w.newId,
          e.name,
          e.pool,
          JSON.stringify(e.labels),
          e.slots,
          e.version,
          w.newCredentialHash,
          w.now,
          w.tokenId ?? null,
          w.keySha256 ?? null,
        ],
      );
      return { kind: 'enrolled', id: w.newId, existing: false };
    });
  }
}
