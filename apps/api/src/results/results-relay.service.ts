import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { DomainError, type JobState } from '@jr/contracts';
import type { Journal } from '@jr/journal';
import { Backoff, sleep } from '@jr/resilience';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { AttemptRegistry } from '../common/attempt-registry';
import { DomainEvents } from '../common/events';
import { LOGGER, type Logger } from '../common/logger';
import { isDependencyDown } from '../database/db-errors';
import { EnqueueService } from '../dispatch/enqueue.service';
import { CheckpointTracker } from '../journal/checkpoint-tracker';
import { RESULTS_JOURNAL } from '../journal/journal.module';
import { quarantineRecord } from '../journal/quarantine';
import { decodeResult, encodeResult, type ResultRecord } from './results-record';
import { ResultsRepository, type ApplyEffect } from './results.repository';

interface Entry {
  lsn: number;
  record: ResultRecord;
  done: boolean;
  failures: number;
}

/** Records taken per pass; the pass applies different jobs side by side, one job's records in order. */
const BATCH = 256;
const LANES = 8;
const POISON_TRIES = 3;
const IDLE_RECHECK_MS = 1_000;
/** Live attempts loaded into the registry at start-up. */
const MAX_PRELOADED = 50_000;

/**
 * The results path's second half. Report/Complete append their result to the results journal (synced
 * before the gRPC answer); this relay applies the records to Postgres in journal order per job, off the
 * request path, idempotently (events by seq, completions by attempt state), then checkpoints. After a
 * crash everything past the checkpoint is replayed before the API listens. See README.md here.
 */
@Injectable()
export class ResultsRelayService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private queue: Entry[] = [];
  private readonly checkpoints: CheckpointTracker;
  private readonly stop = new AbortController();
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(
    @Inject(RESULTS_JOURNAL) private readonly journal: Journal,
    private readonly repo: ResultsRepository,
    private readonly registry: AttemptRegistry,
    private readonly enqueue: EnqueueService,
    private readonly events: DomainEvents,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.checkpoints = new CheckpointTracker(journal, log);
  }

  async onApplicationBootstrap(): Promise<void> {
    for (const snap of await this.repo.liveSnapshots(MAX_PRELOADED)) this.registry.remember(snap);
    const loaded = await this.load();
    const backoff = new Backoff({ initialMs: 200, maxMs: 5_000 });
    while (this.queue.length > 0 && !this.stop.signal.aborted) {
      await this.pass().catch(async (err: unknown) => {
        const delay = backoff.next();
        this.log.warn({ err: String(err), retryInMs: delay }, 'results replay failed; retrying before ready');
        await sleep(delay, this.stop.signal).catch(() => undefined);
      });
    }
    await this.checkpoints.flush();
    if (loaded > 0) this.log.info({ records: loaded, checkpointLsn: this.journal.checkpointLsn }, 'results journal replayed');
    this.loop = this.run();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stop.abort();
    this.wake?.();
    await this.loop;
    await this.checkpoints.flush();
  }

  /**
   * Makes a result durable (fdatasync, group commit) and queues it; resolves once it is on disk.
   * `jobState`: what a completion leads to, for answering a repeat of it before it is applied.
   */
  async submit(record: ResultRecord, jobState?: JobState): Promise<void> {
    let lsn: number;
    try {
      lsn = await this.journal.append(encodeResult(record));
    } catch (err) {
      const full = (err as { code?: unknown }).code === 'JOURNAL_FULL';
      this.log[full ? 'warn' : 'error']({ err: String(err), jobId: record.jobId }, 'results journal append failed; the agent retries');
      // full (size limit, disk): RESOURCE_EXHAUSTED, an answer the agent backs off on without counting it
      // against its reporting breaker; the API is up, only its space is not
      if (full) throw new DomainError('RATE_LIMITED', 'the API cannot store results right now (results journal full); retry later', { retryAfterSeconds: 5 });
      throw new DomainError('NOT_ACCEPTING', 'the API cannot store results right now (results journal unavailable); retry', { retryAfterSeconds: 5 });
    }
    this.track(lsn, record, jobState);
    this.wake?.();
  }

  get backlog(): number {
    return this.queue.length;
  }

  private track(lsn: number, record: ResultRecord, jobState?: JobState): void {
    this.queue.push({ lsn, record, done: false, failures: 0 });
    const end = record.type === 'complete' ? (record.late ? 'superseded' : record.outcome.end) : record.late ? 'superseded' : undefined;
    const maxSeq = record.type === 'report' ? record.events.reduce((m, e) => Math.max(m, e.seq), 0) : 0;
    this.registry.journaled(record.jobId, record.attempt, { end, maxSeq, jobState });
  }

  private async load(): Promise<number> {
    let count = 0;
    for await (const rec of this.journal.readFrom(this.journal.checkpointLsn)) {
      try {
        this.track(rec.lsn, decodeResult(rec.data));
        count++;
      } catch (err) {
        const file = await quarantineRecord(this.config.dataDir, 'results', rec.lsn, rec.data);
        this.log.error({ lsn: rec.lsn, err: String(err), file }, 'undecodable results record quarantined');
        this.checkpoints.mark([rec.lsn]);
      }
    }
    return count;
  }

  private async run(): Promise<void> {
    const backoff = new Backoff({ initialMs: 100, maxMs: 2_000 });
    while (!this.stop.signal.aborted) {
      if (this.queue.length === 0) {
        await this.idle();
        continue;
      }
      try {
        await this.pass();
        backoff.reset();
      } catch (err) {
        const delay = backoff.next();
        this.log.warn({ err: String(err), backlog: this.queue.length, retryInMs: delay }, 'results relay: applying failed; retrying');
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

  /** One batch: jobs side by side (at most LANES at once), each job's records in journal order. Throws if any failed. */
  private async pass(): Promise<void> {
    const batch = this.queue.slice(0, BATCH);
    const lanes = new Map<string, Entry[]>();
    for (const e of batch) {
      const lane = lanes.get(e.record.jobId);
      if (lane) lane.push(e);
      else lanes.set(e.record.jobId, [e]);
    }
    const work = [...lanes.values()];
    const failures: unknown[] = [];
    const worker = async (): Promise<void> => {
      for (let lane = work.shift(); lane; lane = work.shift()) {
        for (const entry of lane.filter((e) => !e.done)) {
          try {
            await this.applyOne(entry);
          } catch (err) {
            failures.push(err);
            break; // later records of this job wait for this one
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(LANES, lanes.size) }, worker));
    const finished = batch.filter((e) => e.done);
    this.queue = this.queue.filter((e) => !e.done);
    this.checkpoints.mark(finished.map((e) => e.lsn));
    if (failures.length > 0) throw failures[0] instanceof Error ? failures[0] : new Error(String(failures[0]));
  }

  /** Applies one record (or quarantines a poison one); throws when it must be tried again. */
  private async applyOne(entry: Entry): Promise<void> {
    const r = entry.record;
    let effect: ApplyEffect;
    try {
      effect = r.type === 'report' ? await this.repo.applyReport(r) : await this.repo.applyComplete(r, this.config.maxLostAttempts);
    } catch (err) {
      if (isDependencyDown(err) || ++entry.failures < POISON_TRIES) throw err;
      const file = await quarantineRecord(this.config.dataDir, 'results', entry.lsn, encodeResult(r));
      this.log.error({ lsn: entry.lsn, jobId: r.jobId, err: String(err), file }, 'results record refused by Postgres repeatedly; quarantined');
      effect = { ignored: 'quarantined' };
    }
    entry.done = true;
    this.registry.applied(r.jobId, r.attempt);
    await this.afterApply(r, effect);
  }

  private async afterApply(r: ResultRecord, effect: ApplyEffect): Promise<void> {
    if (effect.ignored) this.log.warn({ jobId: r.jobId, attempt: r.attempt, type: r.type, why: effect.ignored }, 'results record not applied');
    if (effect.attemptState) this.registry.setState(r.jobId, r.attempt, effect.attemptState, effect.jobState);
    if (effect.attemptState === 'superseded') this.log.info({ jobId: r.jobId, attempt: r.attempt, type: r.type }, 'late result recorded on a superseded attempt');
    if (r.type === 'report' && r.events.some((e) => e.kind === 'log')) this.events.jobChanged({ jobId: r.jobId, kind: 'log' });
    if (effect.transition) await this.enqueue.afterTransition(effect.transition);
  }
}
