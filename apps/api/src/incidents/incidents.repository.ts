import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { OUTAGE_CAUSES, type Incident, type IncidentCause } from '@jr/contracts';
import { PG_POOL } from '../database/database.module';
import type { Condition } from './incident-recorder';

/** An incident as the recorder holds it (times in ms; endedMs set once it is over). */
export interface IncidentRecord {
  id: string;
  cause: IncidentCause;
  scope: string;
  replica: string;
  startedMs: number;
  endedMs?: number;
  detail: string;
}

interface IncidentRow {
  id: string;
  cause: IncidentCause;
  scope: string;
  replica: string;
  started_at: Date;
  ended_at: Date | null;
  detail: string;
}

/** The most incidents one answer lists. */
export const INCIDENTS_LIST_MAX = 1_000;

/** Incidents in Postgres: written by the recorder (an upsert by id, so a retried write is harmless). */
@Injectable()
export class IncidentsRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  async save(records: readonly IncidentRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.pool.query(
      `INSERT INTO incidents (id, cause, scope, replica, started_at, ended_at, detail)
       SELECT id, cause, scope, replica, to_timestamp(s / 1000.0), to_timestamp(e / 1000.0), detail
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::float8[], $7::text[])
              AS u(id, cause, scope, replica, s, e, detail)
       ON CONFLICT (id) DO UPDATE SET ended_at = EXCLUDED.ended_at, detail = EXCLUDED.detail`,
      [
        records.map((r) => r.id),
        records.map((r) => r.cause),
        records.map((r) => r.scope),
        records.map((r) => r.replica),
        records.map((r) => r.startedMs),
        records.map((r) => r.endedMs ?? null),
        records.map((r) => r.detail),
      ],
    );
  }

  /** Open incidents: this replica's own, or (`causes`) those of fleet-wide causes a new leader adopts. */
  async open(filter: { replica: string } | { causes: readonly IncidentCause[] }): Promise<IncidentRecord[]> {
    const res = await this.pool.query<IncidentRow>(
      'replica' in filter
        ? `SELECT * FROM incidents WHERE ended_at IS NULL AND replica = $1`
        : `SELECT * FROM incidents WHERE ended_at IS NULL AND cause = ANY($1::text[])`,
      ['replica' in filter ? filter.replica : filter.causes],
    );
    return res.rows.map(toRecord);
  }

  /** Agents reporting an open breaker (not revoked, not lost: a lost agent's last word is stale). */
  async openBreakers(): Promise<Condition[]> {
    const res = await this.pool.query<{ id: string; name: string }>(
      `SELECT id, name FROM agents WHERE breaker_state = 'open' AND revoked_at IS NULL AND state <> 'lost' ORDER BY id`,
    );
    return res.rows.map((a) => ({
      cause: 'breaker_open',
      scope: a.id,
      detail: `agent ${a.name}: reporting breaker open (results wait in its outbox until re-enabled)`,
    }));
  }

  /** Incidents that overlap [from, to), newest first. */
  async list(fromMs: number, toMs: number, limit = INCIDENTS_LIST_MAX): Promise<Incident[]> {
    const res = await this.pool.query<IncidentRow>(
      `SELECT * FROM incidents
        WHERE started_at < to_timestamp($2::float8 / 1000.0)
          AND (ended_at IS NULL OR ended_at >= to_timestamp($1::float8 / 1000.0))
        ORDER BY started_at DESC, id LIMIT $3`,
      [fromMs, toMs, limit],
    );
    return res.rows.map((r) => toIncident(toRecord(r), toMs));
  }
}

function toRecord(r: IncidentRow): IncidentRecord {
  return {
    id: r.id,
    cause: r.cause,
    scope: r.scope,
    replica: r.replica,
    startedMs: r.started_at.getTime(),
    ...(r.ended_at ? { endedMs: r.ended_at.getTime() } : {}),
    detail: r.detail,
  };
}

/** The REST shape; an open incident's duration runs to `nowMs`. */
export function toIncident(r: IncidentRecord, nowMs: number): Incident {
  return {
    id: r.id,
    cause: r.cause,
    scope: r.scope,
    replica: r.replica,
    startedAt: new Date(r.startedMs).toISOString(),
    endedAt: r.endedMs !== undefined ? new Date(r.endedMs).toISOString() : null,
    durationMs: Math.max(0, (r.endedMs ?? nowMs) - r.startedMs),
    outage: OUTAGE_CAUSES.has(r.cause),
    detail: r.detail,
  };
}
