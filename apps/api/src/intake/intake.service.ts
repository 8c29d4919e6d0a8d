import { Inject, Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { DomainError, newJobId, parseJobSpec, type NormalizedJob, type SubmitResult } from '@jr/contracts';
import { isNoSpaceError, type Journal } from '@jr/journal';
import {
  annotateActiveSpan,
  ATTR,
  endSpan,
  extractFromCarrier,
  injectToCarrier,
  SpanKind,
  SPANS,
  startDetachedSpan,
  withSpan,
} from '@jr/telemetry';
import { CLOCK, type Clock } from '../config/app-config';
import { LOGGER, type Logger } from '../common/logger';
import { INTAKE_JOURNAL } from '../journal/journal.module';
import { METRICS, type ApiMetrics } from '../telemetry/api-metrics';
import { JobsRepository } from '../jobs/jobs.repository';
import { SecretsService } from '../secrets/secrets.service';
import {
  canonicalJson,
  unsignedJob,
  encodeRecord,
  parseIdempotencyKey,
  requestHash,
  type RecordActor,
  type SubmittedRecord,
} from './intake-record';
import { IdempotencyReservations } from './idempotency-reservations';
import { IntakeHealth, type IntakeRejectReason } from './intake-health';
import { IntakeRelayService } from './intake-relay.service';
import { PendingSubmissions } from './pending-submissions';
import { UnappliedDirectory } from './unapplied-directory';

export interface SubmitAnswer {
  status: 200 | 202;
  result: SubmitResult;
}

/** Who submits: the audit row's actor, and the one pool a pool-restricted token may submit to. */
export interface Submitter {
  actor?: RecordActor;
  onlyPool?: string | null;
  /** The API's own canary submitter: the only one that may mark a job `canary`. */
  canary?: boolean;
}

interface Prior {
  id: string;
  requestHash: string;
  state?: SubmitResult['state'];
}

/** Retry-After for each kind of refusal: a full journal drains in moments, a full disk needs an operator. */
const RETRY_AFTER_S: Record<Exclude<IntakeRejectReason, 'invalid_input'>, number> = {
  journal_full: 2,
  disk_full: 10,
  journal_error: 10,
  shutting_down: 5,
};

/**
 * POST /v1/jobs: validate, journal durably (fdatasync, group commit), answer 202. Applying the record
 * to Postgres and BullMQ is the relay's job, off the request path. A repeated Idempotency-Key is
 * answered from the journal's index of not-yet-applied records, else from its reservation in Redis
 * (shared by the replicas, see IdempotencyReservations), else from Postgres; concurrent requests with
 * one key wait for the first (on this replica in memory, across replicas through Redis) and share its id.
 */
@Injectable()
export class IntakeService implements BeforeApplicationShutdown {
  /** Keys of requests between "looked up" and "journaled", reserved synchronously. */
  private readonly reserved = new Map<string, Promise<Prior>>();
  private closing = false;
  private lookupFailing = false;

  constructor(
    @Inject(INTAKE_JOURNAL) private readonly journal: Journal,
    private readonly jobs: JobsRepository,
    private readonly pending: PendingSubmissions,
    private readonly directory: UnappliedDirectory,
    private readonly health: IntakeHealth,
    private readonly relay: IntakeRelayService,
    @Inject(METRICS) private readonly metrics: ApiMetrics,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGER) private readonly log: Logger,
    private readonly secrets: SecretsService,
    private readonly reservations: IdempotencyReservations,
  ) {}

  beforeApplicationShutdown(): void {
    this.closing = true;
  }

  /**
   * The root span of the job's trace (continuing the caller's W3C `traceparent` header when it sends a
   * valid one): journal append, relay, queue, lease and the agent's run all hang under it.
   */
  submit(
    body: unknown,
    idempotencyKey: string | string[] | undefined,
    traceHeaders: { traceparent?: unknown; tracestate?: unknown } = {},
    submitter: Submitter = {},
  ): Promise<SubmitAnswer> {
    const parent = extractFromCarrier({ ...traceHeaders });
    return withSpan(SPANS.submit, {}, () => this.submitNow(body, idempotencyKey, submitter), {
      parent,
      kind: SpanKind.SERVER,
    });
  }

  private async submitNow(
    body: unknown,
    idempotencyKey: string | string[] | undefined,
    submitter: Submitter,
  ): Promise<SubmitAnswer> {
    if (this.closing)
      throw this.refuse('shutting_down', 'the API is shutting down; retry against another replica or later');
    const key = parseIdempotencyKey(idempotencyKey);
    if (!key.ok) throw this.invalid(key.message, [{ path: 'Idempotency-Key', message: key.message }]);
    const parsed = parseJobSpec(body);
    if (!parsed.ok) throw this.invalid('invalid job document', parsed.issues);
    annotateActiveSpan({ [ATTR.pool]: parsed.job.pool });
    const only = submitter.onlyPool ?? null;
    if (only !== null && parsed.job.pool !== only)
      throw new DomainError(
        'FORBIDDEN',
        `the token may submit to pool ${only} only (the job names ${parsed.job.pool})`,
      );
    if (parsed.job.canary && !submitter.canary)
      throw this.invalid('canary jobs are submitted by the API itself (JR_CANARY_INTERVAL)', [
        { path: 'canary', message: "only the API's own canaries set canary" },
      ]);
    const refused = this.secrets.refusal(parsed.secrets);
    if (refused) throw this.invalid(refused, [{ path: 'secrets', message: refused }]);
    const job: Submission = { job: parsed.job, secrets: parsed.secrets };
    const hash =
      parsed.job.secrets === undefined
        ? requestHash(parsed.job)
        : this.secrets.requestHash(canonicalJson(unsignedJob(parsed.job)), parsed.secrets);
    const actor = submitter.actor;
    if (key.key === null) return this.accept(job, null, hash, actor);
    const earlier = this.reserved.get(key.key);
    if (earlier) return this.duplicate(await earlier, hash, parsed.job.pool);
    return this.acceptOnce(key.key, job, hash, actor);
  }

  /** First request with this key right now on this replica; others with the key here await this one. */
  private async acceptOnce(
    key: string,
    job: Submission,
    hash: string,
    actor: RecordActor | undefined,
  ): Promise<SubmitAnswer> {
    let settle!: { resolve: (p: Prior) => void; reject: (e: unknown) => void };
    const reservation = new Promise<Prior>((resolve, reject) => (settle = { resolve, reject }));
    reservation.catch(() => undefined);
    this.reserved.set(key, reservation);
    try {
      const { prior, answer } = await this.firstWithKey(key, job, hash, actor);
      settle.resolve(prior);
      return answer ?? this.duplicate(prior, hash, job.job.pool);
    } catch (err) {
      settle.reject(err);
      throw err;
    } finally {
      this.reserved.delete(key);
    }
  }

  /**
   * This replica's unapplied journal first; then the key's reservation in Redis (shared by the
   * replicas: a committed one is the answer, a pending one is waited for); then Postgres; else this
   * request journals and its reservation is committed (released if the journal refuses it).
   * `answer` is set when this request was accepted, else `prior` is what it repeats.
   */
  private async firstWithKey(
    key: string,
    job: Submission,
    hash: string,
    actor: RecordActor | undefined,
  ): Promise<{ prior: Prior; answer?: SubmitAnswer }> {
    const unapplied = this.pending.withKey(key);
    if (unapplied) return { prior: { id: unapplied.id, requestHash: unapplied.requestHash, state: 'queued' } };
    const id = newJobId(this.clock.now());
    const claim = await this.reservations.claim(key, id, hash);
    switch (claim.kind) {
      case 'duplicate':
        // Postgres, when it has the row, knows the state (and the job the relay kept, were there two ids)
        return { prior: (await this.findPrior(key)) ?? { ...claim.prior, state: 'queued' } };
      case 'busy':
        throw new DomainError(
          'NOT_ACCEPTING',
          'another request with this Idempotency-Key is being accepted by another replica; retry with the same key',
          { retryAfterSeconds: claim.retryAfterMs / 1_000, reason: 'idempotency_key_pending' },
        );
      case 'unavailable': {
        // a reservation whose fate is unknown is settled in the background: Redis is not answering now
        const prior = await this.findPrior(key);
        if (prior) {
          void claim.ticket?.commit(prior);
          return { prior };
        }
        let answer: SubmitAnswer;
        try {
          answer = await this.accept(job, key, hash, actor, id);
        } catch (err) {
          void claim.ticket?.release();
          throw err;
        }
        void claim.ticket?.commit({ id, requestHash: hash });
        return { prior: { id, requestHash: hash }, answer };
      }
      case 'mine': {
        const prior = await this.findPrior(key);
        if (prior) {
          await claim.ticket.commit(prior);
          return { prior };
        }
        let answer: SubmitAnswer;
        try {
          answer = await this.accept(job, key, hash, actor, id);
        } catch (err) {
          await claim.ticket.release();
          throw err;
        }
        await claim.ticket.commit({ id, requestHash: hash });
        return { prior: { id, requestHash: hash }, answer };
      }
    }
  }

  private duplicate(prior: Prior, hash: string, pool: string): SubmitAnswer {
    const answer = answerDuplicate(prior, hash);
    this.metrics.jobsDeduplicated.inc({ pool });
    return answer;
  }

  /** Seal the secrets (bound to the id), journal (durable), hand to the relay, answer; refused once stopping. */
  private async accept(
    submission: Submission,
    key: string | null,
    hash: string,
    actor: RecordActor | undefined,
    id: string = newJobId(this.clock.now()),
  ): Promise<SubmitAnswer> {
    if (!this.relay.admit())
      throw this.refuse('shutting_down', 'the API is shutting down; retry against another replica or later');
    try {
      return await this.journalAndHandOver(submission, key, hash, actor, id);
    } finally {
      this.relay.release();
    }
  }

  private async journalAndHandOver(
    submission: Submission,
    key: string | null,
    hash: string,
    actor: RecordActor | undefined,
    id: string,
  ): Promise<SubmitAnswer> {
    const { job } = submission;
    const now = this.clock.now();
    const sealed = this.secrets.seal(id, submission.secrets);
    annotateActiveSpan({ [ATTR.jobId]: id });
    // detached (not made active: nothing under it starts spans); the relay continues the trace from it, even after a restart
    const append = startDetachedSpan(SPANS.journalAppend, { [ATTR.jobId]: id });
    const record: SubmittedRecord = {
      type: 'job.submitted',
      id,
      job,
      idempotencyKey: key,
      requestHash: hash,
      ...(sealed ? { secrets: sealed } : {}),
      at: now,
      trace: injectToCarrier(append.context),
      ...(actor ? { actor } : {}),
    };
    let lsn: number;
    try {
      lsn = await this.append(record);
    } catch (err) {
      endSpan(append.span, err);
      throw err;
    }
    endSpan(append.span);
    this.health.accepted();
    this.relay.accepted(lsn, record);
    // after the index holds it (a resync's snapshot then has it) and before the answer
    await this.directory.announce(record.id, job.pool);
    this.metrics.jobsSubmitted.inc({ pool: job.pool });
    return { status: 202, result: { id: record.id, state: 'queued' } };
  }

  private async append(record: SubmittedRecord): Promise<number> {
    const end = this.metrics.journalAppendDuration.startTimer();
    try {
      const lsn = await this.journal.append(encodeRecord(record));
      end();
      return lsn;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === 'JOURNAL_FULL') {
        const disk = isNoSpaceError((err as { cause?: unknown }).cause);
        throw this.refuse(
          disk ? 'disk_full' : 'journal_full',
          disk ? 'the disk under the intake journal is full; retry later' : 'intake journal full; retry later',
        );
      }
      this.log.error({ err: String(err) }, 'intake journal append failed');
      throw this.refuse('journal_error', 'intake journal unavailable; retry later');
    }
  }

  /** The journal's index first (acknowledged, maybe not applied), then Postgres. Postgres down: none known. */
  private async findPrior(key: string): Promise<Prior | undefined> {
    const unapplied = this.pending.withKey(key);
    if (unapplied) return { id: unapplied.id, requestHash: unapplied.requestHash, state: 'queued' };
    try {
      const found = await this.jobs.findByIdempotencyKey(key);
      this.lookupFailing = false;
      return found;
    } catch (err) {
      if (!this.lookupFailing)
        this.log.warn(
          { err: String(err) },
          'idempotency lookup failed; accepting, the relay resolves a repeated key when Postgres is back',
        );
      this.lookupFailing = true;
      return undefined;
    }
  }

  private refuse(reason: Exclude<IntakeRejectReason, 'invalid_input'>, message: string): DomainError {
    this.metrics.intakeRejected.inc({ reason });
    this.health.refused(reason, this.clock.now());
    return new DomainError('NOT_ACCEPTING', message, { retryAfterSeconds: RETRY_AFTER_S[reason], reason });
  }

  private invalid(message: string, errors: Array<{ path: string; message: string }>): DomainError {
    this.metrics.intakeRejected.inc({ reason: 'invalid_input' });
    return new DomainError('INVALID_INPUT', message, { errors });
  }
}

/** A parsed submission: the job (secret names only) and the secret values, in memory until sealed. */
interface Submission {
  job: NormalizedJob;
  secrets: Record<string, string>;
}

function answerDuplicate(prior: Prior, hash: string): SubmitAnswer {
  if (prior.requestHash !== hash)
    throw new DomainError('CONFLICT', `Idempotency-Key already used for job ${prior.id} with a different body`);
  return { status: 200, result: { id: prior.id, state: prior.state ?? 'queued' } };
}
