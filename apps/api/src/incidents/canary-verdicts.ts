import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { CanaryRepository } from '../canary/canary.repository';
import type { Condition } from './incident-recorder';

/** Canaries older than this many intervals say nothing about now. */
const RECENT_INTERVALS = 5;

/**
 * "An SLI is violated" as the canaries see it: for each canary_success objective, the pools whose latest
 * decided canary did not succeed within the objective's threshold (failed, lost, or overdue). One
 * incident per objective while any pool is bad; the next good canary of every pool ends it.
 */
@Injectable()
export class CanaryVerdicts {
  constructor(
    private readonly canaries: CanaryRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  private recentMs(thresholdMs: number): number {
    return RECENT_INTERVALS * this.config.canary.intervalMs + thresholdMs;
  }

  async failing(nowMs: number): Promise<Condition[]> {
    if (this.config.canary.intervalMs === 0) return [];
    const out: Condition[] = [];
    for (const o of this.config.slo.objectives) {
      if (o.indicator.builtin !== 'canary_success') continue;
      const threshold = o.indicator.thresholdMs ?? 0;
      const bad = (
        await this.canaries.latestPerPool(nowMs, threshold, this.recentMs(threshold), o.indicator.pool)
      ).filter((c) => c.outcome !== 'succeeded' || (c.late_ms ?? 0) > 0);
      if (bad.length === 0) continue;
      const pools = bad.map((c) => `${c.pool} (${c.outcome ?? 'overdue'}${c.late_ms ? ', late' : ''}, ${c.job_id})`);
      out.push({ cause: 'sli_violated', scope: o.name, detail: `latest canary not good in ${pools.join(', ')}` });
    }
    return out;
  }
}
