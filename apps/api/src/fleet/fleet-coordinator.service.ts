import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { newJobId, type JobState } from '@jr/contracts';
import { APP_CONFIG, CLOCK, type AppConfig, type Clock } from '../config/app-config';
import { DomainEvents } from '../common/events';
import { LOGGER, type Logger } from '../common/logger';
import type { Tx } from '../database/transaction';
import { EnqueueService } from '../dispatch/enqueue.service';
import { JobsRepository } from '../jobs/jobs.repository';
import { DutyLoop } from '../leadership/duty-loop';
import { LeadershipService } from '../leadership/leadership.service';
import { SecretsService } from '../secrets/secrets.service';
import { METRICS, type ApiMetrics } from '../telemetry/api-metrics';
import { FleetRepository, PIN_LABEL, type FleetJobRow, type NewRun, type TargetRow } from './fleet.repository';
import { planStep } from './rollout-plan';
import type { PlanTarget, RolloutStep } from './rollout-types';

/** How often the leader steps every live fleet job. */
export const FLEET_TICK_MS = 500;
const PASS_LIMIT = 500;

/** What one step leaves to do once its transaction committed. */
interface AfterStep {
  started: Array<{ id: string; pool: string; labels: Record<string, string> }>;
  cancel: string[];
  /** The state the fleet job ended in by this step, if it did. */
  ended: string | null;
}

/**
 * Drives fleet jobs: a singleton duty of the elected leader. Each pass steps every live fleet job in its
 * own transaction, fenced and holding the job's row: the first step expands it (one target per agent the
 * selector names, in order), every step takes the ends of the targets' runs, asks the planner
 * (rollout-plan.ts) what to do, and writes it: targets due, runs started (each a queued job pinned to its
 * agent), targets undelivered or skipped, the abort, the job's end. All of it is in Postgres, so a SIGKILL,
 * a new leader or an emptied Redis resume where the last commit left off; a run's job is added to BullMQ
 * after the commit (the enqueue sweep adds it if that fails).
 */
@Injectable()
export class FleetCoordinatorService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly loop: DutyLoop;

  constructor(
    private readonly repo: FleetRepository,
    private readonly jobs: JobsRepository,
    private readonly enqueue: EnqueueService,
    private readonly leadership: LeadershipService,
    private readonly secrets: SecretsService,
    private readonly events: DomainEvents,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(METRICS) private readonly metrics: ApiMetrics,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.loop = new DutyLoop('fleet coordinator', FLEET_TICK_MS, () => this.tick(), log);
  }

  onApplicationBootstrap(): void {
    this.loop.start();
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.loop.stop();
  }

  /** One pass over the live fleet jobs (tests may call it). */
  async tick(): Promise<void> {
    const fence = this.leadership.fence();
    if (!fence) return;
    for (const id of await this.repo.live(PASS_LIMIT)) {
      if (this.loop.stopped) return;
      const after = await this.repo.locked(id, fence, (tx, job) => this.step(tx, job, this.clock.now()));
      if (after === undefined) return; // fenced off: another replica leads
      await this.afterCommit(id, after);
    }
  }

  private async step(tx: Tx, job: FleetJobRow, nowMs: number): Promise<AfterStep> {
    const now = new Date(nowMs);
    let aborted = await this.repo.aborted(tx, job.id);
    if (aborted === undefined) {
      await this.expand(tx, job, now);
      aborted = false;
    } else if (job.spec.fleet.targets.kind === 'match' && job.spec.fleet.targets.continuous) {
      await this.addNewcomers(tx, job, now);
    }
    for (const end of await this.repo.syncRuns(tx, job.id)) this.metrics.fleetTargets.inc({ state: end.state });
    const targets = await this.repo.targets(tx, job.id, now, this.config.heartbeatIntervalMs);
    const stranded = this.stranded(job, targets, nowMs);
    const cancelled = job.cancel_requested || job.state === 'cancelled';
    const plan = planStep(
      {
        rollout: job.spec.fleet.rollout,
        targets: targets.map((t) => planTarget(t, stranded)),
        aborted,
        cancelled,
        continuous: job.spec.fleet.targets.kind === 'match' && job.spec.fleet.targets.continuous && !cancelled,
      },
      nowMs,
    );
    return this.write(tx, job, plan, { stranded, cancelled, now, targets });
  }

  private async write(
    tx: Tx,
    job: FleetJobRow,
    plan: RolloutStep,
    s: { stranded: Set<string>; cancelled: boolean; now: Date; targets: TargetRow[] },
  ): Promise<AfterStep> {
    await this.repo.markDue(tx, job.id, plan.due, s.now);
    const begun = plan.currentBatch - Math.max(0, ...s.targets.map((t) => t.batch ?? 0));
    if (begun > 0) this.metrics.fleetBatches.inc(begun);
    await this.repo.endTargets(tx, job.id, [...plan.undeliver, ...s.stranded], 'undelivered', s.now);
    await this.repo.endTargets(tx, job.id, plan.skip, 'skipped', s.now);
    for (const state of ['undelivered', 'skipped'] as const) {
      const n = state === 'skipped' ? plan.skip.length : plan.undeliver.length + s.stranded.size;
      if (n > 0) this.metrics.fleetTargets.inc({ state }, n);
    }
    if (plan.abort) {
      await this.repo.markAborted(tx, job.id, s.now);
      this.log.warn({ jobId: job.id }, 'fleet job: failures crossed maxFailures; the rollout is aborted');
    }
    const runs: NewRun[] = plan.start.map((t) => {
      const id = newJobId(s.now.getTime());
      return { id, agentId: t.agentId, secrets: this.resealed(job, id) };
    });
    await this.repo.startRuns(tx, job, runs, s.now);
    const strandedRuns = s.targets.filter((t) => s.stranded.has(t.agent_id) && t.run_id).map((t) => t.run_id!);
    const cancel = s.cancelled || plan.abort ? await this.repo.liveRuns(tx, job.id) : [];
    if (plan.done) await this.repo.finish(tx, job.id, plan.done.state, plan.done.reason, s.now);
    return {
      started: runs.map((r) => ({
        id: r.id,
        pool: job.spec.pool,
        labels: { ...job.spec.labels, [PIN_LABEL]: r.agentId },
      })),
      // an abort lets running targets finish; a cancel ends them; a stranded run is given up
      cancel: [...(s.cancelled ? cancel : []), ...strandedRuns],
      ended: plan.done?.state ?? null,
    };
  }

  /** Targets running whose run waits in the queue for an agent gone past the delivery deadline. */
  private stranded(job: FleetJobRow, targets: TargetRow[], nowMs: number): Set<string> {
    const limit = job.spec.fleet.rollout.deliveryTimeoutMs;
    return new Set(
      targets
        .filter(
          (t) =>
            t.state === 'running' &&
            t.run_state === 'queued' &&
            !t.online &&
            t.run_updated_at !== null &&
            nowMs - t.run_updated_at.getTime() >= limit,
        )
        .map((t) => t.agent_id),
    );
  }

  /** The first step: one target per agent the selector names; names and ids that match none are undelivered. */
  private async expand(tx: Tx, job: FleetJobRow, now: Date): Promise<void> {
    const found = await this.repo.resolve(tx, job.spec.fleet);
    const targets: Array<{ agentId: string; name: string; state: 'pending' | 'undelivered' }> = found.map((a) => ({
      agentId: a.id,
      name: a.name,
      state: 'pending',
    }));
    const t = job.spec.fleet.targets;
    if (t.kind === 'agents') {
      const known = new Set(found.flatMap((a) => [a.id, a.name]));
      for (const ref of t.agents) {
        const key = ref.kind === 'id' ? ref.id : ref.name;
        if (!known.has(key)) targets.push({ agentId: key, name: key, state: 'undelivered' });
      }
    }
    await this.repo.addTargets(tx, job.id, targets, now);
    this.log.info({ jobId: job.id, targets: targets.length }, 'fleet job expanded');
  }

  private async addNewcomers(tx: Tx, job: FleetJobRow, now: Date): Promise<void> {
    const found = await this.repo.resolve(tx, job.spec.fleet);
    const added = await this.repo.addTargets(
      tx,
      job.id,
      found.map((a) => ({ agentId: a.id, name: a.name, state: 'pending' as const })),
      now,
    );
    if (added > 0) this.log.info({ jobId: job.id, added }, 'continuous fleet job: agents that joined became targets');
  }

  private resealed(job: FleetJobRow, runId: string): Record<string, string> | null {
    const names = job.spec.secrets ?? [];
    if (names.length === 0) return null;
    return this.secrets.seal(runId, this.secrets.open(job.id, names, job.secrets)) ?? null;
  }

  private async afterCommit(id: string, after: AfterStep): Promise<void> {
    await this.enqueue.enqueueMany(
      after.started.map((r) => ({ jobId: r.id, pool: r.pool, labels: r.labels, round: 1 })),
    );
    for (const runId of after.cancel) {
      await this.jobs.cancel(runId, new Date(this.clock.now())).catch((err: unknown) => {
        this.log.warn({ jobId: id, runId, err: String(err) }, 'fleet job: a run could not be cancelled; next pass');
      });
    }
    if (after.ended) this.events.jobChanged({ jobId: id, kind: 'state', state: after.ended as JobState });
  }
}

function planTarget(t: TargetRow, stranded: Set<string>): PlanTarget {
  return {
    agentId: t.agent_id,
    // a stranded run's target ends undelivered in this step: the planner sees it ended
    state: stranded.has(t.agent_id) ? 'undelivered' : t.state,
    due: t.batch !== null && t.due_at !== null ? { batch: t.batch, sinceMs: t.due_at.getTime() } : null,
    ...(t.ended_at ? { endedAtMs: t.ended_at.getTime() } : {}),
    online: t.online,
  };
}
