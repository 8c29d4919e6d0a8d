import { statfs } from 'node:fs/promises';
import * as path from 'node:path';
import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { Pool } from 'pg';
import { LIMITS, type ReadinessView } from '@jr/contracts';
import type { Journal } from '@jr/journal';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { PG_POOL } from '../database/database.module';
import { INTAKE_JOURNAL, RESULTS_JOURNAL } from '../journal/journal.module';
import { QUEUE_FACTORY } from '../queue/queue.module';
import type { QueueFactory } from '../queue/queue-factory';
import { METRICS, type ApiMetrics } from '../telemetry/api-metrics';
import { IntakeHealth } from '../intake/intake-health';
import { PendingSubmissions } from '../intake/pending-submissions';
import { LeadershipService, type LeadershipState } from '../leadership/leadership.service';

const CHECK_TIMEOUT_MS = 2_000;
/** Free space under the journal that ends a "disk full" refusal. */
const RESUME_FREE_BYTES = 1024 * 1024;
/** Room below the journal size limit that ends a "journal full" refusal: two of the largest submissions. */
const RESUME_ROOM_BYTES = 2 * LIMITS.maxBodyBytes;
type Check = ReadinessView['dependencies'][string];

/** `/readyz`: the contract's view plus which dependencies are down while the API still accepts work. */
export interface Readiness extends ReadinessView {
  /** Dependencies that are down while intake still accepts (jobs wait in the journal until they return). */
  degraded: string[];
  /** This replica and the elected leader of the singleton duties (leadership/), as this replica sees it. */
  leadership: LeadershipState;
}

/**
 * Readiness means "accepts submissions": 503 only while POST /v1/jobs would refuse (intake journal
 * full or failed, shutting down). Redis or Postgres down is reported per dependency and in
 * `degraded`, with 200: intake keeps journaling and the relay catches up when they return, so a load
 * balancer must keep sending submissions here.
 */
@Injectable()
export class HealthService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private shuttingDown = false;
  private probeTimer: NodeJS.Timeout | undefined;
  private last: Readiness | undefined;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(QUEUE_FACTORY) private readonly queues: QueueFactory,
    @Inject(INTAKE_JOURNAL) private readonly intake: Journal,
    @Inject(RESULTS_JOURNAL) private readonly results: Journal,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly pending: PendingSubmissions,
    private readonly intakeHealth: IntakeHealth,
    private readonly leadership: LeadershipService,
    @Inject(METRICS) private readonly metrics: ApiMetrics,
  ) {}

  /** jr_dependency_* come from probes in the background (and from every /readyz), never from a scrape. */
  onApplicationBootstrap(): void {
    const probe = (): void => void this.readiness().catch(() => undefined);
    probe();
    this.probeTimer = setInterval(probe, this.config.metricsRefreshMs);
    this.probeTimer.unref();
  }

  beforeApplicationShutdown(): void {
    this.shuttingDown = true;
    clearInterval(this.probeTimer);
  }

  async readiness(): Promise<Readiness> {
    const [redis, postgres] = await Promise.all([
      timed(() => this.queues.ping()),
      timed(() => this.pool.query('SELECT 1')),
    ]);
    const refusal = await this.intakeRefusal();
    const journal = refusal
      ? { up: false, latencyMs: null, detail: refusal }
      : this.checkJournal(this.intake, `${this.pending.size} submissions not yet applied`);
    const resultsJournal = this.checkJournal(this.results);
    const dependencies: ReadinessView['dependencies'] = { journal, resultsJournal, redis, postgres };
    this.recordProbes({ journal, redis, postgres });
    if (this.shuttingDown) dependencies.api = { up: false, latencyMs: null, detail: 'shutting down' };
    const degraded = Object.entries({ redis, postgres, resultsJournal }).flatMap(([name, c]) => (c.up ? [] : [name]));
    this.last = {
      ready: !this.shuttingDown && journal.up,
      dependencies,
      degraded,
      leadership: this.leadership.state(),
    };
    return this.last;
  }

  /**
   * What the latest probe found (the background one every JR_METRICS_REFRESH_INTERVAL, or a /readyz):
   * the incident monitor reads this instead of probing again, so Postgres and Redis see one prober.
   */
  latestReadiness(): Readiness | undefined {
    return this.last;
  }

  /** GET /metrics: renders what the background probes and refreshes hold; no query to Postgres or Redis. */
  async metricsText(): Promise<{ text: string; contentType: string }> {
    return { text: await this.metrics.render(), contentType: this.metrics.contentType };
  }

  /** jr_dependency_up / jr_dependency_check_duration_seconds from one readiness pass. */
  private recordProbes(checks: Record<'journal' | 'redis' | 'postgres', Check>): void {
    for (const [dependency, c] of Object.entries(checks)) {
      this.metrics.dependencyUp.set({ dependency }, c.up ? 1 : 0);
      if (c.latencyMs !== null) this.metrics.dependencyLatency.set({ dependency }, c.latencyMs / 1000);
    }
  }

  /**
   * Why intake refuses, while it still would. A refusal ends when its cause looks gone (space freed,
   * backlog applied), so that a balancer that stopped sending on 503 sends again: intake needs no
   * traffic to notice that it can accept.
   */
  private async intakeRefusal(): Promise<string | null> {
    const r = this.intakeHealth.notAccepting;
    if (!r) return null;
    const detail = `refusing submissions since ${new Date(r.at).toISOString()}: ${r.reason.replace('_', ' ')}`;
    if (r.reason === 'disk_full' && (await freeBytes(path.resolve(this.config.dataDir, 'intake'))) < RESUME_FREE_BYTES)
      return detail;
    if (
      r.reason === 'journal_full' &&
      this.intake.stats.unappliedBytes + RESUME_ROOM_BYTES > this.config.journalMaxBytes
    )
      return detail;
    if (r.reason === 'journal_error' && this.intake.failure) return detail;
    this.intakeHealth.accepted();
    return null;
  }

  private checkJournal(journal: Journal, backlog?: string): Check {
    const started = performance.now();
    const latencyMs = (): number => Math.round(performance.now() - started);
    if (journal.failure)
      return {
        up: false,
        latencyMs: null,
        detail: `journal failed (restart the API to recover it): ${journal.failure.message.slice(0, 200)}`,
      };
    const { unappliedBytes } = journal.stats;
    if (unappliedBytes >= this.config.journalMaxBytes)
      return { up: false, latencyMs: latencyMs(), detail: 'journal full' };
    return { up: true, latencyMs: latencyMs(), ...(backlog ? { detail: backlog } : {}) };
  }
}

async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir).catch(() => undefined);
  return s ? s.bavail * s.bsize : 0;
}

async function timed(probe: () => Promise<unknown>): Promise<Check> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>(
      (_, reject) =>
        (timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS}ms`)), CHECK_TIMEOUT_MS)),
    );
    await Promise.race([probe(), timeout]);
    return { up: true, latencyMs: Math.round((performance.now() - started) * 10) / 10 };
  } catch (err) {
    return { up: false, latencyMs: null, detail: err instanceof Error ? err.message.slice(0, 200) : 'down' };
  } finally {
    clearTimeout(timer);
  }
}
