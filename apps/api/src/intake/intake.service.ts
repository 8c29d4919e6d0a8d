import { Inject, Injectable } from '@nestjs/common';
import { DomainError, newJobId, parseJobSpec, type NormalizedJob, type SubmitResult } from '@jr/contracts';
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
/** How long a key stays reserved in memory when its record could not be applied yet (Postgres down). */
const UNAPPLIED_KEY_TTL_MS = 3_600_000;

@Injectable()
export class IntakeService {
  /**
   * Idempotency keys of submissions in flight or journaled but not yet in Postgres, reserved
   * synchronously so that concurrent requests with one key wait for the first and share its id.
   */
  private readonly keys = new Map<string, Promise<Prior>>();

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
    if (key.key === null) return this.accept(parsed.job, null, hash);
    const earlier = this.keys.get(key.key);
    if (earlier) return this.answerDuplicate(await earlier, hash);
    return this.acceptOnce(key.key, parsed.job, hash);
  }

  /** First request with this key in this process: look it up, else journal it; others await this one. */
  private async acceptOnce(key: string, job: NormalizedJob, hash: string): Promise<SubmitAnswer> {
    let settle!: { resolve: (p: Prior) => void; reject: (e: unknown) => void };
    const reservation = new Promise<Prior>((resolve, reject) => (settle = { resolve, reject }));
    reservation.catch(() => undefined);
    this.keys.set(key, reservation);
    let keep = false;
    try {
      const prior = await this.findPrior(key);
      if (prior) {
        settle.resolve(prior);
        return this.answerDuplicate(prior, hash);
      }
      const answer = await this.accept(job, key, hash, settle.resolve);
      keep = answer.applied === false;
      return answer;
    } catch (err) {
      settle.reject(err);
      throw err;
    } finally {
      if (!keep) this.keys.delete(key);
      else setTimeout(() => this.keys.get(key) === reservation && this.keys.delete(key), UNAPPLIED_KEY_TTL_MS).unref();
    }
  }

  /** Journal (durable), then apply; `onSettled` learns which job the key now names. */
  private async accept(job: NormalizedJob, key: string | null, hash: string, onSettled?: (prior: Prior) => void): Promise<SubmitAnswer & { applied: boolean }> {
    const now = this.clock.now();
    const record: SubmittedRecord = { type: 'job.submitted', id: newJobId(now), job, idempotencyKey: key, requestHash: hash, at: now };
    const lsn = await this.append(record);
    this.metrics.jobSubmitted();
    const outcome = await this.relay.applyNow(lsn, record);
    if (outcome?.kind === 'duplicate-key') {
      // another API replica took the key first: its job is the one
      const prior = { id: outcome.existingId, requestHash: outcome.existingHash, state: outcome.state };
      onSettled?.(prior);
      return { ...this.answerDuplicate(prior, hash), applied: true };
    }
    onSettled?.({ id: record.id, requestHash: hash });
    return { status: 202, result: { id: record.id, state: 'queued' }, applied: outcome !== undefined };
  }

  private async append(record: SubmittedRecord): Promise<number> {
    try {
      return await this.journal.append(encodeRecord(record));
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === 'JOURNAL_FULL') throw new DomainError('NOT_ACCEPTING', 'intake journal full; retry later', { retryAfterSeconds: 5 });
      this.log.error({ err: String(err) }, 'intake journal append failed');
      throw new DomainError('NOT_ACCEPTING', 'intake journal unavailable; retry later', { retryAfterSeconds: 5 });
    }
  }

  private async findPrior(key: string): Promise<Prior | undefined> {
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
