import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, CLOCK, type AppConfig, type Clock } from '../config/app-config';
import { AttemptRegistry } from '../common/attempt-registry';
import { DomainEvents } from '../common/events';
import { LOGGER, type Logger } from '../common/logger';
import { AgentsRepository } from '../agents/agents.repository';
import { METRICS, type ApiMetrics } from '../telemetry/api-metrics';
import { JobLedgerRepository } from '../jobs/job-ledger.repository';
import type { Fence } from '../leadership/leader-lease';
import { LeadershipService } from '../leadership/leadership.service';
import type { HeldElsewhere } from '../leadership/replica-record';
import { ReplicaRecordService } from '../leadership/replica-record.service';
import { EnqueueService } from './enqueue.service';
import { agentSilenceCutoff, leaseExpiresAt, reaperDelayMs } from './lease-expiry';

const BATCH = 100;
/**
 * Added to the amnesty's lease period: after an outage an agent reconnects on its gRPC channel's
 * backoff (1 s growing by 1.6x), so its first heartbeat can come seconds after the API is back.
 */
export const AMNESTY_RECONNECT_MS = 10_000;

/**
 * Ends attempts whose lease ran out (`lost`), sends their jobs through the retry decision, marks
 * silent agents lost, and re-adds queued jobs whose BullMQ job never made it. One loop, jittered.
 * Those three are singleton duties: only the elected leader (LeadershipService) runs them, and its
 * expiry and mark-lost writes carry its epoch, so a deposed leader's late writes change nothing. The
 * leader leaves alone what another live replica holds (its record in Redis): attempts whose results it
 * journaled and has not applied, attempts its agents said they run in heartbeats it could not store,
 * and those agents themselves. Redis unreachable: by Postgres alone, as with a single replica.
 *
 * Amnesty (every replica, for its own agents): after this process starts, and after a pass that failed
 * (Postgres unreachable), every live lease granted before that moment to an agent whose heartbeats came
 * to this replica (agents.last_replica) first gets a full lease period (plus time to reconnect) from now,
 * and those agents are not marked lost during it. They could not heartbeat while this replica or its
 * Postgres was down; that silence is ours, not evidence of a dead agent. Other live replicas' agents could
 * heartbeat all along, and so could the agents of leases this process granted since. Agents whose last
 * replica has no live record (it is gone: a site failover, a replica that never came back) are covered as
 * well: they are reconnecting to whoever is left.
 * An attempt whose result is already journaled here (not yet applied) is never expired.
 */
@Injectable()
export class LeaseReaperService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private amnestyDue = true;
  /** Amnesty covers leases granted before this instant: the process start, then the start of a failed pass. */
  private amnestyBeforeMs: number;
  private graceUntilMs = 0;
  /** Gone replicas whose agents the current amnesty covers (spared from mark-lost with ours). */
  private graceOrphans: string[] = [];
  private offRevoked: (() => void) | undefined;

  constructor(
    private readonly ledger: JobLedgerRepository,
    private readonly agents: AgentsRepository,
    private readonly enqueue: EnqueueService,
    private readonly registry: AttemptRegistry,
    private readonly events: DomainEvents,
    private readonly leadership: LeadershipService,
    private readonly records: ReplicaRecordService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(METRICS) private readonly metrics: ApiMetrics,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.amnestyBeforeMs = clock.now();
  }

  onApplicationBootstrap(): void {
    // From here on this process may grant leases; the ones before it could not be ours (a replica that
    // waited for its standby to be promoted was constructed long before it served anything)
    this.amnestyBeforeMs = this.clock.now();
    this.offRevoked = this.events.onAgentRevoked((id, attempts) => void this.failOver(id, attempts));
    this.schedule();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.offRevoked?.();
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One pass; returns how many attempts it ended. */
  async tick(): Promise<number> {
    const now = this.clock.now();
    const amnesty = this.amnestyDue;
    if (amnesty) await this.grantAmnesty(now);
    const fence = this.leadership.fence();
    if (!fence) {
      if (!amnesty) await this.ledger.ping(); // a failed pass is how an outage is noticed (and amnesty owed)
      return 0;
    }
    const held = await this.records.heldElsewhere();
    const ended = await this.expireDue(now, fence, held);
    await this.markLost(now, fence, held);
    // Redis down only delays the sweep; it is no reason for amnesty (Postgres answered above)
    await this.enqueue
      .sweep(new Date(now))
      .catch((err: unknown) => this.log.warn({ err: String(err) }, 'enqueue sweep failed'));
    return ended;
  }

  private async expireDue(now: number, fence: Fence, held: HeldElsewhere | undefined): Promise<number> {
    let ended = 0;
    const skip = held ? [...held.attempts] : [];
    for (const { jobId, attempt } of await this.ledger.expiredLeases(new Date(now), BATCH, skip)) {
      const r = await this.expire(jobId, attempt, now, 'lease expired: attempt lost', fence);
      if (r === 'fenced') break;
      if (r) ended++;
    }
    return ended;
  }

  /** Silent agents are lost, but those a live replica heard and those of a replica in its amnesty. */
  private async markLost(now: number, fence: Fence, held: HeldElsewhere | undefined): Promise<void> {
    const replicas = [...(held?.graceReplicas ?? [])];
    if (now < this.graceUntilMs) replicas.push(this.leadership.replicaId, '', ...this.graceOrphans);
    const spare = { agents: held ? [...held.agents] : [], replicas };
    const lost = await this.agents.markLost(agentSilenceCutoff(now, this.config.heartbeatIntervalMs), fence, spare);
    for (const a of lost) this.metrics.agentsLost.inc({ pool: a.pool });
    if (lost.length > 0)
      this.log.warn({ agents: lost.map((a) => a.id) }, 'agents lost (silent for 3 heartbeat intervals)');
  }

  /** Ends one expired attempt `lost` and sends its job through the retry decision; false when it was not due. */
  private async expire(
    jobId: string,
    attempt: number,
    now: number,
    why: string,
    fence?: Fence,
  ): Promise<boolean | 'fenced'> {
    if (this.registry.hasPending(jobId, attempt)) return false; // its result is in hand: the results relay ends it
    const t = await this.ledger.expire(jobId, attempt, new Date(now), this.config.maxLostAttempts, fence);
    if (t === 'fenced') {
      this.log.warn({ epoch: fence?.epoch }, 'reaper pass fenced off: another replica leads now');
      return 'fenced';
    }
    if (!t) return false;
    this.metrics.leasesExpired.inc({ pool: t.pool });
    this.registry.setState(jobId, attempt, 'lost', t.state);
    this.log.warn({ jobId, attempt, jobState: t.state }, why);
    await this.enqueue.afterTransition(t);
    return true;
  }

  /** A revoked agent's attempts (their leases already ended) end lost now, on the replica that revoked it. */
  private async failOver(agentId: string, attempts: Array<{ jobId: string; attempt: number }>): Promise<void> {
    const now = this.clock.now();
    for (const { jobId, attempt } of attempts)
      await this.expire(jobId, attempt, now, 'agent revoked: attempt lost').catch((err: unknown) =>
        this.log.warn(
          { agentId, jobId, err: String(err) },
          "ending a revoked agent's attempt failed; the reaper retries",
        ),
      );
  }

  private async grantAmnesty(now: number): Promise<void> {
    const until = new Date(leaseExpiresAt(now, this.config.heartbeatIntervalMs).getTime() + AMNESTY_RECONNECT_MS);
    const replica = this.leadership.replicaId;
    // Redis unreadable: which replicas live is unknown, so only our own agents are covered
    const live = (await this.records.heldElsewhere())?.liveReplicas;
    const { extended, orphans } = await this.ledger.extendLiveLeases(
      until,
      new Date(this.amnestyBeforeMs),
      replica,
      live,
    );
    this.amnestyDue = false;
    this.graceUntilMs = until.getTime();
    this.graceOrphans = orphans;
    this.records.setGraceUntil(this.graceUntilMs);
    if (extended > 0)
      this.log.info(
        { leases: extended, untilMs: this.graceUntilMs, replica, goneReplicas: orphans },
        "live leases of this replica's agents (and of gone replicas' agents) extended: they could not heartbeat while their replica or its Postgres was unavailable",
      );
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      const startedAtMs = this.clock.now();
      this.running = this.tick()
        .then(() => undefined)
        .catch((err: unknown) => {
          this.amnestyDue = true;
          this.amnestyBeforeMs = startedAtMs;
          this.log.warn({ err: String(err) }, 'lease reaper pass failed');
        })
        .finally(() => this.schedule());
    }, reaperDelayMs(this.config.heartbeatIntervalMs));
  }
}
