import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { DomainError, type JobState } from '@jr/contracts';
import type { Journal } from '@jr/journal';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { AttemptRegistry } from '../common/attempt-registry';
import { LOGGER, type Logger } from '../common/logger';
import { RESULTS_JOURNAL } from '../journal/journal.module';
import { RelayLoop, STOP_DRAIN_MS } from '../journal/relay-loop';
import { METRICS, type ApiMetrics } from '../telemetry/api-metrics';
import { ResultsApplier, resultsRelaySpec } from './results-applier';
import { ResultsBacklog } from './results-backlog';
import { encodeResult, type ResultRecord } from './results-record';
import { ResultsRepository } from './results.repository';

/** Live attempts loaded into the registry at start-up. */
const MAX_PRELOADED = 50_000;

/**
 * The results path's second half. Report/Complete append their result to the results journal (synced
 * before the gRPC answer); this relay applies the records to Postgres in journal order per job, off the
 * request path, idempotently (events by seq, completions by attempt state), then checkpoints. After a
 * crash everything past the checkpoint is replayed before the API listens. See README.md here.
 * The loop (order, checkpoints, back-off, quarantine) is the shared `RelayLoop`; the apply step is
 * `ResultsApplier` (shared with `jr-api journal replay`).
 */
@Injectable()
export class ResultsRelayService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly backlog: ResultsBacklog;
  private readonly relay: RelayLoop<ResultRecord>;

  constructor(
    @Inject(RESULTS_JOURNAL) private readonly journal: Journal,
    private readonly repo: ResultsRepository,
    private readonly registry: AttemptRegistry,
    applier: ResultsApplier,
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(METRICS) metrics: ApiMetrics,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.backlog = new ResultsBacklog(registry);
    this.relay = new RelayLoop<ResultRecord>({
      ...resultsRelaySpec({ journal, dataDir: config.dataDir, log, backlog: this.backlog, applier }),
      observeLag: (seconds) => metrics.journalRelayLag.observe({ journal: 'results' }, seconds),
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
    this.relay.durable(lsn);
    this.backlog.add(lsn, record, jobState);
    this.relay.wake();
  }
}
