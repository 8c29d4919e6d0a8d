import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { Journal } from '@jr/journal';
import { Backoff, sleep } from '@jr/resilience';
import { ATTR, endSpan, extractFromCarrier, injectToCarrier, SPANS, startDetachedSpan } from '@jr/telemetry';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { LOGGER, type Logger } from '../common/logger';
import { isDependencyDown } from '../database/db-errors';
import { EnqueueService } from '../dispatch/enqueue.service';
import { CheckpointTracker } from '../journal/checkpoint-tracker';
import { INTAKE_JOURNAL } from '../journal/journal.module';
import { quarantineRecord } from '../journal/quarantine';
import { METRICS, type ApiMetrics } from '../telemetry/api-metrics';
import { decodeRecord, encodeRecord } from './intake-record';
import { IntakeRepository, type NewJob, type SubmissionOutcome } from './intake.repository';
import { PendingSubmissions, type PendingSubmission } from './pending-submissions';

/** Records per Postgres round trip (one multi-row INSERT, one addBulk). */
const BATCH = 500;
/** A record Postgres refuses as bad data this many times alone is quarantined, not retried forever. */
const POISON_TRIES = 3;
const IDLE_RECHECK_MS = 1_000;

/**
 * Moves intake journal records to Postgres (the system of record) and BullMQ, in journal order and in
 * batches, off the request path: POST /v1/jobs answers once its record is synced, and this relay
 * applies it moments later. Every write is keyed by the job id, so a replay after a crash creates no
 * duplicates; the checkpoint advances over the applied prefix. At start-up everything after the
 * checkpoint is replayed before the API listens. While Postgres is down records wait here (and in
 * the journal, whose size limit is the backpressure) and are applied once it is back.
 */
@Injectable()
export class IntakeRelayService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly checkpoints: CheckpointTracker;
  private readonly stop = new AbortController();
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private isolating = 0;
  private poisonTries = 0;

  constructor(
    @Inject(INTAKE_JOURNAL) private readonly journal: Journal,
    private readonly pending: PendingSubmissions,
    private readonly repo: IntakeRepository,
    private readonly enqueue: EnqueueService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(METRICS) private readonly metrics: ApiMetrics,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.checkpoints = new CheckpointTracker(journal, log);
  }

  async onApplicationBootstrap(): Promise<void> {
    const loaded = await this.load();
    const backoff = new Backoff({ initialMs: 200, maxMs: 5_000 });
    while (this.pending.size > 0 && !this.stop.signal.aborted) {
      await this.step().catch(async (err: unknown) => {
        const delay = backoff.next();
        this.log.warn({ err: String(err), retryInMs: delay }, 'intake replay failed; retrying before ready');
        await sleep(delay, this.stop.signal).catch(() => undefined);
      });
    }
    await this.checkpoints.flush();
    this.metrics.reconciledJobs.inc({ kind: 'replayed' }, loaded);
    if (loaded > 0) this.log.info({ records: loaded, checkpointLsn: this.journal.checkpointLsn }, 'intake journal replayed');
    this.loop = this.run();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stop.abort();
    this.wake?.();
    await this.loop;
    await this.checkpoints.flush();
  }

  /** A record is durable: index it and let the relay apply it. */
  accepted(lsn: number, record: Parameters<PendingSubmissions['add']>[1]): void {
    this.pending.add(lsn, record);
    this.wake?.();
  }

  /** Everything after the checkpoint goes back into the pending index (acknowledged, not yet applied). */
  private async load(): Promise<number> {
    let count = 0;
    for await (const rec of this.journal.readFrom(this.journal.checkpointLsn)) {
      try {
        this.pending.add(rec.lsn, decodeRecord(rec.data));
        count++;
      } catch (err) {
        const file = await quarantineRecord(this.config.dataDir, 'intake', rec.lsn, rec.data);
        this.log.error({ lsn: rec.lsn, err: String(err), file }, 'undecodable intake record quarantined');
        this.checkpoints.mark([rec.lsn]);
      }
    }
    return count;
  }

  private async run(): Promise<void> {
    const backoff = new Backoff({ initialMs: 100, maxMs: 2_000 });
    while (!this.stop.signal.aborted) {
      if (this.pending.size === 0) {
        await this.idle();
        continue;
      }
      try {
        await this.step();
        backoff.reset();
      } catch (err) {
        const delay = backoff.next();
        this.log.warn({ err: String(err), pending: this.pending.size, retryInMs: delay }, 'intake relay: applying failed; retrying');
        await sleep(delay, this.stop.signal).catch(() => undefined);
      }
    }
  }

  private idle(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, IDLE_RECHECK_MS);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    }).finally(() => (this.wake = undefined));
  }

  /**
   * Applies the oldest batch. After a failure that is not a dependency outage, the records of that
   * batch are applied one at a time to find the poison one, which is quarantined after a few tries.
   */
  private async step(): Promise<void> {
    const batch = this.pending.oldest(this.isolating > 0 ? 1 : BATCH);
    try {
      await this.apply(batch);
      this.isolating = Math.max(0, this.isolating - 1);
      this.poisonTries = 0;
    } catch (err) {
      if (isDependencyDown(err)) throw err;
      if (batch.length > 1) {
        this.isolating = batch.length;
        throw err;
      }
      if (++this.poisonTries < POISON_TRIES) throw err;
      await this.quarantine(batch[0] as PendingSubmission, err);
    }
  }

  /** One relay span per record, each under its own record's journal-append span (the batch is shared). */
  private async apply(batch: PendingSubmission[]): Promise<void> {
    const spans = batch.map(({ record: r }) => startDetachedSpan(SPANS.relay, { [ATTR.jobId]: r.id, [ATTR.pool]: r.job.pool }, { parent: extractFromCarrier(r.trace) }));
    try {
      const rows = batch.map(({ record: r }, i) => ({ ...newJob(r), trace: carrierOrNull(injectToCarrier(spans[i]?.context)) }));
      const outcomes = await this.repo.apply(rows);
      const created = outcomes.flatMap((o) => (o.kind === 'created' || o.kind === 'unkeyed' ? [o.job] : []));
      const contexts = new Map(batch.map(({ record: r }, i) => [r.id, spans[i]?.context]));
      await this.enqueue.enqueueMany(created.map((j) => ({ jobId: j.id, pool: j.pool, labels: j.labels, round: j.rounds, trace: j.trace, parent: contexts.get(j.id) })));
      outcomes.forEach((o) => this.logConflict(o));
    } catch (err) {
      for (const s of spans) endSpan(s.span, err);
      throw err;
    }
    for (const s of spans) endSpan(s.span);
    this.pending.settle(batch);
    this.checkpoints.mark(batch.map((e) => e.lsn));
  }

  private logConflict(o: SubmissionOutcome): void {
    if (o.kind === 'aliased') this.log.info({ id: o.id, jobId: o.jobId }, 'acknowledged submission repeated an Idempotency-Key; its id now names the existing job');
    if (o.kind === 'unkeyed') {
      this.log.warn({ id: o.job.id, keyHolder: o.keyHolder }, 'acknowledged submission reused an Idempotency-Key with another body; it runs as its own job without the key');
    }
  }

  private async quarantine(entry: PendingSubmission, err: unknown): Promise<void> {
    const file = await quarantineRecord(this.config.dataDir, 'intake', entry.lsn, encodeRecord(entry.record));
    this.log.error({ lsn: entry.lsn, jobId: entry.record.id, err: String(err), file }, 'intake record refused by Postgres repeatedly; quarantined');
    this.pending.settle([entry]);
    this.checkpoints.mark([entry.lsn]);
    this.isolating = Math.max(0, this.isolating - 1);
    this.poisonTries = 0;
  }
}

function newJob(r: PendingSubmission['record']): Omit<NewJob, 'trace'> {
  return { id: r.id, job: r.job, idempotencyKey: r.idempotencyKey, requestHash: r.requestHash, at: new Date(r.at) };
}

function carrierOrNull(carrier: Record<string, string>): Record<string, string> | null {
  return Object.keys(carrier).length > 0 ? carrier : null;
}
