import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DomainError, newJobId, newScheduleId, type ScheduleTriggered, type ScheduleView } from '@jr/contracts';
import type { Principal } from '../auth/principal';
import { CLOCK, type Clock } from '../config/app-config';
import { EnqueueService } from '../dispatch/enqueue.service';
import { canonicalJson } from '../intake/intake-record';
import { SecretsService } from '../secrets/secrets.service';
import { nextFireTimesOrNone } from './fire-times';
import { insertFiredJobs, markTriggered, type FiredJob } from './schedule-fires';
import { toScheduleView, type ScheduleRow } from './schedule-row';
import { parseScheduleSpec, type ScheduleSpec } from './schedule-spec';
import { SchedulesRepository } from './schedules.repository';

/** The REST side of schedules: create, read, pause, resume, trigger, delete (firing: SchedulerService). */
@Injectable()
export class SchedulesService {
  constructor(
    private readonly repo: SchedulesRepository,
    private readonly secrets: SecretsService,
    private readonly enqueue: EnqueueService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** 201 for a new schedule; the same name with the same document again: 200 with its id; else 409. */
  async create(body: unknown, caller: Principal): Promise<{ id: string; created: boolean }> {
    const parsed = parseScheduleSpec(body);
    if (!parsed.ok) throw new DomainError('INVALID_INPUT', 'invalid schedule document', { errors: parsed.issues });
    const { spec, secrets } = parsed;
    this.checkPool(spec.job.pool, caller);
    const refused = this.secrets.refusal(secrets);
    if (refused)
      throw new DomainError('INVALID_INPUT', refused, { errors: [{ path: 'job.secrets', message: refused }] });
    const id = newScheduleId();
    const now = this.clock.now();
    const outcome = await this.repo.create({
      id,
      spec,
      requestHash: this.hash(spec, secrets),
      secrets: this.secrets.seal(id, secrets) ?? null,
      createdBy: caller.id,
      at: new Date(now),
      nextFireAt: spec.paused ? null : dateOrNull(nextFireTimesOrNone(spec, now, 1)[0]),
    });
    if (outcome.kind === 'created') return { id, created: true };
    if (outcome.sameDocument) return { id: outcome.id, created: false };
    throw new DomainError('CONFLICT', `a schedule named ${JSON.stringify(spec.name)} exists with another document`, {
      id: outcome.id,
    });
  }

  async list(caller: Principal): Promise<{ items: ScheduleView[] }> {
    return { items: await this.views(await this.repo.list(caller.pool)) };
  }

  async get(idOrName: string, caller: Principal): Promise<ScheduleView> {
    const [view] = await this.views([await this.row(idOrName, caller)]);
    return view as ScheduleView;
  }

  async pause(idOrName: string, paused: boolean, caller: Principal): Promise<ScheduleView> {
    const row = await this.row(idOrName, caller);
    const now = this.clock.now();
    const next = paused
      ? null
      : dateOrNull(nextFireTimesOrNone(row.spec, Math.max(now, row.settled_until.getTime()), 1)[0]);
    const updated = await this.repo.setPaused(row.id, paused, new Date(now), next);
    if (!updated) throw notFound(idOrName);
    return this.get(updated.id, caller);
  }

  async delete(idOrName: string, caller: Principal): Promise<void> {
    const row = await this.row(idOrName, caller);
    if (!(await this.repo.delete(row.id, new Date(this.clock.now())))) throw notFound(idOrName);
  }

  /** Makes the schedule's job now, whatever its overlap policy and pause say (an operator asked for it). */
  async trigger(idOrName: string, caller: Principal): Promise<ScheduleTriggered> {
    const found = await this.row(idOrName, caller);
    const fired = await this.repo.locked(found.id, null, async (tx, row) => {
      const at = new Date(this.clock.now());
      // a manual fire time is the request's instant; a clash with a fire time of the rule moves it on by 1 ms
      for (let fireTimeMs = at.getTime(); ; fireTimeMs++) {
        const jobId = newJobId(at.getTime());
        const jobs = [{ fireTimeMs, id: jobId, secrets: this.resealed(row, jobId) }];
        const [job] = await insertFiredJobs(tx, { row, jobs, manual: true, at });
        if (job) {
          await markTriggered(tx, row.id, new Date(fireTimeMs), at);
          return job;
        }
      }
    });
    if (!fired) throw notFound(idOrName);
    await this.enqueued([fired]);
    return { id: found.id, jobId: fired.id, fireTime: new Date(fired.fireTimeMs).toISOString() };
  }

  /** The job's secrets sealed to the new job's id (each job's envelopes open for that job only). */
  resealed(row: ScheduleRow, jobId: string): Record<string, string> | null {
    const names = row.spec.job.secrets ?? [];
    if (names.length === 0) return null;
    return this.secrets.seal(jobId, this.secrets.open(row.id, names, row.secrets)) ?? null;
  }

  /** Adds the fired jobs' BullMQ jobs (a failure only logs: the sweep adds them). */
  enqueued(jobs: FiredJob[]): Promise<void> {
    // a fleet job is queued by way of its targets (the fleet coordinator), never itself
    const queued = jobs.filter((j) => !j.fleet);
    return this.enqueue.enqueueMany(queued.map((j) => ({ jobId: j.id, pool: j.pool, labels: j.labels, round: 1 })));
  }

  private async row(idOrName: string, caller: Principal): Promise<ScheduleRow> {
    const row = idOrName.length <= 256 ? await this.repo.find(idOrName) : undefined;
    // a pool-restricted token sees no schedule of another pool (404, as for jobs)
    if (!row || (caller.pool !== null && row.spec.job.pool !== caller.pool)) throw notFound(idOrName);
    return row;
  }

  private async views(rows: ScheduleRow[]): Promise<ScheduleView[]> {
    const ids = rows.map((r) => r.id);
    const [missed, active] = await Promise.all([this.repo.missed(ids), this.repo.activeJobs(ids)]);
    const now = this.clock.now();
    return rows.map((r) =>
      toScheduleView(r, { missed: missed.get(r.id) ?? [], activeJobs: active.get(r.id) ?? [] }, now),
    );
  }

  private checkPool(pool: string, caller: Principal): void {
    if (caller.pool !== null && pool !== caller.pool)
      throw new DomainError(
        'FORBIDDEN',
        `the token may schedule jobs in pool ${caller.pool} only (the job names ${pool})`,
      );
  }

  /** The document's identity for an idempotent create (an HMAC when it carries secrets, as for jobs). */
  private hash(spec: ScheduleSpec, secrets: Record<string, string>): string {
    const canonical = canonicalJson(spec);
    if (Object.keys(secrets).length > 0) return this.secrets.requestHash(canonical, secrets);
    return `sha256:${createHash('sha256').update(canonical).digest('hex')}`;
  }
}

function notFound(idOrName: string): DomainError {
  return new DomainError('NOT_FOUND', `no schedule ${JSON.stringify(idOrName.slice(0, 64))}`);
}

function dateOrNull(ms: number | undefined): Date | null {
  return ms === undefined ? null : new Date(ms);
}
