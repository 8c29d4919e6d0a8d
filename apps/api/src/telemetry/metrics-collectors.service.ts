import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { Journal } from '@jr/journal';
import { APP_CONFIG, CLOCK, type AppConfig, type Clock } from '../config/app-config';
import { LOGGER, type Logger } from '../common/logger';
import { INTAKE_JOURNAL, RESULTS_JOURNAL } from '../journal/journal.module';
import { LeadershipService } from '../leadership/leadership.service';
import { setFleetGauges, setQueueGauges } from './fleet-gauges';
import { METRICS, type ApiMetrics } from './api-metrics';
import { MetricsRepository, type FleetAgentRow, type PoolQueueRow } from './metrics.repository';

interface Snapshot {
  queues: PoolQueueRow[];
  fleet: FleetAgentRow[];
  /** The clock when the queues were read: a scrape ages the oldest queued job by the time since. */
  readAt: number;
}

/**
 * The gauges fed from Postgres (queue depth/age, the fleet) are read in the background every
 * JR_METRICS_REFRESH_INTERVAL into a snapshot; a scrape renders the snapshot and runs no query, so
 * scraping (any rate, any number of scrapers) puts no load on Postgres. A refresh that fails counts
 * in jr_metrics_collection_errors_total and the gauges keep their last values. The journals come
 * from their in-memory stats at scrape time.
 *
 * With several replicas these gauges describe the whole fleet, the same on every replica: only the
 * elected leader exports them (the others export none of them, so `sum` across replicas counts each
 * pool and agent once). Per-process metrics (journals, requests, counters of what this replica did) stay
 * on every replica.
 */
@Injectable()
export class MetricsCollectors implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly counted = new Map<string, { fsyncs: number; appends: number }>();
  private snapshot: Snapshot | undefined;
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private offElected: (() => void) | undefined;

  constructor(
    @Inject(METRICS) private readonly metrics: ApiMetrics,
    private readonly repo: MetricsRepository,
    @Inject(INTAKE_JOURNAL) private readonly intake: Journal,
    @Inject(RESULTS_JOURNAL) private readonly results: Journal,
    private readonly leadership: LeadershipService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.metrics.beforeScrape(() => this.renderSnapshot());
    this.metrics.beforeScrape(() => {
      this.journal('intake', this.intake);
      this.journal('results', this.results);
    });
    void this.refresh();
    this.offElected = this.leadership.onElected(() => void this.refresh());
    this.timer = setInterval(() => void this.refresh(), this.config.metricsRefreshMs);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.offElected?.();
    clearInterval(this.timer);
    await this.refreshing;
  }

  /** One background read of the Postgres-fed gauges (never two at once: a slow database is not piled on). */
  refresh(): Promise<void> {
    this.refreshing ??= this.readSnapshot().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async readSnapshot(): Promise<void> {
    if (!this.leadership.isLeader()) {
      this.snapshot = undefined;
      return;
    }
    const readAt = this.clock.now();
    try {
      const [queues, fleet] = await Promise.all([this.repo.queues(new Date(readAt)), this.repo.fleet()]);
      this.snapshot = { queues, fleet, readAt };
    } catch (err) {
      this.metrics.collectionErrors.inc();
      this.log.debug({ err: String(err) }, 'metrics refresh failed; the gauges keep their last values');
    }
  }

  private renderSnapshot(): void {
    const s = this.leadership.isLeader() ? this.snapshot : undefined;
    if (!s) {
      setQueueGauges(this.metrics, []);
      setFleetGauges(this.metrics, []);
      return;
    }
    const since = Math.max(0, this.clock.now() - s.readAt) / 1000;
    setQueueGauges(
      this.metrics,
      s.queues.map((q) => (q.depth > 0 ? { ...q, oldestAgeSeconds: q.oldestAgeSeconds + since } : q)),
    );
    setFleetGauges(this.metrics, s.fleet);
  }

  private journal(name: 'intake' | 'results', j: Journal): void {
    const { fsyncs, appends, bytes, unappliedBytes } = j.stats;
    const labels = { journal: name };
    const before = this.counted.get(name) ?? { fsyncs: 0, appends: 0 };
    this.metrics.journalFsyncs.inc(labels, fsyncs - before.fsyncs);
    this.metrics.journalAppends.inc(labels, appends - before.appends);
    this.counted.set(name, { fsyncs: Math.max(fsyncs, before.fsyncs), appends: Math.max(appends, before.appends) });
    this.metrics.journalSize.set(labels, bytes);
    this.metrics.journalUnapplied.set(labels, unappliedBytes);
    this.metrics.journalLimit.set(labels, this.config.journalMaxBytes);
  }
}
