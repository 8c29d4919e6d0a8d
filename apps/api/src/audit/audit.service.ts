import { Inject, Injectable } from '@nestjs/common';
import { DomainError, parseDurationMs } from '@jr/contracts';
import { CLOCK, type Clock } from '../config/app-config';
import type { Principal } from '../auth/principal';
import { AuditRepository, type AuditQuery, type AuditRow } from './audit.repository';

/** Who acted: the bootstrap admin (`admin`), an API token (its id and name), or an agent (its id and name). */
export interface AuditActor {
  id: string;
  name: string | null;
  address: string | null;
}

export interface AuditRecord {
  actor: AuditActor;
  action: string;
  target: string | null;
  outcome: string;
  detail?: Record<string, unknown>;
}

export interface AuditView {
  seq: string;
  at: string;
  actor: string;
  actorName: string | null;
  action: string;
  target: string | null;
  address: string | null;
  outcome: string;
  detail: Record<string, unknown> | null;
}

export function actorOf(p: Principal): AuditActor {
  return { id: p.id, name: p.name, address: p.address };
}

const one = (v: unknown): string | undefined =>
  Array.isArray(v) ? one(v[0]) : typeof v === 'string' && v !== '' ? v : undefined;
const FILTER_RE = /^[\x21-\x7e]{1,128}$/;

/**
 * The audit log: every mutating call, recorded before its answer is sent (submissions: by the intake
 * relay in the job row's statement). Other modules inject this service and call `record`.
 */
@Injectable()
export class AuditService {
  constructor(
    private readonly repo: AuditRepository,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async record(r: AuditRecord): Promise<void> {
    await this.repo.insert({
      at: new Date(this.clock.now()),
      actor: r.actor.id,
      actorName: r.actor.name,
      action: r.action,
      target: r.target,
      address: r.actor.address,
      outcome: r.outcome,
      detail: r.detail ?? null,
    });
  }

  /** GET /v1/audit: newest first; `action`, `actor`, `target` exact; `since` an ISO time or a duration back from now. */
  async list(params: Record<string, unknown>): Promise<{ items: AuditView[]; nextCursor: string | null }> {
    const q = this.query(params);
    const rows = await this.repo.list({ ...q, limit: q.limit + 1 });
    const items = rows.slice(0, q.limit).map(toView);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > q.limit && last ? last.seq : null };
  }

  private query(p: Record<string, unknown>): AuditQuery {
    const errors: Array<{ path: string; message: string }> = [];
    const text = (name: 'action' | 'actor' | 'target'): string | undefined => {
      const v = one(p[name]);
      if (v !== undefined && !FILTER_RE.test(v)) errors.push({ path: name, message: '1-128 printable characters' });
      return v;
    };
    const limitText = one(p.limit) ?? '50';
    if (!/^\d{1,3}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > 500)
      errors.push({ path: 'limit', message: 'an integer 1..500' });
    const cursor = one(p.cursor);
    if (cursor !== undefined && !/^[1-9]\d{0,17}$/.test(cursor))
      errors.push({ path: 'cursor', message: 'not a cursor from a previous page' });
    const since = this.since(one(p.since), errors);
    const q: AuditQuery = {
      action: text('action'),
      actor: text('actor'),
      target: text('target'),
      since,
      limit: Number(limitText),
    };
    if (errors.length > 0) throw new DomainError('INVALID_INPUT', 'bad query parameters', { errors });
    return cursor === undefined ? q : { ...q, beforeSeq: cursor };
  }

  private since(v: string | undefined, errors: Array<{ path: string; message: string }>): Date | undefined {
    if (v === undefined) return undefined;
    const back = /^\d/.test(v) && !v.includes('-') ? parseDurationMs(v) : undefined;
    const at = back !== undefined ? this.clock.now() - back : Date.parse(v);
    if (v.length > 40 || !Number.isFinite(at)) {
      errors.push({ path: 'since', message: 'an ISO 8601 time or a duration back from now (1h, 7d)' });
      return undefined;
    }
    return new Date(at);
  }
}

function toView(r: AuditRow): AuditView {
  return { ...r, at: r.at.toISOString() };
}
