import { status as Status } from '@grpc/grpc-js';
import {
  circuitBreaker,
  ExponentialBackoff,
  handleWhen,
  isBrokenCircuitError,
  retry,
  timeout,
  TimeoutStrategy,
  wrap,
  type CircuitBreakerPolicy,
  type IDisposable,
  type IPolicy,
} from 'cockatiel';
import type { AgentMetrics } from '@jr/telemetry';
import type { Logger } from 'pino';
import { isApiCallError } from '../errors';
import type { SuspendedFlagStore, Suspension } from './suspended-flag';
import { SustainedOutageBreaker } from './sustained-outage-breaker';

export type BreakerState = 'closed' | 'open';
/** Who lifted a suspension: the operator through the API, the local control socket, or SIGUSR2. */
export type EnableSource = 'directive' | 'control' | 'signal';

export interface ReportingBreakerOptions {
  /** Consecutive failed reports (after their retries) that open the breaker: JR_BREAKER_THRESHOLD. */
  threshold: number;
  /** ...and for at least this long (first failure to latest): JR_BREAKER_MIN_OUTAGE. */
  minOutageMs: number;
  /** Per try. */
  timeoutMs: number;
  /** Tries after the first, jittered and bounded. */
  retries: number;
  retryInitialMs?: number;
  retryMaxMs?: number;
  flag: SuspendedFlagStore;
  logger: Logger;
  /** The reporter's lifetime: failures caused by stopping never count. */
  lifetime: AbortSignal;
  now?: () => number;
  /** jr_agent_breaker_open (1 while open) and jr_agent_breaker_opened_total. */
  metrics?: Pick<AgentMetrics, 'breakerOpen' | 'breakerOpened'>;
}

export interface BreakerSnapshot {
  state: BreakerState;
  since: string | undefined;
  reason: string | undefined;
  opened: number;
  enabled: number;
}

/**
 * gRPC codes that mean "the path to the API is broken" (the transport, or a server-side failure
 * that is not an answer about our request). Refusals (UNAUTHENTICATED, PERMISSION_DENIED,
 * FAILED_PRECONDITION "superseded", INVALID_ARGUMENT, RESOURCE_EXHAUSTED…) are answers: they never
 * count towards opening the breaker.
 */
const TRANSPORT_CODES: ReadonlySet<Status> = new Set([
  Status.UNAVAILABLE,
  Status.DEADLINE_EXCEEDED,
  Status.CANCELLED,
  Status.INTERNAL,
  Status.UNKNOWN,
  Status.DATA_LOSS,
]);

/** A try that got no answer within the per-try timeout. */
export class ReportTimeoutError extends Error {
  override readonly name = 'ReportTimeoutError';
}

/**
 * cockatiel's timeout gave up on the try. (cockatiel 3.2.1's own `isTaskCancelledError` tests the
 * wrong marker property and is always false: check the marker ourselves.)
 */
function isCockatielTimeout(err: unknown): boolean {
  return err instanceof Error && 'isTaskCancelledError' in err;
}

export function isTransportFailure(err: unknown): boolean {
  if (isCockatielTimeout(err) || (err instanceof Error && err.name === 'ReportTimeoutError')) return true;
  return isApiCallError(err) && TRANSPORT_CODES.has(err.code);
}

/**
 * Worth another try now: transport failures and the answers the status table calls transient, but not
 * an answer that asks us to wait (push-back): the delivery loop honours that before its next try.
 */
function isRetryable(err: unknown): boolean {
  if (isApiCallError(err) && err.pushbackMs !== undefined) return false;
  return isTransportFailure(err) || (isApiCallError(err) && err.action === 'retry');
}

/** The breaker refused the call: reporting is suspended. */
export function isBreakerOpenError(err: unknown): boolean {
  return isBrokenCircuitError(err);
}

/**
 * Status, log and completion reports go through this: retry (jittered, bounded) inside a per-try
 * timeout, inside a breaker that opens on a sustained outage (a count of consecutive failures that
 * also lasted a minimum time, SustainedOutageBreaker). When the breaker opens it is isolated at once (no
 * timer ever closes it) and a "reporting suspended" flag is written to disk; only `enable()` — the
 * API's directive, the local control socket or SIGUSR2 — closes it. Heartbeats do not go through it.
 */
export class ReportingBreaker {
  private readonly breaker: CircuitBreakerPolicy;
  private readonly counter: SustainedOutageBreaker;
  private readonly policy: IPolicy;
  private isolation: IDisposable | undefined;
  private suspension: Suspension | undefined;
  private waiters = new Set<() => void>();
  private persisting: Promise<void> = Promise.resolve();
  private opened = 0;
  private enabled = 0;

  private constructor(private readonly o: ReportingBreakerOptions) {
    const counts = handleWhen((err) => !o.lifetime.aborted && isTransportFailure(err));
    // halfOpenAfter is irrelevant (we isolate on break) but set huge so no timer could ever matter.
    this.counter = new SustainedOutageBreaker(o.threshold, o.minOutageMs, o.now);
    this.breaker = circuitBreaker(counts, { halfOpenAfter: 2 ** 31 - 1, breaker: this.counter });
    const backoff = new ExponentialBackoff({ initialDelay: o.retryInitialMs ?? 200, maxDelay: o.retryMaxMs ?? 5_000 });
    const retries = retry(
      handleWhen((err) => !o.lifetime.aborted && isRetryable(err)),
      { maxAttempts: o.retries, backoff },
    );
    this.policy = wrap(this.breaker, retries, timeout(o.timeoutMs, TimeoutStrategy.Aggressive));
    this.breaker.onBreak((reason) => {
      if ('isolated' in reason) return;
      this.suspend('error' in reason ? describe(reason.error) : 'reports failed');
    });
  }

  /** A breaker in the state the flag on disk says: suspended before the restart means suspended now. */
  static async create(o: ReportingBreakerOptions): Promise<ReportingBreaker> {
    const b = new ReportingBreaker(o);
    const persisted = await o.flag.read();
    o.metrics?.breakerOpen.set(persisted ? 1 : 0);
    if (persisted) {
      b.hold(persisted);
      o.logger.warn(
        persisted,
        'reporting is suspended (breaker open since before this start); reports stay in the outbox until re-enabled',
      );
    }
    return b;
  }

  get state(): BreakerState {
    return this.isolation ? 'open' : 'closed';
  }

  /** Runs one report through retry, timeout and the breaker (never once it or the agent stopped). `fn` must honour its signal. */
  execute<T>(fn: (signal: AbortSignal) => Promise<T>, signal: AbortSignal): Promise<T> {
    return this.policy.execute(async ({ signal: trySignal }) => {
      // a retry whose delay ended after the reporter or the agent stopped sends nothing
      if (signal.aborted || this.o.lifetime.aborted) throw new ReportingStoppedError();
      try {
        return await fn(trySignal);
      } catch (err) {
        // The call saw its signal abort: the per-try timeout, unless the agent itself is stopping.
        if (trySignal.aborted && !signal.aborted && !this.o.lifetime.aborted)
          throw new ReportTimeoutError(`no answer within ${this.o.timeoutMs}ms`);
        throw err;
      }
    }, signal);
  }

  /** Lifts the suspension (the external signal). Resolves once the flag is off the disk. */
  async enable(source: EnableSource): Promise<{ wasOpen: boolean }> {
    const handle = this.isolation;
    if (!handle) return { wasOpen: false };
    this.isolation = undefined;
    this.suspension = undefined;
    this.enabled += 1;
    // A fresh start: THRESHOLD new consecutive failures before it opens again.
    this.counter.success();
    handle.dispose();
    this.o.metrics?.breakerOpen.set(0);
    this.o.logger.info({ source }, 'reporting re-enabled; the outbox drains in order');
    for (const wake of [...this.waiters]) wake();
    await this.persist();
    return { wasOpen: true };
  }

  /** Resolves when the breaker is closed (at once if it is), or when `signal` aborts. */
  whenClosed(signal: AbortSignal): Promise<void> {
    if (!this.isolation || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        this.waiters.delete(wake);
        signal.removeEventListener('abort', wake);
        resolve();
      };
      this.waiters.add(wake);
      signal.addEventListener('abort', wake, { once: true });
    });
  }

  snapshot(): BreakerSnapshot {
    return {
      state: this.state,
      since: this.suspension?.since,
      reason: this.suspension?.reason,
      opened: this.opened,
      enabled: this.enabled,
    };
  }

  /** Resolves once the flag on disk matches the state. */
  flushed(): Promise<void> {
    return this.persisting;
  }

  private suspend(reason: string): void {
    if (this.isolation) return;
    this.opened += 1;
    this.hold({ since: new Date((this.o.now ?? Date.now)()).toISOString(), reason });
    this.o.metrics?.breakerOpen.set(1);
    this.o.metrics?.breakerOpened.inc();
    this.o.logger.warn(
      { threshold: this.o.threshold, reason },
      'reporting breaker open: reports go to the outbox until re-enabled (jr agents enable-reporting, jr-agent reporting enable or SIGUSR2)',
    );
    void this.persist();
  }

  private hold(suspension: Suspension): void {
    this.suspension = suspension;
    this.isolation = this.breaker.isolate();
  }

  /** Writes the current state (not a fixed value), one write at a time, so the last one wins. */
  private persist(): Promise<void> {
    this.persisting = this.persisting
      .then(() => this.o.flag.write(this.suspension))
      .catch((err: unknown) =>
        this.o.logger.error({ err: describe(err) }, 'cannot persist the reporting-suspended flag'),
      );
    return this.persisting;
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A try that would have started after reporting stopped: nothing was sent (never counted, never retried). */
export class ReportingStoppedError extends Error {
  override readonly name = 'ReportingStoppedError';
  constructor() {
    super('reporting stopped');
  }
}
