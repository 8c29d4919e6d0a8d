import { Inject, Injectable } from '@nestjs/common';
import { DomainError, newJobId, parseJobSpec, type SubmitResult } from '@jr/contracts';
import type { Journal } from '@jr/journal';
import { CLOCK, type Clock } from '../config/app-config';
import { LOGGER, type Logger } from '../common/logger';
import { Metrics } from '../common/metrics';
import { INTAKE_JOURNAL } from '../journal/journal.module';
import { JobsRepository } from '../jobs/jobs.repository';
import { encodeRecord, parseIdempotencyKey, requestHash, type SubmittedRecord } from './intake-record';
import { IntakeRelayService } from './intake-relay.service';

export interface SubmitAnswer {
  status: 200 | 202;
  result: SubmitResult;
}

interface Prior {
  id: string;
  requestHash: string;
  state?: SubmitResult['state'];
}

/**
 * POST /v1/jobs: validate, journal durably (fsync) BEFORE answering, then apply to Postgres/BullMQ.
 * The answer is 202 once the record is on disk, even when applying must wait for the relay.
 */
@Injectable()
export class IntakeService {
  /** Idempotency keys journaled but maybe not yet in Postgres. */
  private readonly pendingKeys = new Map<string, Prior>();

  constructor(
    @Inject(INTAKE_JOURNAL) private readonly journal: Journal,
    private readonly jobs: JobsRepository,
    private readonly relay: IntakeRelayService,
    private readonly metrics: Metrics,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  async submit(body: unknown, idempotencyKey: string | string[] | undefined): Promise<SubmitAnswer> {
    const key = parseIdempotencyKey(idempotencyKey);
    if (!key.ok) throw new DomainError('INVALID_INPUT', key.message, { errors: [{ path: 'Idempotency-Key', message: key.message }] });
    const parsed = parseJobSpec(body);
    if (!parsed.ok) throw new DomainError('INVALID_INPUT', 'invalid job document', { errors: parsed.issues });
    const hash = requestHash(parsed.job);
    const prior = key.key === null ? undefined : await this.findPrior(key.key);
    if (prior) return this.answerDuplicate(prior, hash);
    const now = this.clock.now();
    const record: SubmittedRecord = { type: 'job.submitted', id: newJobId(now), job: parsed.job, idempotencyKey: key.key, requestHash: hash, at: now };
    if (key.key !== null) this.pendingKeys.set(key.key, { id: record.id, requestHash: hash });
    const lsn = await this.append(record);
    this.metrics.jobSubmitted();
    const outcome = await this.relay.applyNow(lsn, record);
    if (key.key !== null && outcome) this.pendingKeys.delete(key.key);
    if (outcome?.kind === 'duplicate-key') return this.answerDuplicate({ id: outcome.existingId, requestHash: outcome.existingHash, state: outcome.state }, hash);
    return { status: 202, result: { id: record.id, state: 'queued' } };
  }

  private async append(record: SubmittedRecord): Promise<number> {
    try {
      return await this.journal.append(encodeRecord(record));
    } catch (err) {
      if (record.idempotencyKey !== null) this.pendingKeys.delete(record.idempotencyKey);
      const code = (err as { code?: unknown }).code;
      if (code === 'JOURNAL_FULL') throw new DomainError('NOT_ACCEPTING', 'intake journal full; retry later', { retryAfterSeconds: 5 });
      this.log.error({ err: String(err) }, 'intake journal append failed');
      throw new DomainError('NOT_ACCEPTING', 'intake journal unavailable; retry later', { retryAfterSeconds: 5 });
    }
  }

  private async findPrior(key: string): Promise<Prior | undefined> {
    const pending = this.pendingKeys.get(key);
    if (pending) return pending;
    try {
      return await this.jobs.findByIdempotencyKey(key);
    } catch (err) {
      this.log.warn({ err: String(err) }, 'idempotency lookup failed; the relay resolves duplicates');
      return undefined;
    }
  }

  private answerDuplicate(prior: Prior, hash: string): SubmitAnswer {
    if (prior.requestHash !== hash) throw new DomainError('CONFLICT', `Idempotency-Key already used for job ${prior.id} with a different body`);
    return { status: 200, result: { id: prior.id, state: prior.state ?? 'queued' } };
  }
}
