import { Inject, Injectable } from '@nestjs/common';
import {
  DomainError,
  generateSloRules,
  parseDurationMs,
  SLO_LIMITS,
  type Incident,
  type SloObjective,
  type SloObjectiveReport,
  type SloReport,
} from '@jr/contracts';
import { APP_CONFIG, CLOCK, type AppConfig, type Clock } from '../config/app-config';
import { IncidentsRepository } from '../incidents/incidents.repository';
import {
  availabilityFigures,
  bucketStarts,
  dependencyDowntime,
  objectiveFigures,
  theoreticalAvailability,
} from './slo-math';
import { SloRepository, type Window } from './slo.repository';

/** Buckets of a report's series (a 30-day window: one per day). */
const BUCKETS = 30;

/** `jr slo`: the objectives of JR_SLO_FILE measured over a window from Postgres, with the incidents. */
@Injectable()
export class SloService {
  constructor(
    private readonly repo: SloRepository,
    private readonly incidents: IncidentsRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** The Prometheus rules for the configured objectives (`jr slo rules`). */
  rules(): string {
    return generateSloRules(this.config.slo);
  }

  async report(windowParam: unknown): Promise<SloReport> {
    const toMs = this.clock.now();
    const ms = windowMs(windowParam, this.config.slo.windowMs);
    const fromMs = toMs - ms;
    const starts = bucketStarts(fromMs, toMs, BUCKETS);
    const w: Window = { fromMs, toMs, bucketMs: ms / BUCKETS, nowMs: toMs };
    const objectives = await Promise.all(this.config.slo.objectives.map((o) => this.objective(o, w, starts)));
    const incidents = await this.incidents.list(fromMs, toMs);
    return assemble({ fromMs, toMs, ms }, objectives, incidents, this.config.slo.dependencies);
  }

  async incidentList(windowParam: unknown): Promise<{ items: Incident[] }> {
    const toMs = this.clock.now();
    return { items: await this.incidents.list(toMs - windowMs(windowParam, this.config.slo.windowMs), toMs) };
  }

  private async objective(o: SloObjective, w: Window, starts: number[]): Promise<SloObjectiveReport> {
    const counts = await this.repo.counts(o.indicator, w);
    const series = starts.map((from) => ({ from: new Date(from).toISOString(), good: 0, total: 0 }));
    for (const c of counts) {
      const slot = series[Math.min(Math.max(c.bucket, 0), series.length - 1)];
      if (slot) {
        slot.good += c.good;
        slot.total += c.total;
      }
    }
    const good = series.reduce((n, s) => n + s.good, 0);
    const total = series.reduce((n, s) => n + s.total, 0);
    return {
      name: o.name,
      displayName: o.displayName,
      sli: o.indicator.builtin ?? 'ratioMetric (Prometheus only)',
      target: o.target,
      good,
      total,
      ...objectiveFigures(o.target, good, total),
      series,
    };
  }
}

/** `?window=30d`: a duration between 1 h and 90 d; the objectives' window without one. */
export function windowMs(param: unknown, fallbackMs: number): number {
  if (param === undefined || param === '') return fallbackMs;
  const ms = typeof param === 'string' ? parseDurationMs(param) : undefined;
  if (ms === undefined || ms < SLO_LIMITS.minWindowMs || ms > SLO_LIMITS.maxWindowMs)
    throw new DomainError('INVALID_INPUT', 'window: a duration between 1h and 90d, such as 30d or 12h');
  return ms;
}

function assemble(
  window: { fromMs: number; toMs: number; ms: number },
  objectives: SloObjectiveReport[],
  incidents: Incident[],
  dependencies: AppConfig['slo']['dependencies'],
): SloReport {
  const { fromMs, toMs, ms } = window;
  return {
    window: { from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString(), ms },
    objectives,
    ...availabilityFigures(incidents, fromMs, toMs),
    theoretical: theoreticalAvailability(dependencies, dependencyDowntime(incidents, fromMs, toMs), ms),
    incidents,
  };
}
