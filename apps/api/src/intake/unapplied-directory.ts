import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { DomainError } from '@jr/contracts';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { LOGGER, type Logger } from '../common/logger';
import { PendingSubmissions } from './pending-submissions';
import { writeReplicaIdFile } from './replica-id-file';
import { UnappliedDirectoryRepository, type Holder } from './unapplied-directory.repository';

/** How long a submission's answer waits for its id to be written to Redis (it is durable already). */
const ANNOUNCE_WAIT_MS = 250;
/** One Redis command's deadline. */
const COMMAND_TIMEOUT_MS = 500;
/** This replica's hash is rewritten this often (it heals any write lost to an error, and refreshes its TTL)... */
const RESYNC_EVERY_MS = 60_000;
/** ...and this soon after a write failed or Redis came back. */
const RESYNC_SOON_MS = 1_000;
/** A hash its replica stopped refreshing (it died and never came back) disappears after this. */
const TTL_MS = 7 * 24 * 3_600_000;
/** Poll interval while another replica holds the job unapplied: doubles from the first to the last. */
const POLL_FIRST_MS = 20;
const POLL_MAX_MS = 250;

/** What a miss (not in Postgres, not in this replica's index) turned out to be. */
export type MissOutcome = 'appeared' | 'absent';

/**
 * Tells every replica which jobs are acknowledged but not yet in Postgres, and where. Without it a job
 * accepted by replica A is "404 unknown" on replica B until A's relay applies it: moments normally, but
 * as long as A is cut off from Postgres or dead with the job in its journal, and a client that fails over
 * from A to B (the CLI with an endpoint list) takes the 404 as final. So intake writes each id (with its
 * pool) to this replica's hash in Redis before it answers, the relay removes it once applied, and a
 * replica that misses a job asks here before it says 404: held elsewhere is waited for (bounded) and then
 * 503 "retry" (for a pool-restricted caller only when the job is of its pool: no oracle for other pools);
 * Redis unable to tell is 503 too (absence cannot be confirmed). The hash is rewritten from the journal's
 * index at start-up, after Redis comes back, after any failed write and every minute.
 */
@Injectable()
export class UnappliedDirectory implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly repo: UnappliedDirectoryRepository;
  private readonly replica: string;
  private readonly dataDir: string;
  private timer: NodeJS.Timeout | undefined;
  private syncing = false;
  /** A write failed since the running resync took its snapshot: the next resync comes soon, not in a minute. */
  private dirty = false;
  private closed = false;
  private down = false;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly pending: PendingSubmissions,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.replica = config.replicaId;
    this.dataDir = config.dataDir;
    const name = `jr-unapplied:${config.replicaId}`;
    this.repo = new UnappliedDirectoryRepository(config.redis, config.queuePrefix, COMMAND_TIMEOUT_MS, name);
    pending.onSettled((ids) => this.settled(ids));
    // a reconnect (a Redis restart or failover) may have lost writes, even the running resync's
    this.repo.onReady(() => {
      this.dirty = true;
      if (!this.syncing) this.resyncIn(0);
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    this.resyncIn(0);
    await writeReplicaIdFile(this.dataDir, this.replica);
  }

  onApplicationShutdown(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.repo.close();
  }

  /**
   * `id` is journaled: write it before the answer, so whoever learns the id finds it on any replica.
   * Bounded: the journal is the durability point, and a slow or absent Redis must not hold intake up.
   * Redis down: the others answer 503 for the id until the resync writes it; a write that is only late
   * still lands (in order, before its removal), and a replica asked in between answers 404.
   */
  async announce(id: string, pool: string): Promise<void> {
    if (!this.repo.ready) {
      this.failed('not connected');
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, ANNOUNCE_WAIT_MS, false)));
    const write = this.repo.add(this.replica, [{ id, pool }], TTL_MS).then(
      () => true,
      (err: unknown) => this.failed(String(err)),
    );
    const landed = await Promise.race([write, late]);
    clearTimeout(timer);
    if (!landed) this.failed('no answer in time');
  }

  /**
   * Postgres has no row for `id` and this replica's index does not hold it. `recheck` reads Postgres
   * again. 'appeared': the row is there now; 'absent': no replica holds it unapplied (404 is right), or
   * one holds it in another pool than `onlyPool` (a pool-restricted caller: as if it did not exist).
   * Throws DEPENDENCY_DOWN while another replica still holds it after `waitMs`, or when Redis cannot say.
   */
  async resolveMiss(
    id: string,
    waitMs: number,
    recheck: () => Promise<boolean>,
    onlyPool: string | null = null,
  ): Promise<MissOutcome> {
    const deadline = performance.now() + waitMs;
    let pollMs = POLL_FIRST_MS;
    for (;;) {
      const holder = await this.holder(id);
      // a relay removes the id only after applying it: no holder now means Postgres has the final word
      if (await recheck()) return 'appeared';
      if (holder === null || (onlyPool !== null && holder.pool !== onlyPool)) return 'absent';
      const left = deadline - performance.now();
      if (left <= 0)
        throw new DomainError(
          'DEPENDENCY_DOWN',
          `job ${id} is accepted by replica ${holder.replica} and not yet stored; retry shortly`,
          { retryAfterSeconds: 1, replica: holder.replica },
        );
      await sleep(Math.min(pollMs, left));
      pollMs = Math.min(POLL_MAX_MS, pollMs * 2);
    }
  }

  private async holder(id: string): Promise<Holder | null> {
    try {
      if (!this.repo.ready) throw new Error('not connected');
      return await this.repo.holder(id);
    } catch (err) {
      this.failed(String(err));
      throw new DomainError(
        'DEPENDENCY_DOWN',
        `job ${id} is not in Postgres and Redis cannot tell whether another replica holds it; retry shortly`,
        { retryAfterSeconds: 2 },
      );
    }
  }

  private settled(ids: string[]): void {
    if (ids.length === 0 || !this.repo.ready) return;
    this.repo.remove(this.replica, ids).catch((err: unknown) => this.failed(String(err)));
  }

  private failed(cause: string): false {
    if (!this.down) this.log.warn({ err: cause }, 'unapplied-jobs directory in Redis not written; rewriting it soon');
    this.down = true;
    this.dirty = true;
    if (!this.syncing) this.resyncIn(RESYNC_SOON_MS); // else the running resync reschedules when it ends
    return false;
  }

  private resyncIn(ms: number): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.resync(), ms);
    this.timer.unref();
  }

  /** This replica's hash becomes the journal index's jobs, snapshot and write sent in one tick. */
  private async resync(): Promise<void> {
    if (this.syncing || this.closed) return;
    this.syncing = true;
    this.dirty = false;
    try {
      if (!this.repo.ready) throw new Error('not connected');
      await this.repo.replace(this.replica, this.pending.unapplied(), TTL_MS);
      if (this.down && !this.dirty) this.log.info('unapplied-jobs directory in Redis written again');
      this.down = this.dirty;
    } catch (err) {
      this.failed(String(err));
    } finally {
      this.syncing = false;
    }
    this.resyncIn(this.dirty ? RESYNC_SOON_MS : RESYNC_EVERY_MS);
  }
}
