import { status as Status } from '@grpc/grpc-js';

/**
 * What one finished call says about the endpoint it went to:
 * - `answered`: the API answered, OK or a refusal it decided on (RESOURCE_EXHAUSTED, UNAUTHENTICATED…);
 * - `unreachable`: UNAVAILABLE (refused, reset, TLS or HTTP/2 connection lost) or CANCELLED by the other side;
 * - `no-answer`: DEADLINE_EXCEEDED, the call waited its whole deadline.
 */
export type CallOutcome = 'answered' | 'unreachable' | 'no-answer';

/** The outcome of a call that ended with `code` (undefined: it succeeded). Our own cancellations are never passed. */
export function outcomeOf(code: Status | undefined): CallOutcome {
  if (code === Status.UNAVAILABLE || code === Status.CANCELLED) return 'unreachable';
  if (code === Status.DEADLINE_EXCEEDED) return 'no-answer';
  return 'answered';
}

export type SwitchKind = 'failover' | 'failback';

export interface EndpointSwitch {
  kind: SwitchKind;
  from: string;
  to: string;
  /** The new endpoint is the primary (a fail-back, or a failover that went round the list). */
  toPrimary: boolean;
  /** The generation calls on the new endpoint carry. */
  generation: number;
}

export interface FailoverOptions {
  /** JR_API_FAILBACK_AFTER: the primary must probe healthy this long, without a miss, before the agent goes back. */
  failbackAfterMs: number;
  /** Unreachable failures (at least two) must span this long before the agent fails over. */
  confirmMs?: number;
  now?: () => number;
}

/** Two failures at least this far apart: one call lost to a GOAWAY race or a reset is not an outage. */
export const FAILOVER_CONFIRM_MS = 1_000;

/**
 * Which API endpoint the agent talks to (one at a time, primary first), as a state machine fed with
 * call outcomes and probes of the primary; the clock is injected. The rule:
 *
 * - failover: the current endpoint's calls since its last answer all failed, and either one of them got
 *   no answer within its deadline (DEADLINE_EXCEEDED: a blackhole, a hung process), or at least two
 *   were unreachable, the latest `confirmMs` (1 s) or more after the first. The agent then moves to the
 *   next endpoint of the list (after the last: the first again);
 * - fail-back: while not on the primary, the primary is probed; once it has probed healthy for
 *   `failbackAfterMs` with no miss, the agent goes back to it;
 * - outcomes of calls begun before a switch (an older generation) are ignored.
 *
 * A single endpoint never switches. A GOAWAY (the API's max connection age, a graceful shutdown) makes
 * grpc-js reconnect without failing calls, so it never reaches this machine.
 */
export class EndpointFailover {
  private index = 0;
  private gen = 0;
  private failures = 0;
  private firstFailureAt = 0;
  private primaryHealthySince: number | undefined;
  private readonly now: () => number;
  private readonly confirmMs: number;
  readonly switches: Record<SwitchKind, number> = { failover: 0, failback: 0 };

  constructor(
    readonly endpoints: readonly string[],
    private readonly o: FailoverOptions,
  ) {
    if (endpoints.length === 0) throw new Error('EndpointFailover needs at least one endpoint');
    this.now = o.now ?? Date.now;
    this.confirmMs = o.confirmMs ?? FAILOVER_CONFIRM_MS;
  }

  get endpoint(): string {
    return this.endpoints[this.index] as string;
  }

  get primary(): string {
    return this.endpoints[0] as string;
  }

  /** Bumped by every switch; a call remembers the generation it was made in. */
  get generation(): number {
    return this.gen;
  }

  /** True while the agent is away from its primary: the fail-back loop probes it then. */
  get awayFromPrimary(): boolean {
    return this.index !== 0;
  }

  /** One finished call of `generation`; a switch when it decided one. */
  observe(generation: number, outcome: CallOutcome): EndpointSwitch | undefined {
    if (generation !== this.gen) return undefined;
    if (outcome === 'answered') {
      this.failures = 0;
      return undefined;
    }
    const now = this.now();
    if (this.failures === 0) this.firstFailureAt = now;
    this.failures += 1;
    if (this.endpoints.length < 2) return undefined;
    const confirmed = outcome === 'no-answer' || (this.failures >= 2 && now - this.firstFailureAt >= this.confirmMs);
    return confirmed ? this.switchTo((this.index + 1) % this.endpoints.length, 'failover') : undefined;
  }

  /** One probe of the primary (reachable or not); the fail-back switch when it has been healthy long enough. */
  probed(healthy: boolean): EndpointSwitch | undefined {
    if (!this.awayFromPrimary || !healthy) {
      this.primaryHealthySince = undefined;
      return undefined;
    }
    const now = this.now();
    this.primaryHealthySince ??= now;
    return now - this.primaryHealthySince >= this.o.failbackAfterMs ? this.switchTo(0, 'failback') : undefined;
  }

  /** How long the primary has probed healthy (0 while on it, or after a miss). */
  primaryHealthyForMs(): number {
    return this.primaryHealthySince === undefined ? 0 : this.now() - this.primaryHealthySince;
  }

  private switchTo(index: number, kind: SwitchKind): EndpointSwitch {
    const from = this.endpoint;
    this.index = index;
    this.gen += 1;
    this.failures = 0;
    this.primaryHealthySince = undefined;
    this.switches[kind] += 1;
    return { kind, from, to: this.endpoint, toPrimary: index === 0, generation: this.gen };
  }
}
