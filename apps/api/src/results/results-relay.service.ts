import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { DomainError, type JobState } from '@jr/contracts';
import type { Journal } from '@jr/journal';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { AttemptRegistry } from '../common/attempt-registry';
import { DomainEvents } from '../common/events';
import { LOGGER, type Logger } from '../common/logger';
import { EnqueueService } from '../dispatch/enqueue.service';
import { RESULTS_JOURNAL } from '../journal/journal.module';
import {
  APPLIED,
  RelayLoop,
  STOP_DRAIN_MS,
  WAITING,
  type ApplyOutcome,
  type RelayBacklog,
  type RelayEntry,
} from '../journal/relay-loop';
import { decodeResult, encodeResult, type ResultRecord } from './results-record';
import { ResultsRepository, type ApplyEffect } from './results.repository';

type Entry = RelayEntry<ResultRecord>;

/** Records taken per pass; the pass applies different jobs side by side, one job's records in order. */
const BATCH = 256;
const LANES = 8;
/** Live attempts loaded into the registry at start-up. */
const MAX_PRELOADED = 50_000;

/**
 * The results path's second half. Report/Complete append their result to the results journal (synced
 * before the gRPC answer); this relay applies the records to Postgres in journal order per job, off the
 * request path, idempotently (events by seq, completions by attempt state), then checkpoints. After a
 * crash everything past the checkpoint is replayed before the API listens. See README.md here.
 * The loop (order, checkpoints, back-off, quarantine) is the shared `RelayLoop`; this class supplies
 * the results apply step (`pass`, `applyOne`, `afterApply`).
 */
@Injectable()
export class ResultsRelayService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly backlog: ResultsBacklog;
  private readonly relay: RelayLoop<ResultRecord>;

  constructor(
    @Inject(RESULTS_JOURNAL) private readonly journal: Journal,
    private readonly repo: ResultsRepository,
    private readonly registry: AttemptRegistry,
    private readonly enqueue: EnqueueService,
    private readonly events: DomainEvents,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.backlog = new ResultsBacklog(registry);
    this.relay = new RelayLoop<ResultRecord>({
      name: 'results',
      journal,
      dataDir: config.dataDir,
      log,
      backlog: this.backlog,
      batch: BATCH,
      decode: decodeResult,
      encode: encodeResult,
      apply: (batch) => this.pass(batch),
      describe: (r) => ({ jobId: r.jobId, attempt: r.attempt, type: r.type }),
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    for (const snap of await this.repo.liveSnapshots(MAX_PRELOADED)) this.registry.remember(snap);
    await this.relay.start();
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.relay.close(STOP_DRAIN_MS);
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
      this.log[full ? 'warn' : 'error'](
        { err: String(err), jobId: record.jobId },
        'results journal append failed; the agent retries',
      );
      // full (size limit, disk): RESOURCE_EXHAUSTED, an answer the agent backs off on without counting it
      // against its reporting breaker; the API is up, only its space is not
      if (full)
        throw new DomainError(
          'RATE_LIMITED',
          'the API cannot store results right now (results journal full); retry later',
          { retryAfterSeconds: 5 },
        );
      throw new DomainError(
        'NOT_ACCEPTING',
        'the API cannot store results right now (results journal unavailable); retry',
        { retryAfterSeconds: 5 },
      );
    }
    this.backlog.add(lsn, record, jobState);
    this.relay.wake();
  }

  /** One batch: jobs side by side (at most LANES at once), each job's records in journal order; a failure holds up only its job. */
  private async pass(batch: Entry[]): Promise<ApplyOutcome[]> {
    const outcomes = new Map<Entry, ApplyOutcome>();
    const lanes = new Map<string, Entry[]>();
    for (const e of batch) {
      const lane = lanes.get(e.record.jobId);
      if (lane) lane.push(e);
      else lanes.set(e.record.jobId, [e]);
    }
    const work = [...lanes.values()];
    const worker = async (): Promise<void> => {
      for (let lane = work.shift(); lane; lane = work.shift()) {
        for (const entry of lane) {
          try {
            await this.applyOne(entry);
            outcomes.set(entry, APPLIED);
          } catch (err) {
            outcomes.set(entry, { kind: 'failed', err });
            break; // later records of this job wait for this one
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(LANES, lanes.size) }, worker));
    return batch.map((e) => outcomes.get(e) ?? WAITING);
  }

  /** Applies one record; throws when it failed (the relay loop decides: retry later, or quarantine). */
  private async applyOne(entry: Entry): Promise<void> {
    const r = entry.record;
    const effect: ApplyEffect =
      r.type === 'report'
        ? await this.repo.applyReport(r)
        : await this.repo.applyComplete(r, this.config.maxLostAttempts);
    await this.afterApply(r, effect);
  }

  private async afterApply(r: ResultRecord, effect: ApplyEffect): Promise<void> {
    if (effect.ignored)
      this.log.warn(
        { jobId: r.jobId, attempt: r.attempt, type: r.type, why: effect.ignored },
        'results record not applied',
      );
    if (effect.attemptState) this.registry.setState(r.jobId, r.attempt, effect.attemptState, effect.jobState);
    if (effect.attemptState === 'superseded')
      this.log.info(
        { jobId: r.jobId, attempt: r.attempt, type: r.type },
        'late result recorded on a superseded attempt',
      );
    if (r.type === 'report' && r.events.some((e) => e.kind === 'log'))
      this.events.jobChanged({ jobId: r.jobId, kind: 'log' });
    if (effect.transition) await this.enqueue.afterTransition(effect.transition);
  }
}

/** The results relay's unapplied records, in journal order; registers each with the attempt registry (fencing, the reaper). */
class ResultsBacklog implements RelayBacklog<ResultRecord> {
  private readonly entries = new Map<number, Entry>();

  constructor(private readonly registry: AttemptRegistry) {}

  get size(): number {
    return this.entries.size;
  }

  /** `jobState`: what a completion leads to, for answering a repeat of it before it is applied. */
  add(lsn: number, record: ResultRecord, jobState?: JobState): void {
    this.entries.set(lsn, { lsn, record });
    const end =
      record.type === 'complete'
        ? record.late
          ? 'superseded'
          : record.outcome.end
        : record.late
          ? 'superseded'
          : undefined;
    const maxSeq = record.type === 'report' ? record.events.reduce((m, e) => Math.max(m, e.seq), 0) : 0;
    this.registry.journaled(record.jobId, record.attempt, { end, maxSeq, jobState });
  }

  oldest(max: number): Entry[] {
    const out: Entry[] = [];
    for (const e of this.entries.values()) {
      if (out.length >= max) break;
      out.push(e);
    }
    return out;
  }

  settle(entries: Entry[]): void {
    for (const e of entries) {
      if (this.entries.delete(e.lsn)) this.registry.applied(e.record.jobId, e.record.attempt);
    }
  }
}
