import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { Journal } from '@jr/journal';
import { ATTR, endSpan, extractFromCarrier, injectToCarrier, SPANS, startDetachedSpan } from '@jr/telemetry';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { LOGGER, type Logger } from '../common/logger';
import { EnqueueService } from '../dispatch/enqueue.service';
import { INTAKE_JOURNAL } from '../journal/journal.module';
import { applyBisecting, RelayLoop, STOP_DRAIN_MS, type ApplyOutcome } from '../journal/relay-loop';
import { METRICS, type ApiMetrics } from '../telemetry/api-metrics';
import { decodeRecord, encodeRecord, type SubmittedRecord } from './intake-record';
import { IntakeRepository, type NewJob, type SubmissionOutcome } from './intake.repository';
import { PendingSubmissions, type PendingSubmission } from './pending-submissions';

/** Records per Postgres round trip (one multi-row INSERT, one addBulk). */
const BATCH = 500;
/** A stop waits at most this long for submissions being journaled (an append takes milliseconds). */
const ADMITTED_WAIT_MS = 3_000;

/**
 * Moves intake journal records to Postgres (the system of record) and BullMQ, in journal order and in
 * batches, off the request path: POST /v1/jobs answers once its record is synced, and this relay
 * applies it moments later. Every write is keyed by the job id, so a replay after a crash creates no
 * duplicates; the checkpoint advances over the applied prefix. At start-up everything after the
 * checkpoint is replayed before the API listens. While Postgres is down (or read-only) records wait
 * here (and in the journal, whose size limit is the backpressure) and are applied once it is back.
 * The loop itself (order, checkpoints, back-off, quarantine) is the shared `RelayLoop`; this class
 * supplies only the apply step: one multi-row insert, bisected at once when Postgres refuses a record.
 */
@Injectable()
export class IntakeRelayService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly relay: RelayLoop<SubmittedRecord>;
  private closing = false;
  private admitted = 0;
  private idle: (() => void) | undefined;

  constructor(
    @Inject(INTAKE_JOURNAL) journal: Journal,
    pending: PendingSubmissions,
    private readonly repo: IntakeRepository,
    private readonly enqueue: EnqueueService,
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(METRICS) metrics: ApiMetrics,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.relay = new RelayLoop<SubmittedRecord>({
      name: 'intake',
      journal,
      dataDir: config.dataDir,
      log,
      backlog: pending,
      batch: BATCH,
      decode: decodeRecord,
      encode: encodeRecord,
      apply: (batch) => this.applyBatch(batch),
      describe: (r) => ({ jobId: r.id }),
      onReplayed: (records) => metrics.reconciledJobs.inc({ kind: 'replayed' }, records),
    });
  }

  onApplicationBootstrap(): Promise<void> {
    return this.relay.start();
  }

  /**
   * Intake asks before it journals a submission: false once the stop began. A stop waits for the admitted
   * ones to be journaled and handed over before its relay drains, so none is left behind unapplied.
   */
  admit(): boolean {
    if (this.closing) return false;
    this.admitted++;
    return true;
  }

  /** An admitted submission is handed over (or was refused). */
  release(): void {
    if (--this.admitted === 0) this.idle?.();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.closing = true;
    if (this.admitted > 0)
      await new Promise<void>((resolve) => {
        this.idle = resolve;
        setTimeout(resolve, ADMITTED_WAIT_MS).unref();
      });
    return this.relay.close(STOP_DRAIN_MS);
  }

  /** A record is durable: index it and let the relay apply it. */
  accepted(lsn: number, record: SubmittedRecord): void {
    this.relay.accepted(lsn, record);
  }

  private applyBatch(batch: PendingSubmission[]): Promise<ApplyOutcome[]> {
    return applyBisecting(batch, (entries) => this.apply(entries));
  }

  /** One relay span per record, each under its own record's journal-append span (the batch is shared). */
  private async apply(batch: PendingSubmission[]): Promise<void> {
    const spans = batch.map(({ record: r }) =>
      startDetachedSpan(
        SPANS.relay,
        { [ATTR.jobId]: r.id, [ATTR.pool]: r.job.pool },
        { parent: extractFromCarrier(r.trace) },
      ),
    );
    try {
      const rows = batch.map(({ record: r }, i) => ({
        ...newJob(r),
        trace: carrierOrNull(injectToCarrier(spans[i]?.context)),
      }));
      const outcomes = await this.repo.apply(rows);
      const created = outcomes.flatMap((o) => (o.kind === 'created' || o.kind === 'unkeyed' ? [o.job] : []));
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
