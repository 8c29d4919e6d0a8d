import { createHash } from 'node:crypto';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { DomainError } from '@jr/contracts';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import type { Rate } from '../config/limits.schema';
import { LOGGER, type Logger } from '../common/logger';
import { METRICS, type ApiMetrics } from '../telemetry/api-metrics';
import { RateLimitRepository, type RateCounter } from './rate-limit.repository';

/** The limits a client is told about (RateLimit-Policy names) and counted by (jr_rate_limited_total). */
export type LimitName = 'address' | 'token' | 'agent' | 'enroll';

/** One limit's state after a request: what RateLimit / RateLimit-Policy carry. */
export interface Verdict {
  name: LimitName;
  rate: Rate;
  allowed: boolean;
  remaining: number;
  resetMs: number;
}

/** Lockouts of one address within this window count as repeats (each doubles the next). */
const STRIKE_WINDOW_MS = 86_400_000;
/**
 * How long "no failed authentication from this address" is believed without asking Redis again. A
 * lockout another replica starts reaches this one within that time; a failure here forgets it at once.
 */
const CLEAR_ADDRESS_MS = 1_000;
const CLEAR_ADDRESSES_SWEEP_AT = 10_000;
/** Store errors are logged at most this often (the counter counts each). */
const STORE_ERROR_LOG_MS = 10_000;

/** The n-th lockout (1-based) of an address lasts base * 2^(n-1), capped. */
export function lockoutDurationMs(strike: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(0, strike - 1), 40));
}

/** A key that names a secret without holding it (tokens and agent credentials are keyed by digest). */
export function secretKey(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('base64url').slice(0, 32);
}

/**
 * The API's rate limits and address lockouts, shared by every replica through Redis. Counting is done
 * here; refusing (429, RESOURCE_EXHAUSTED) is the edges' job with `rateLimited()`.
 */
@Injectable()
export class RateLimitsService implements OnApplicationShutdown {
  private readonly repo: RateLimitRepository;
  private readonly counters = new Map<LimitName, RateCounter>();
  private readonly failures: RateCounter | undefined;
  private readonly strikes: RateCounter | undefined;
  private lastStoreErrorLog = 0;
  /** Addresses Redis said had no failures, until when that is believed (CLEAR_ADDRESS_MS). */
  private readonly clearAddresses = new Map<string, number>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(METRICS) private readonly metrics: ApiMetrics,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.repo = new RateLimitRepository(config.redis, config.queuePrefix, (err) => this.storeError(err));
    const l = config.limits;
    const rates: Array<[LimitName, Rate | undefined]> = [
      ['address', l.perAddress],
      ['token', l.perToken],
      ['agent', l.perAgent],
      ['enroll', l.enrollPerAddress],
    ];
    // request limits are counted in blocks; the failure and strike counts below stay exact
    for (const [name, rate] of rates) if (rate) this.counters.set(name, this.repo.counter(name, rate, true));
    if (l.authFailures) {
      this.failures = this.repo.counter('authfail', l.authFailures);
      this.strikes = this.repo.counter('lockouts', { points: 1e9, windowMs: STRIKE_WINDOW_MS });
    }
  }

  /** Counts one call against a limit; undefined when that limit is off. */
  async consume(name: LimitName, key: string): Promise<Verdict | undefined> {
    const counter = this.counters.get(name);
    if (!counter) return undefined;
    const c = await counter.consume(key);
    if (!c.allowed) this.metrics.rateLimited.inc({ limit: name });
    return {
      name,
      rate: counter.rate,
      allowed: c.allowed,
      remaining: Math.max(0, counter.rate.points - c.consumed),
      resetMs: c.resetMs,
    };
  }

  /** Milliseconds the address stays locked out, or undefined when it is not. */
  async lockedOutMs(address: string): Promise<number | undefined> {
    if (!this.failures) return undefined;
    const now = Date.now();
    if ((this.clearAddresses.get(address) ?? 0) > now) return undefined;
    const c = await this.failures.peek(address);
    if (!c) this.believeClear(address, now);
    if (!c || c.consumed <= this.failures.rate.points) return undefined;
    this.metrics.rateLimited.inc({ limit: 'auth_lockout' });
    return Math.max(1, c.resetMs);
  }

  /**
   * A failed authentication or enrollment from `address`. The one that crosses the limit locks the
   * address out, for longer each time within a day. A success does not clear the count: a client
   * holding one valid token must not earn fresh guesses at another.
   */
  async authFailed(address: string): Promise<void> {
    this.clearAddresses.delete(address);
    const failures = this.failures;
    if (!failures || !this.strikes) return;
    const c = await failures.consume(address);
    if (c.allowed || c.consumed !== failures.rate.points + 1) return;
    const strike = (await this.strikes.consume(address)).consumed;
    const ms = lockoutDurationMs(strike, this.config.limits.lockoutMs, this.config.limits.lockoutMaxMs);
    await failures.block(address, ms);
    this.metrics.authLockouts.inc();
    this.log.warn({ address, strike, lockoutMs: ms }, 'address locked out after repeated failed authentication');
  }

  private believeClear(address: string, now: number): void {
    if (this.clearAddresses.size >= CLEAR_ADDRESSES_SWEEP_AT)
      for (const [a, until] of this.clearAddresses) if (until <= now) this.clearAddresses.delete(a);
    this.clearAddresses.set(address, now + CLEAR_ADDRESS_MS);
  }

  onApplicationShutdown(): void {
    this.repo.close();
  }

  private storeError(err: unknown): void {
    this.metrics.rateLimitStoreErrors.inc();
    const now = Date.now();
    if (now - this.lastStoreErrorLog < STORE_ERROR_LOG_MS) return;
    this.lastStoreErrorLog = now;
    this.log.warn(
      { err: err instanceof Error ? err.message : String(err) },
      'rate limits: Redis unavailable, using per-process limits (fail open)',
    );
  }
}

/** The error an edge answers for a refused call (429 + Retry-After, RESOURCE_EXHAUSTED + push-back). */
export function rateLimited(what: string, retryAfterMs: number): DomainError {
  const ms = Math.max(1, Math.ceil(retryAfterMs));
  return new DomainError('RATE_LIMITED', `${what}; retry in ${Math.ceil(ms / 1_000)}s`, {
    retryAfterSeconds: Math.ceil(ms / 1_000),
    retryAfterMs: ms,
  });
}
