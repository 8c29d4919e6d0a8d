import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { newJobId } from '@jr/contracts';
import { CLOCK, type Clock } from '../config/app-config';
import { LOGGER, type Logger } from '../common/logger';
import { JobsService } from '../jobs/jobs.service';
import type { Fence } from '../leadership/leader-lease';
import { DutyLoop } from '../leadership/duty-loop';
import { LeadershipService } from '../leadership/leadership.service';
import { METRICS, type ApiMetrics } from '../telemetry/api-metrics';
import { SecretOpenError } from '../secrets/secret-box';
import { decideFires } from './fire-decision';
import { RruleTooCostly } from './rrule-walk';
import { insertFiredJobs, insertMissedFires, updateSettled, type FiredJob } from './schedule-fires';
import type { ScheduleRow } from './schedule-row';
import { SchedulesRepository } from './schedules.repository';
import { SchedulesService } from './schedules.service';

/** How often the leader looks for due schedules (fire times are whole seconds). */
export const SCHEDULER_TICK_MS = 500;
/** Schedules one pass takes up; the rest wait for the next pass. */
const PASS_LIMIT = 200;

/**
 * Fires schedules: a singleton duty of the elected leader. Each pass reads the schedules with a fire
 * due (or a buffered fire waiting) and decides each in its own transaction, fenced by the leader's
 * epoch and holding the schedule's row: the fire times since the settled point become jobs or missed
 * fires (fire-decision.ts), the point moves to now. A crash before COMMIT leaves the point where it
 * was and the next leader decides the same fire times again; one after COMMIT finds them decided.
 * The unique keys of schedule_fires and jobs hold even against a writer that is not fenced.
 * "Now" is the injected clock's (tests move it); the loop's pacing is real time.
 */
@Injectable()
export class SchedulerService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly loop: DutyLoop;

  constructor(
    private readonly repo: SchedulesRepository,
    private readonly schedules: SchedulesService,
    private readonly jobs: JobsService,
    private readonly leadership: LeadershipService,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(METRICS) private readonly metrics: ApiMetrics,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.loop = new DutyLoop('scheduler', SCHEDULER_TICK_MS, () => this.tick(), log);
  }

  onApplicationBootstrap(): void {
    this.loop.start();
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.loop.stop();
  }

  /** One pass (tests call it directly); the number of jobs it made. */
  async tick(): Promise<number> {
    const fence = this.leadership.fence();
    if (!fence) return 0;
    const now = this.clock.now();
    let made = 0;
    for (const id of await this.repo.due(new Date(now), PASS_LIMIT)) {
      if (this.loop.stopped) break;
      const r = await this.decide(id, fence, now).catch((err: unknown) => this.poisoned(id, err));
      if (r === 'fenced') break;
      made += r;
    }
    return made;
  }

  /** Decides one schedule's due fire times; 'fenced' when this replica no longer leads. */
  private async decide(id: string, fence: Fence, nowMs: number): Promise<number | 'fenced'> {
    let cancel: string[] = [];
    const fired = await this.repo.locked(id, fence, async (tx, row, active) => {
      if (row.paused) return [];
      const d = decideFires(stateOf(row, active), nowMs);
      const at = new Date(nowMs);
      await insertMissedFires(tx, row.id, d.missed, at);
      const jobs = d.jobs.map((fireTimeMs, i) => {
        const jobId = newJobId(nowMs + i); // ids sort by time: lists show the fires in order
        return { fireTimeMs, id: jobId, secrets: this.schedules.resealed(row, jobId) };
      });
      const made = await insertFiredJobs(tx, { row, jobs, manual: false, at });
      await updateSettled(tx, row.id, { ...d, lastFireAtMs: made.at(-1)?.fireTimeMs ?? null }, at);
      cancel = d.cancel;
      this.count(row, made, d.missed.length);
      return made;
    });
    if (fired === undefined) return (await this.repo.find(id)) ? 'fenced' : 0;
    await this.schedules.enqueued(fired);
    await this.cancelPrevious(id, cancel);
    return fired.length;
  }

  /** cancel_previous: after the new job is stored (a crash in between leaves the old one running: logged). */
  private async cancelPrevious(scheduleId: string, ids: string[]): Promise<void> {
    for (const jobId of ids) {
      await this.jobs.cancel(jobId).catch((err: unknown) => {
        this.log.warn(
          { scheduleId, jobId, err: String(err) },
          'cancel_previous: the earlier job could not be cancelled',
        );
      });
    }
  }

  private count(row: ScheduleRow, made: FiredJob[], missed: number): void {
    if (made.length > 0) this.metrics.scheduleFires.inc({ outcome: 'job' }, made.length);
    if (missed > 0) this.metrics.scheduleFires.inc({ outcome: 'missed' }, missed);
    if (made.length > 0) this.log.info({ scheduleId: row.id, jobs: made.map((j) => j.id) }, 'schedule fired');
  }

  /**
   * One schedule's pass failed on the schedule itself (its rule, its secrets): the others go on; it is tried
   * again next pass. Postgres errors fail the whole pass (the next one retries everything).
   */
  private poisoned(id: string, err: unknown): number {
    if (!(err instanceof RruleTooCostly) && !(err instanceof SecretOpenError)) throw err;
    this.log.error(
      { scheduleId: id, err: String(err) },
      'schedule skipped this pass: its fire times cannot be decided',
    );
    return 0;
  }
}

function stateOf(row: ScheduleRow, active: string[]) {
  return {
    spec: row.spec,
    settledUntilMs: row.settled_until.getTime(),
    bufferedFireAtMs: row.buffered_fire_at?.getTime() ?? null,
    activeJobIds: active,
  };
}
