import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { LOGGER, type Logger } from '../common/logger';
import { METRICS, type ApiMetrics } from '../telemetry/api-metrics';
import { IdempotencyReservationRepository, type ReserveResult } from './idempotency-reservation.repository';

/** A pending reservation this old belongs to a replica that died between reserving and journaling: it may be taken over. */
export const STALE_PENDING_MS = 5_000;
/** How long a request waits for another replica's pending reservation of its key to commit, polling. */
export const PENDING_WAIT_MS = 2_000;
/** One Redis command's deadline; past it (or on any error) the request goes on without Redis. */
const COMMAND_TIMEOUT_MS = 500;
/** After a Redis error, reservations are skipped this long (no request pays the timeout in a row). */
const FAILURE_BACKOFF_MS = 1_000;
/** Poll interval while another replica's reservation is pending: doubles from the first to the last. */
const POLL_FIRST_MS = 10;
const POLL_MAX_MS = 200;
/** A commit that failed on a Redis error is tried again this often, in the background, after these delays. */
const COMMIT_RETRY_MS = [100, 400, 1_000] as const;

const COMMITTED_RE = /^(j_[0-9a-z]{26}):(.+)$/;

/** An acknowledged submission a reservation names: its id and request hash. */
export interface ReservedPrior {
  id: string;
  requestHash: string;
}

/**
 * What intake does with a keyed submission after asking Redis:
 * - `mine`: this request journals (`ticket` then commits or releases the reservation);
 * - `duplicate`: a replica acknowledged `prior` with this key;
 * - `busy`: another replica's reservation is still pending after the wait (503, retry in `retryAfterMs`);
 * - `unavailable`: Redis did not answer; only the local checks and the relay's aliasing stand. With
 *   `ticket`, a reservation was sent and its fate is unknown (a timeout: it may still land, e.g. when a
 *   partition heals): commit or release it all the same, without waiting (a no-op if it never landed;
 *   sent on the same connection, it lands after it).
 */
export type Claim =
  | { kind: 'mine'; ticket: ReservationTicket }
  | { kind: 'duplicate'; prior: ReservedPrior }
  | { kind: 'busy'; retryAfterMs: number }
  | { kind: 'unavailable'; ticket?: ReservationTicket };

/** Outcomes counted by jr_idempotency_reservations_total (IDEMPOTENCY_RESERVATION_OUTCOMES in the catalog). */
type Outcome = 'reserved' | 'taken_over' | 'duplicate' | 'busy' | 'lost' | 'unavailable';

/**
 * One Idempotency-Key → one job id across API replicas. Before a keyed submission is journaled it
 * reserves its key in Redis (`pending:<id>:<hash>:<replica>:<redis ms>`); once the journal append is
 * durable the reservation becomes `<id>:<hash>` (compare-and-set), and if the append fails it is
 * released. Another request with the key, on any replica, answers the committed id as a duplicate,
 * waits (bounded) for a pending one, or takes over one left pending past STALE_PENDING_MS. A
 * reservation names only an id its replica journaled. Redis unreachable: `unavailable`, logged once per
 * outage and counted; intake then relies on its local checks and the relay's aliasing, as before.
 */
@Injectable()
export class IdempotencyReservations implements OnApplicationShutdown {
  private readonly repo: IdempotencyReservationRepository;
  private readonly ttlMs: number;
  /** Names this process in pending values (diagnostics only; Redis' clock decides staleness). */
  private readonly replica = `${hostname()
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .slice(0, 64)}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private skipUntil = 0;
  private down = false;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(METRICS) private readonly metrics: ApiMetrics,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.repo = new IdempotencyReservationRepository(config.redis, config.queuePrefix, COMMAND_TIMEOUT_MS);
    this.ttlMs = config.idempotencyRedisTtlMs;
  }

  onApplicationShutdown(): void {
    this.repo.close();
  }

  /** Reserves `key` for the submission that will journal as `id` with `requestHash`, or says who has it. */
  async claim(key: string, id: string, requestHash: string): Promise<Claim> {
    const digest = keyDigest(key);
    const pending = `pending:${id}:${requestHash}:${this.replica}`;
    const deadline = performance.now() + PENDING_WAIT_MS;
    let pollMs = POLL_FIRST_MS;
    for (;;) {
      const found = await this.reserve(digest, pending);
      if (found === 'skipped') return this.count('unavailable', { kind: 'unavailable' });
      if (found === 'failed')
        return this.count('unavailable', { kind: 'unavailable', ticket: this.ticket(digest, pending) });
      if (found.kind !== 'pending') return this.claimOf(found, digest, pending);
      const left = deadline - performance.now();
      if (left <= 0)
        return this.count('busy', { kind: 'busy', retryAfterMs: Math.max(1, STALE_PENDING_MS - found.ageMs) });
      await sleep(Math.min(pollMs, left));
      pollMs = Math.min(POLL_MAX_MS, pollMs * 2);
    }
  }

  private claimOf(found: Exclude<ReserveResult, { kind: 'pending' }>, digest: string, pending: string): Claim {
    switch (found.kind) {
      case 'reserved':
        return this.count('reserved', { kind: 'mine', ticket: this.ticket(digest, pending) });
      case 'taken':
        this.log.warn(
          { reservation: found.previous },
          'idempotency reservation left pending by another replica taken over (it died before journaling?)',
        );
        return this.count('taken_over', { kind: 'mine', ticket: this.ticket(digest, pending) });
      case 'committed': {
        const m = COMMITTED_RE.exec(found.value);
        if (!m) {
          this.log.error({ reservation: found.value }, 'unreadable idempotency reservation in Redis; ignored');
          return this.count('unavailable', { kind: 'unavailable' });
        }
        return this.count('duplicate', {
          kind: 'duplicate',
          prior: { id: m[1] as string, requestHash: m[2] as string },
        });
      }
    }
  }

  private ticket(digest: string, pending: string): ReservationTicket {
    return new ReservationTicket(
      async (committed) => this.commit(digest, pending, committed),
      async () => {
        await this.guard(() => this.repo.release(digest, pending));
      },
    );
  }

  /** After the append: true when the reservation now names `committed`, false when it was taken over meanwhile. */
  private async commit(digest: string, pending: string, committed: string): Promise<boolean> {
    const done = await this.guard(() => this.repo.commit(digest, pending, committed, this.ttlMs));
    if (done === false) {
      this.count('lost', undefined);
      this.log.warn(
        { committed },
        'idempotency reservation taken over by another replica before this one journaled; the relay aliases the two ids',
      );
    }
    if (done === undefined) void this.retryCommit(digest, pending, committed);
    return done !== false;
  }

  private async retryCommit(digest: string, pending: string, committed: string): Promise<void> {
    for (const delay of COMMIT_RETRY_MS) {
      await sleep(delay);
      const done = await this.repo.commit(digest, pending, committed, this.ttlMs).catch(() => undefined);
      if (done !== undefined) return;
    }
  }

  /** `skipped`: nothing sent (not connected, or backing off); `failed`: sent, no answer (it may still land). */
  private async reserve(digest: string, pending: string): Promise<ReserveResult | 'skipped' | 'failed'> {
    if (performance.now() < this.skipUntil || !this.repo.ready) {
      this.markDown('not connected');
      return 'skipped';
    }
    return (await this.guard(() => this.repo.reserve(digest, pending, STALE_PENDING_MS, this.ttlMs))) ?? 'failed';
  }

  /** Runs one Redis call; undefined (and a short back-off) on any error. */
  private async guard<T>(op: () => Promise<T>): Promise<T | undefined> {
    try {
      const out = await op();
      if (this.down) {
        this.down = false;
        this.log.info('idempotency reservations in Redis work again');
      }
      return out;
    } catch (err) {
      this.skipUntil = performance.now() + FAILURE_BACKOFF_MS;
      this.markDown(String(err));
      return undefined;
    }
  }

  private markDown(cause: string): void {
    if (this.down) return;
    this.down = true;
    this.log.warn(
      { err: cause },
      'idempotency reservations: Redis unreachable; a key is checked on this replica and in Postgres only (the relay aliases a key two replicas accepted)',
    );
  }

  private count<T>(outcome: Outcome, value: T): T {
    this.metrics.idempotencyReservations.inc({ outcome });
    return value;
  }
}

/** The reservation a request holds between "reserved" and "journaled". */
export class ReservationTicket {
  constructor(
    private readonly onCommit: (committed: string) => Promise<boolean>,
    private readonly onRelease: () => Promise<void>,
  ) {}

  /**
   * The submission is acknowledged as `prior.id` (journaled here, or found in Postgres): the
   * reservation names it. False: another replica took the reservation over before this call.
   */
  commit(prior: ReservedPrior): Promise<boolean> {
    return this.onCommit(`${prior.id}:${prior.requestHash}`);
  }

  /** Nothing was acknowledged (the journal refused): let the next request with the key reserve it. */
  release(): Promise<void> {
    return this.onRelease();
  }
}

/**
 * The Redis name of a key: a digest, so Redis never holds the key itself (a key is a capability, see
 * docs/contract.md "Secrets"). Keys are global, not per token (the contract's "same key: same job id",
 * and jobs.idempotency_key is unique over all tokens), hence the fixed scope.
 */
export function keyDigest(key: string): string {
  return createHash('sha256').update(`global\n${key}`, 'utf8').digest('hex');
}
