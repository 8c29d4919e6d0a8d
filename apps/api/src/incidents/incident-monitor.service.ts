import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { INCIDENT_CAUSES } from '@jr/contracts';
import { APP_CONFIG, CLOCK, type AppConfig, type Clock } from '../config/app-config';
import { LOGGER, type Logger } from '../common/logger';
import { HealthService, type Readiness } from '../health/health.service';
import { DutyLoop } from '../leadership/duty-loop';
import { LeadershipService } from '../leadership/leadership.service';
import { METRICS, type ApiMetrics } from '../telemetry/api-metrics';
import { CanaryVerdicts } from './canary-verdicts';
import { IncidentRecorder, LEADER_CAUSES, type Condition } from './incident-recorder';
import { IncidentsRepository } from './incidents.repository';

/**
 * How often the conditions are looked at. This replica's own come from the readiness probe that runs every
 * JR_METRICS_REFRESH_INTERVAL (5 s by default): an incident's start and end are known to about that.
 */
export const INCIDENT_TICK_MS = 1_000;

/**
 * Detects incidents and records them (IncidentRecorder). Every replica watches its own dependencies and
 * intake (the latest readiness probe's findings: Postgres or Redis down, intake refusing submissions); the elected leader
 * watches the fleet (agents whose reporting breaker is open, pools whose canaries fail). A pass that
 * cannot read what it needs (Postgres down, for the fleet) leaves that group's incidents as they are:
 * not knowing is not evidence that a condition ended.
 */
@Injectable()
export class IncidentMonitorService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  readonly recorder: IncidentRecorder;
  private readonly loop: DutyLoop;
  private adoptedOwn = false;
  private leading = false;

  constructor(
    private readonly repo: IncidentsRepository,
    private readonly health: HealthService,
    private readonly leadership: LeadershipService,
    private readonly canaries: CanaryVerdicts,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(METRICS) private readonly metrics: ApiMetrics,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.recorder = new IncidentRecorder(config.replicaId, IncidentRecorder.spoolPath(config.dataDir));
    this.loop = new DutyLoop('incidents', INCIDENT_TICK_MS, () => this.tick(), log);
  }

  onApplicationBootstrap(): void {
    this.loop.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.loop.stop();
    await this.save().catch(() => undefined); // what is not saved stays in the spool file
  }

  /** One pass (tests call it directly). */
  async tick(): Promise<void> {
    const now = this.clock.now();
    const readiness = this.health.latestReadiness();
    if (readiness) {
      if (!this.adoptedOwn && readiness.dependencies.postgres?.up) {
        this.recorder.adopt(await this.repo.open({ replica: this.config.replicaId }));
        this.adoptedOwn = true;
      }
      this.note(this.recorder.observe('replica', replicaConditions(readiness, this.config.replicaId), now));
    }
    await this.observeFleet(now);
    await this.save();
    for (const cause of INCIDENT_CAUSES) this.metrics.incidentsOpen.set({ cause }, this.recorder.openCount(cause));
  }

  private async observeFleet(now: number): Promise<void> {
    if (!this.leadership.isLeader()) {
      if (this.leading) this.recorder.release('leader');
      this.leading = false;
      return;
    }
    try {
      if (!this.leading) this.recorder.adopt(await this.repo.open({ causes: LEADER_CAUSES }));
      this.leading = true;
      const fleet = [...(await this.repo.openBreakers()), ...(await this.canaries.failing(now))];
      this.note(this.recorder.observe('leader', fleet, now));
    } catch (err) {
      this.log.debug({ err: String(err) }, 'fleet incidents not observed this pass');
    }
  }

  private async save(): Promise<void> {
    const pending = this.recorder.pending();
    if (pending.length === 0) return;
    await this.repo.save(pending);
    this.recorder.saved(pending);
  }

  private note(changes: { opened: number; ended: number }): void {
    if (changes.opened + changes.ended > 0) this.log.info(changes, 'incidents changed');
  }
}

/** This replica's own conditions, from one readiness probe. */
export function replicaConditions(r: Readiness, replica: string): Condition[] {
  const out: Condition[] = [];
  for (const dep of ['postgres', 'redis'] as const) {
    const c = r.dependencies[dep];
    if (c && !c.up) out.push({ cause: 'dependency_down', scope: dep, detail: `${replica}: ${c.detail ?? 'down'}` });
  }
  if (!r.ready) {
    const why = r.dependencies.api?.detail ?? r.dependencies.journal?.detail ?? 'not accepting';
    if (!r.dependencies.api) out.push({ cause: 'intake_refusing', scope: replica, detail: why });
  }
  return out;
}
