import { Inject, Injectable } from '@nestjs/common';
import type { Journal } from '@jr/journal';
import { ATTR, endSpan, extractFromCarrier, injectToCarrier, SPANS, startDetachedSpan } from '@jr/telemetry';
import { LOGGER, type Logger } from '../common/logger';
import { EnqueueService } from '../dispatch/enqueue.service';
import {
  ALREADY_APPLIED,
  APPLIED,
  applyBisecting,
  type ApplyOutcome,
  type RelayBacklog,
  type RelaySpec,
} from '../journal/relay-loop';
import { decodeRecord, encodeRecord, type SubmittedRecord } from './intake-record';
import { IntakeRepository, type NewJob, type SubmissionOutcome } from './intake.repository';
import type { PendingSubmission } from './pending-submissions';

/** Records per Postgres round trip (one multi-row INSERT, one addBulk). */
const BATCH = 500;

/**
 * THE apply step for intake records, shared by the live relay (IntakeRelayService) and `jr-api journal
 * replay`: one multi-row insert keyed by the job id (a record whose id is in Postgres already is not
 * applied twice), the created rows' BullMQ jobs in one addBulk, bisected at once when Postgres refuses a
 * record.
 */
@Injectable()
export class IntakeApplier {
  constructor(
    private readonly repo: IntakeRepository,
    private readonly enqueue: EnqueueService,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  apply(batch: PendingSubmission[]): Promise<ApplyOutcome[]> {
    return applyBisecting(batch, (entries) => this.applyAll(entries));
  }

  /** One relay span per record, each under its own record's journal-append span (the batch is shared). */
  private async applyAll(batch: PendingSubmission[]): Promise<ApplyOutcome[]> {
    const spans = batch.map(({ record: r }) =>
      startDetachedSpan(
        SPANS.relay,
        { [ATTR.jobId]: r.id, [ATTR.pool]: r.job.pool },
        { parent: extractFromCarrier(r.trace) },
      ),
    );
    let outcomes: SubmissionOutcome[];
    try {
      const rows = batch.map(({ record: r }, i) => ({
        ...newJob(r),
        trace: carrierOrNull(injectToCarrier(spans[i]?.context)),
      }));
      outcomes = await this.repo.apply(rows);
      // a fleet job is never queued itself: the fleet coordinator expands it and queues its targets' runs
      const fleet = new Set(batch.filter(({ record: r }) => r.job.fleet !== undefined).map(({ record: r }) => r.id));
      const created = outcomes.flatMap((o) =>
        (o.kind === 'created' || o.kind === 'unkeyed') && !fleet.has(o.job.id) ? [o.job] : [],
      );
      const contexts = new Map(batch.map(({ record: r }, i) => [r.id, spans[i]?.context]));
      await this.enqueue.enqueueMany(
        created.map((j) => ({
          jobId: j.id,
          pool: j.pool,
          labels: j.labels,
          round: j.rounds,
          trace: j.trace,
          parent: contexts.get(j.id),
        })),
      );
      outcomes.forEach((o) => this.logConflict(o));
    } catch (err) {
      for (const s of spans) endSpan(s.span, err);
      throw err;
    }
    for (const s of spans) endSpan(s.span);
    return outcomes.map((o) => (o.kind === 'exists' ? ALREADY_APPLIED : APPLIED));
  }

  private logConflict(o: SubmissionOutcome): void {
    if (o.kind === 'aliased')
      this.log.info(
        { id: o.id, jobId: o.jobId },
        'acknowledged submission repeated an Idempotency-Key; its id now names the existing job',
      );
    if (o.kind === 'unkeyed') {
      this.log.warn(
        { id: o.job.id, keyHolder: o.keyHolder },
        'acknowledged submission reused an Idempotency-Key with another body; it runs as its own job without the key',
      );
    }
  }
}

/** The intake relay as both the live relay and the replay run it: this journal, this backlog, this apply step. */
export function intakeRelaySpec(o: {
  journal: Journal;
  dataDir: string;
  log: Logger;
  backlog: RelayBacklog<SubmittedRecord>;
  applier: IntakeApplier;
}): RelaySpec<SubmittedRecord> {
  return {
    name: 'intake',
    journal: o.journal,
    dataDir: o.dataDir,
    log: o.log,
    backlog: o.backlog,
    batch: BATCH,
    decode: decodeRecord,
    encode: encodeRecord,
    apply: (batch) => o.applier.apply(batch),
    describe: (r) => ({ jobId: r.id }),
  };
}

function newJob(r: PendingSubmission['record']): Omit<NewJob, 'trace'> {
  return {
    id: r.id,
    job: r.job,
    idempotencyKey: r.idempotencyKey,
    requestHash: r.requestHash,
    secrets: r.secrets ?? null,
    at: new Date(r.at),
    actor: r.actor ?? null,
  };
}

function carrierOrNull(carrier: Record<string, string>): Record<string, string> | null {
  return Object.keys(carrier).length > 0 ? carrier : null;
}
