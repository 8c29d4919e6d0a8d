import { Inject, Injectable } from '@nestjs/common';
import {
  DomainError,
  JOB_ID_RE,
  POOL_RE,
  SCHEDULE_ID_RE,
  isJobState,
  type JobPage,
  type JobView,
  type SubmitResult,
} from '@jr/contracts';
import { CLOCK, type Clock } from '../config/app-config';
import { DomainEvents } from '../common/events';
import { METRICS, type ApiMetrics } from '../telemetry/api-metrics';
import { PendingSubmissions } from '../intake/pending-submissions';
import { UnappliedDirectory } from '../intake/unapplied-directory';
import { JobsRepository } from './jobs.repository';
import { PlacementService } from './placement.service';

/** How long cancel waits for a just-submitted job to reach Postgres before answering 503. */
const APPLY_WAIT_MS = 10_000;
/** How long a read waits for a job another replica accepted to reach Postgres before answering 503. */
const READ_WAIT_MS = 1_000;

export interface ListParams {
  state?: unknown;
  pool?: unknown;
  limit?: unknown;
  cursor?: unknown;
  schedule?: unknown;
  /** `exclude` (the default: canary jobs are the API's own), `include` or `only`. */
  canary?: unknown;
}

const CANARY_MODES = ['exclude', 'include', 'only'] as const;
type CanaryMode = (typeof CANARY_MODES)[number];

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
    private readonly directory: UnappliedDirectory,
  ) {}

  /**
   * From Postgres; a job acknowledged but not yet applied (relay lag, Postgres down) is shown from the
   * journal's index, or, when another replica acknowledged it, waited for (503 if it does not arrive).
   * `onlyPool` (a pool-restricted token): a job of another pool is NOT_FOUND, as if it did not exist
   * (no oracle for other pools' job ids).
   */
  async get(id: string, onlyPool: string | null = null): Promise<JobView> {
    if (!JOB_ID_RE.test(id)) throw new DomainError('NOT_FOUND', `no job ${id.slice(0, 64)}`);
    let postgresDown = false;
    const view = await this.jobs.findView(id).catch((err: unknown) => {
      if (!this.pending.get(id)) throw err;
      postgresDown = true;
      return undefined;
    });
    let found = view ?? this.pending.view(id);
    if (!found && !postgresDown) found = await this.elsewhere(id, READ_WAIT_MS, onlyPool);
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
    const scheduleId = one(p.schedule);
    const errors: Array<{ path: string; message: string }> = [];
    if (scheduleId !== undefined && !SCHEDULE_ID_RE.test(scheduleId))
      errors.push({ path: 'schedule', message: 'not a schedule id (s_…, as jr schedule list shows)' });
    const canary = (one(p.canary) ?? 'exclude') as CanaryMode;
    if (!CANARY_MODES.includes(canary)) errors.push({ path: 'canary', message: 'exclude, include or only' });
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
      await this.jobs.list({
        state: state as JobView['state'] | undefined,
        pool,
        scheduleId,
        canary,
        limit: limit + 1,
        beforeId,
      }),
      // acknowledged submissions not yet in Postgres: never a schedule's (its fires are written there directly)
      (state === undefined || state === 'queued') && scheduleId === undefined
        ? this.pending
            .list({ pool, beforeId, limit: limit + 1 })
            .filter((v) => canary === 'include' || (canary === 'only') === (v.spec.canary === true))
        : [],
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
    let r = await this.jobs.cancel(id, new Date(this.clock.now()));
    if (r.kind === 'missing' && (await this.elsewhere(id, APPLY_WAIT_MS)))
      r = await this.jobs.cancel(id, new Date(this.clock.now()));
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

  /** A job neither Postgres nor this replica knows: another replica's, on its way (waited for), or none. */
  private async elsewhere(id: string, waitMs: number, onlyPool: string | null = null): Promise<JobView | undefined> {
    let view: JobView | undefined;
    const recheck = async (): Promise<boolean> => {
      view = await this.jobs.findView(id);
      return view !== undefined;
    };
    const outcome = await this.directory.resolveMiss(id, waitMs, recheck, onlyPool);
    return outcome === 'appeared' ? view : undefined;
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
