import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import type { Journal } from '@jr/journal';
import { APP_CONFIG, CLOCK, type AppConfig, type Clock } from '../config/app-config';
import { INTAKE_JOURNAL, RESULTS_JOURNAL } from '../journal/journal.module';
import { setFleetGauges, setQueueGauges } from './fleet-gauges';
import { METRICS, type ApiMetrics } from './api-metrics';
import { MetricsRepository } from './metrics.repository';

/**
 * Scrape-time gauges: queue depth/age and the fleet from Postgres (one query each per scrape), the
 * journals from their in-memory stats. A collector that fails counts in jr_metrics_collection_errors_total
 * and its gauges keep their last values.
 */
@Injectable()
export class MetricsCollectors implements OnApplicationBootstrap {
  private readonly counted = new Map<string, { fsyncs: number; appends: number }>();

  constructor(
    @Inject(METRICS) private readonly metrics: ApiMetrics,
    private readonly repo: MetricsRepository,
    @Inject(INTAKE_JOURNAL) private readonly intake: Journal,
    @Inject(RESULTS_JOURNAL) private readonly results: Journal,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  onApplicationBootstrap(): void {
    this.metrics.beforeScrape(async () =>
      setQueueGauges(this.metrics, await this.repo.queues(new Date(this.clock.now()))),
    );
    this.metrics.beforeScrape(async () => setFleetGauges(this.metrics, await this.repo.fleet()));
    this.metrics.beforeScrape(() => {
      this.journal('intake', this.intake);
      this.journal('results', this.results);
    });
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
