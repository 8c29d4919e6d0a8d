import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { jittered, sleep } from '@jr/resilience';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { LOGGER, type Logger } from '../common/logger';
import { PG_LOCATOR } from '../database/database.module';
import type { PrimaryLocator } from '../database/primary-client';
import { METRICS, type ApiMetrics } from '../telemetry/api-metrics';
import { LEADER_TIMING, LeaderLease, SINGLETON_DUTY, type Fence } from './leader-lease';
import { LeadershipConnection, type LeadershipView } from './leadership.repository';

/** What /readyz shows about leadership. */
export interface LeadershipState {
  replica: string;
  leader: boolean;
  /** The epoch this replica leads under, or the last one it saw another replica begin. */
  epoch: number | null;
  /** Who leads, as this replica last saw it (itself when leader). */
  holder: string | null;
}

const now = (): number => performance.now();

/**
 * Leader election for the singleton duties: a session-level advisory lock held on one dedicated
 * connection (leadership.repository.ts), tried every ~1 s by the other replicas. The leader begins a
 * new epoch when it takes the lock, renews every second and steps down (every duty stops: they ask
 * `fence()` before each pass and carry its epoch into their writes) when a renewal fails or answers
 * later than its lease (leader-lease.ts). Timing uses the monotonic clock, never the injected one.
 */
@Injectable()
export class LeadershipService implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly stop = new AbortController();
  private readonly lease = new LeaderLease();
  private readonly electedListeners = new Set<(fence: Fence) => void>();
  private readonly deposedListeners = new Set<() => void>();
  private conn: LeadershipConnection | undefined;
  private loop: Promise<void> | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private seen: LeadershipView = { epoch: null, holder: null, renewedAt: null };

  constructor(
    @Inject(PG_LOCATOR) private readonly locator: PrimaryLocator,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(METRICS) private readonly metrics: ApiMetrics,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  get replicaId(): string {
    return this.config.replicaId;
  }

  /** The first attempt is awaited (bounded by its timeouts): a lone replica leads before it reports ready. */
  async onApplicationBootstrap(): Promise<void> {
    this.metrics.leader.set({ replica: this.replicaId }, 0);
    await this.step().catch((err: unknown) => this.lostConnection(err));
    this.loop = this.run();
  }

  /** Duties stop first (their passes end under the epoch they began with); the lock goes at shutdown. */
  beforeApplicationShutdown(): void {
    this.stop.abort();
    this.stepDown('shutting down');
  }

  async onApplicationShutdown(): Promise<void> {
    await this.loop;
    await this.conn?.close();
    this.conn = undefined;
  }

  isLeader(): boolean {
    return this.lease.epochAt(now()) !== undefined;
  }

  /** The epoch to carry into a singleton write, while this replica leads; undefined otherwise. */
  fence(): Fence | undefined {
    const epoch = this.lease.epochAt(now());
    return epoch === undefined ? undefined : { duty: SINGLETON_DUTY, epoch };
  }

  state(): LeadershipState {
    const leader = this.isLeader();
    return {
      replica: this.replicaId,
      leader,
      epoch: leader ? (this.fence()?.epoch ?? null) : this.seen.epoch,
      holder: leader ? this.replicaId : this.seen.holder,
    };
  }

  /** Called with the new fence each time this replica is elected; returns the unsubscribe. */
  onElected(listener: (fence: Fence) => void): () => void {
    this.electedListeners.add(listener);
    return () => this.electedListeners.delete(listener);
  }

  onDeposed(listener: () => void): () => void {
    this.deposedListeners.add(listener);
    return () => this.deposedListeners.delete(listener);
  }

  private async run(): Promise<void> {
    while (!this.stop.signal.aborted) {
      const wait = this.lease.held ? LEADER_TIMING.renewIntervalMs : jittered(LEADER_TIMING.retryIntervalMs, 0.2);
      await sleep(wait, this.stop.signal).catch(() => undefined);
      if (!this.stop.signal.aborted) await this.step().catch((err: unknown) => this.lostConnection(err));
    }
  }

  private async step(): Promise<void> {
    this.conn ??= await LeadershipConnection.open(this.locator);
    const sentAt = now();
    if (this.lease.held) {
      const ok = await this.conn.renew(SINGLETON_DUTY, this.lease.epochAt(sentAt) ?? -1);
      if (!ok || !this.lease.renewed(sentAt, now()))
        await this.abdicate(ok ? 'renewal answered too late' : 'epoch gone');
      else this.arm();
      return;
    }
    const r = await this.conn.tryLead(SINGLETON_DUTY, this.replicaId);
    if (!r.got) return this.saw(r.view);
    if (this.stop.signal.aborted || !this.lease.elected(r.epoch, sentAt, now()))
      return this.abdicate('election answered too late');
    this.saw({ epoch: r.epoch, holder: this.replicaId, renewedAt: new Date() });
    this.metrics.leader.set({ replica: this.replicaId }, 1);
    this.arm();
    this.log.info({ replica: this.replicaId, epoch: r.epoch }, 'elected leader: running the singleton duties');
    const fence = { duty: SINGLETON_DUTY, epoch: r.epoch };
    for (const l of this.electedListeners) l(fence);
  }

  /** Counts epochs as they begin (own or another replica's). */
  private saw(view: LeadershipView): void {
    if (view.epoch !== null && view.epoch !== this.seen.epoch) this.metrics.leaderChanges.inc();
    this.seen = view;
  }

  /** The lease runs out on its own if no renewal extends it: duties stop then, whatever the connection does. */
  private arm(): void {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => this.stepDown('lease ran out without a renewal'), this.lease.validUntil - now());
    this.watchdog.unref();
  }

  private stepDown(why: string): void {
    clearTimeout(this.watchdog);
    if (!this.lease.held) return;
    this.lease.lost();
    this.metrics.leader.set({ replica: this.replicaId }, 0);
    this.log.warn({ replica: this.replicaId, why }, 'stepped down as leader: singleton duties stopped');
    for (const l of this.deposedListeners) l();
  }

  /** Stepped down while the connection may still hold the lock: drop the session so the lock goes with it. */
  private async abdicate(why: string): Promise<void> {
    this.stepDown(why);
    const conn = this.conn;
    this.conn = undefined;
    await conn?.close();
  }

  private async lostConnection(err: unknown): Promise<void> {
    if (this.lease.held) this.log.warn({ err: String(err) }, 'leadership renewal failed');
    else this.log.debug({ err: String(err) }, 'leader election: Postgres unreachable');
    await this.abdicate('renewal failed');
  }
}
