import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { Journal } from '@jr/journal';
import { Backoff, jittered, sleep } from '@jr/resilience';
import { CLOCK, type Clock } from '../config/app-config';
import { LOGGER, type Logger } from '../common/logger';
import { INTAKE_JOURNAL } from '../journal/journal.module';
import { JobsRepository, type InsertOutcome } from '../jobs/jobs.repository';
import { EnqueueService } from '../dispatch/enqueue.service';
import { decodeRecord, type SubmittedRecord } from './intake-record';

const PASS_INTERVAL_MS = 2_000;

/**
 * Applies intake journal records to Postgres (the system of record) and BullMQ, idempotently, and
 * advances the journal checkpoint over the contiguous applied prefix. Records a request could not
 * apply (Postgres/Redis down) are re-applied by the background pass; at start-up everything after the
 * checkpoint is replayed before the API reports ready.
 */
@Injectable()
export class IntakeRelayService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly applied = new Set<number>();
  private readonly inflight = new Set<number>();
  private advancing: Promise<void> = Promise.resolve();
  private readonly stop = new AbortController();
  private loop: Promise<void> | undefined;
  private reconciled = false;

  constructor(
    @Inject(INTAKE_JOURNAL) private readonly journal: Journal,
    private readonly jobs: JobsRepository,
    private readonly enqueue: EnqueueService,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const backoff = new Backoff({ initialMs: 200, maxMs: 10_000 });
    for (;;) {
      try {
        const n = await this.pass();
        if (n > 0) this.log.info({ records: n, checkpointLsn: this.journal.checkpointLsn }, 'intake journal replayed');
        break;
      } catch (err) {
        const delay = backoff.next();
        this.log.warn({ err: String(err), retryInMs: delay }, 'intake replay failed; retrying before ready');
        await sleep(delay);
      }
    }
    await this.reconcile();
    this.loop = this.runLoop();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stop.abort();
    await this.loop;
    await this.advancing;
  }

  /** Applies a record just appended; undefined when that failed (the background pass retries it). */
  async applyNow(lsn: number, record: SubmittedRecord): Promise<InsertOutcome | undefined> {
    this.inflight.add(lsn);
    try {
      const outcome = await this.apply(record);
      this.markApplied(lsn);
      return outcome;
    } catch (err) {
      this.log.warn({ lsn, jobId: record.id, err: String(err) }, 'intake apply failed; the relay will retry');
      return undefined;
    } finally {
      this.inflight.delete(lsn);
    }
  }

  /** Idempotent: a row that exists is left alone; a queued row whose enqueue is pending is enqueued. */
  private async apply(r: SubmittedRecord): Promise<InsertOutcome> {
    const outcome = await this.jobs.insert({ id: r.id, job: r.job, idempotencyKey: r.idempotencyKey, requestHash: r.requestHash, at: new Date(r.at) });
    const enqueue = { jobId: r.id, pool: r.job.pool, labels: r.job.labels };
    if (outcome.kind === 'inserted') await this.enqueue.enqueueSoon({ ...enqueue, round: outcome.rounds });
    if (outcome.kind === 'exists' && outcome.state === 'queued' && outcome.enqueuePending) await this.enqueue.enqueueSoon({ ...enqueue, round: outcome.rounds });
    return outcome;
  }

  /** Re-applies every record after the checkpoint that is neither applied nor being applied. */
  private async pass(): Promise<number> {
    let count = 0;
    for await (const rec of this.journal.readFrom(this.journal.checkpointLsn)) {
      if (this.applied.has(rec.lsn) || this.inflight.has(rec.lsn)) continue;
      let record: SubmittedRecord;
      try {
        record = decodeRecord(rec.data);
      } catch (err) {
        this.log.error({ lsn: rec.lsn, err: String(err) }, 'skipping an undecodable intake record');
        this.markApplied(rec.lsn);
        continue;
      }
      await this.apply(record);
      this.markApplied(rec.lsn);
      count++;
    }
    await this.advancing;
    return count;
  }

  /** Once per process: every queued job gets its BullMQ job back (after a Redis loss nothing else would). */
  private async reconcile(): Promise<void> {
    try {
      const n = await this.enqueue.sweep(new Date(this.clock.now()), true);
      this.reconciled = true;
      if (n > 0) this.log.info({ jobs: n }, 'queued jobs reconciled into BullMQ');
    } catch (err) {
      this.log.warn({ err: String(err) }, 'reconciling queued jobs failed; retrying');
    }
  }

  private async runLoop(): Promise<void> {
    while (!this.stop.signal.aborted) {
      await sleep(jittered(PASS_INTERVAL_MS, 0.2), this.stop.signal).catch(() => undefined);
      if (this.stop.signal.aborted) return;
      if (!this.reconciled) await this.reconcile();
      if (this.journal.lastLsn <= this.journal.checkpointLsn) continue;
      await this.pass().catch((err: unknown) => this.log.warn({ err: String(err) }, 'intake relay pass failed'));
    }
  }

  private markApplied(lsn: number): void {
    this.applied.add(lsn);
    this.advancing = this.advancing.then(() => this.advance()).catch((err: unknown) => this.log.warn({ err: String(err) }, 'journal checkpoint failed'));
  }

  private async advance(): Promise<void> {
    let cp = this.journal.checkpointLsn;
    while (this.applied.has(cp + 1)) cp++;
    if (cp <= this.journal.checkpointLsn) return;
    await this.journal.checkpoint(cp);
    for (const lsn of this.applied) if (lsn <= cp) this.applied.delete(lsn);
  }
}
