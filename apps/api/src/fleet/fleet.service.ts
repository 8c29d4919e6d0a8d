import { Injectable } from '@nestjs/common';
import { DomainError, TARGET_STATES, type TargetPage, type TargetState } from '@jr/contracts';
import { JobsService } from '../jobs/jobs.service';
import { FleetRepository } from './fleet.repository';

const one = (v: unknown): string | undefined =>
  Array.isArray(v) ? one(v[0]) : typeof v === 'string' && v !== '' ? v : undefined;

/** `GET /v1/jobs/:id/targets`: a fleet job's targets in rollout order, paged. */
@Injectable()
export class FleetService {
  constructor(
    private readonly repo: FleetRepository,
    private readonly jobs: JobsService,
  ) {}

  async targets(id: string, query: Record<string, unknown>, onlyPool: string | null): Promise<TargetPage> {
    const state = one(query.state);
    const limitText = one(query.limit) ?? '100';
    const cursor = one(query.cursor);
    const errors: Array<{ path: string; message: string }> = [];
    if (state !== undefined && !(TARGET_STATES as readonly string[]).includes(state))
      errors.push({ path: 'state', message: `one of ${TARGET_STATES.join(', ')}` });
    if (!/^\d{1,3}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > 500)
      errors.push({ path: 'limit', message: 'an integer 1..500' });
    if (cursor !== undefined && !/^\d{1,9}$/.test(cursor))
      errors.push({ path: 'cursor', message: 'not a cursor from a previous page' });
    if (errors.length > 0) throw new DomainError('INVALID_INPUT', 'bad query parameters', { errors });
    const job = await this.jobs.get(id, onlyPool); // 404 as for any job (pool-restricted tokens included)
    if (job.spec.fleet === undefined) throw new DomainError('NOT_FOUND', `job ${job.id} is not a fleet job`);
    const page = await this.repo.page(job.id, {
      ...(state !== undefined ? { state: state as TargetState } : {}),
      afterSeq: cursor === undefined ? 0 : Number(cursor),
      limit: Number(limitText),
    });
    return { items: page.items, nextCursor: page.lastSeq === null ? null : String(page.lastSeq) };
  }
}
