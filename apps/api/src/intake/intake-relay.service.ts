import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { Journal } from '@jr/journal';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { LOGGER, type Logger } from '../common/logger';
import { INTAKE_JOURNAL } from '../journal/journal.module';
import { RelayLoop, STOP_DRAIN_MS } from '../journal/relay-loop';
import { METRICS, type ApiMetrics } from '../telemetry/api-metrics';
import type { SubmittedRecord } from './intake-record';
import { IntakeApplier, intakeRelaySpec } from './intake-applier';
import { PendingSubmissions } from './pending-submissions';
/** A stop waits at most this long for submissions being journaled (an append takes milliseconds). */
const ADMITTED_WAIT_MS = 3_000;

/**
 * Moves intake journal records to Postgres (the system of record) and BullMQ, in journal order and in
 * batches, off the request path: POST /v1/jobs answers once its record is synced, and this relay
 * applies it moments later. Every write is keyed by the job id, so a replay after a crash creates no
 * duplicates; the checkpoint advances over the applied prefix. At start-up everything after the
 * checkpoint is replayed before the API listens. While Postgres is down (or read-only) records wait
 * here (and in the journal, whose size limit is the backpressure) and are applied once it is back.
 * The loop itself (order, checkpoints, back-off, quarantine) is the shared `RelayLoop`; the apply step
 * is `IntakeApplier` (shared with `jr-api journal replay`).
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
    applier: IntakeApplier,
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(METRICS) metrics: ApiMetrics,
    @Inject(LOGGER) log: Logger,
  ) {
    this.relay = new RelayLoop<SubmittedRecord>({
      ...intakeRelaySpec({ journal, dataDir: config.dataDir, log, backlog: pending, applier }),
      onReplayed: (records) => metrics.reconciledJobs.inc({ kind: 'replayed' }, records),
      observeLag: (seconds) => metrics.journalRelayLag.observe({ journal: 'intake' }, seconds),
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
}
