import { Inject, Injectable } from '@nestjs/common';
import {
  DomainError,
  JOB_ID_RE,
  POOL_RE,
  isJobState,
  type JobPage,
  type JobView,
  type SubmitResult,
} from '@jr/contracts';
import { CLOCK, type Clock } from '../config/app-config';
import { DomainEvents } from '../common/events';
import { METRICS, type ApiMetrics } from '../telemetry/api-metrics';
import { PendingSubmissions } from '../intake/pending-submissions';
import { JobsRepository } from './jobs.repository';
import { PlacementService } from './placement.service';

/** How long cancel waits for a just-submitted job to reach Postgres before answering 503. */
const APPLY_WAIT_MS = 10_000;

export interface ListParams {
  state?: unknown;
  pool?: unknown;
  limit?: unknown;
  cursor?: unknown;
}

const one = (v: unknown): string | undefined =>
  Array.isArray(v) ? one(v[0]) : typeof v === 'string' && v !== '' ? v : undefined;

@Injectable()
export class JobsService {
  constructor(
    private readonly jobs: JobsRepository,
    private readonly events: DomainEvents,
    @Inject(METRICS) private readonly metrics: ApiMetrics,
    private readonly pending: PendingSubmissions,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly placement: PlacementService,
  ) {}

  /**
   * From Postgres; a job acknowledged but not yet applied (relay lag, Postgres down) is shown from the
   * journal's index. `onlyPool` (a pool-restricted token): a job of another pool is NOT_FOUND, as if
   * it did not exist (no oracle for other pools' job ids).
   */
  async get(id: string, onlyPool: string | null = null): Promise<JobView> {
    if (!JOB_ID_RE.test(id)) throw new DomainError('NOT_FOUND', `no job ${id.slice(0, 64)}`);
    let postgresDown = false;
    const view = await this.jobs.findView(id).catch((err: unknown) => {
      if (!this.pending.get(id)) throw err;
      postgresDown = true;
      return undefined;
    });
    const found = view ?? this.pending.view(id);
    if (!found || (onlyPool !== null && found.pool !== onlyPool))
      throw new DomainError('NOT_FOUND', `no job ${id.slice(0, 64)}`);
    // Postgres unreachable: the agents cannot be read either, and asking would only delay the answer
    return postgresDown ? found : ((await this.placement.withWaiting([found]))[0] ?? found);
  }

  /** `onlyPool` (a pool-restricted token): the page holds that pool's jobs only; asking for another pool is FORBIDDEN. */
  async list(p: ListParams, onlyPool: string | null = null): Promise<JobPage> {
    const state = one(p.state);
    const asked = one(p.pool);
    if (onlyPool !== null && asked !== undefined && asked !== onlyPool)
      throw new DomainError('FORBIDDEN', `the token is restricted to pool ${onlyPool}`);
    const pool = onlyPool ?? asked;
    const limitText = one(p.limit) ?? '50';
    const cursor = one(p.cursor);
    const errors: Array<{ path: string; message: string }> = [];
    if (state !== undefined && !isJobState(state)) errors.push({ path: 'state', message: 'not a job state' });
    if (pool !== undefined && !POOL_RE.test(pool)) errors.push({ path: 'pool', message: 'not a pool name' });
    if (!/^\d{1,3}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > 500)
      errors.push({ path: 'limit', message: 'an integer 1..500' });
    const beforeId = cursor === undefined ? undefined : decodeCursor(cursor);
    if (cursor !== undefined && beforeId === undefined)
      errors.push({ path: 'cursor', message: 'not a cursor from a previous page' });
    if (errors.length > 0) throw new DomainError('INVALID_INPUT', 'bad query parameters', { errors });
    const limit = Number(limitText);
    // one more than a page: a next page exists only if something is left after this one
    const merged = mergeNewestFirst(
      await this.jobs.list({ state: state as JobView['state'] | undefined, pool, limit: limit + 1, beforeId }),
      state === undefined || state === 'queued' ? this.pending.list({ pool, beforeId, limit: limit + 1 }) : [],
      limit + 1,
    );
    const items = await this.placement.withWaiting(merged.slice(0, limit));
    const last = items[items.length - 1];
    return { items, nextCursor: merged.length > limit && last ? encodeCursor(last.id) : null };
  }

  async cancel(id: string, onlyPool: string | null = null): Promise<SubmitResult> {
    if (!JOB_ID_RE.test(id)) throw new DomainError('NOT_FOUND', `no job ${id.slice(0, 64)}`);
    if (onlyPool !== null) await this.get(id, onlyPool);
    if (this.pending.get(id) && !(await this.pending.whenApplied(id, APPLY_WAIT_MS))) {
      throw new DomainError('DEPENDENCY_DOWN', `job ${id} is accepted but not yet stored; retry the cancel shortly`, {
        retryAfterSeconds: 2,
      });
    }
    const r = await this.jobs.cancel(id, new Date(this.clock.now()));
    switch (r.kind) {
      case 'missing':
        throw new DomainError('NOT_FOUND', `no job ${id}`);
      case 'terminal':
        throw new DomainError('ALREADY_TERMINAL', `job ${id} already ended ${r.state}`);
      case 'cancelled':
        this.events.jobChanged({
          jobId: r.jobId,
          kind: 'state',
          state: 'cancelled',
          dequeue: { pool: r.pool, round: r.rounds },
        });
        this.metrics.jobsFinished.inc({ pool: r.pool, state: 'cancelled' });
        this.metrics.jobDuration.observe(
          { pool: r.pool, state: 'cancelled' },
          Math.max(0, this.clock.now() - r.createdAt.getTime()) / 1000,
        );
        return { id, state: 'cancelled' };
      case 'requested':
        return { id, state: r.state };
    }
  }
}

/** Postgres rows and not-yet-applied submissions in one newest-first page (a row wins over its pending twin). */
function mergeNewestFirst(rows: JobView[], pending: JobView[], limit: number): JobView[] {
  if (pending.length === 0) return rows;
  const byId = new Map(pending.map((v) => [v.id, v]));
  for (const r of rows) byId.set(r.id, r);
  return [...byId.values()].sort((a, b) => (a.id < b.id ? 1 : -1)).slice(0, limit);
}

function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string | undefined {
  if (cursor.length > 100) return undefined;
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  return JOB_ID_RE.test(id) ? id : undefined;
}
