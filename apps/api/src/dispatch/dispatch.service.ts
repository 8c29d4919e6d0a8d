import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { DomainError, toProtoSpec, type pb } from '@jr/contracts';
import { ATTR, extractFromCarrier, injectToCarrier, SpanKind, SPANS, withSpan, type TraceCarrier } from '@jr/telemetry';
import { APP_CONFIG, CLOCK, type AppConfig, type Clock } from '../config/app-config';
import { AgentLiveness } from '../common/agent-liveness';
import { AttemptRegistry } from '../common/attempt-registry';
import { DomainEvents } from '../common/events';
import { LOGGER, type Logger } from '../common/logger';
import { newLeaseToken } from '../auth/tokens';
import { AgentsRepository, type AgentRow } from '../agents/agents.repository';
import { JobLedgerRepository, type Grant } from '../jobs/job-ledger.repository';
import { JobsRepository } from '../jobs/jobs.repository';
import type { DispatchJob, DispatchJobData } from '../queue/queue-factory';
import { METRICS, type ApiMetrics } from '../telemetry/api-metrics';
import { FullAgents } from './full-agents';
import { KeyedSerial } from './keyed-serial';
import { LeaseMatcher, type Waiter } from './lease-matcher';
import { leaseExpiresAt } from './lease-expiry';
import { PoolDemand } from './pool-demand';
import { PoolQueueRepository } from './pool-queue.repository';
import { PIN_LABEL } from '../fleet/pin-label';
import { SecretOpenError } from '../secrets/secret-box';
import { SecretsService } from '../secrets/secrets.service';

/** The most jobs a pool's worker holds at once (it holds about as many as there are Lease calls here). */
const WORKER_CONCURRENCY = 32;
/**
 * A parked job none of the Lease calls here suits goes back to the queue after this (at once when
 * there are none), so that a matching agent on this or another replica gets it.
 */
const PARK_ROTATE_MS = 1_000;
const RETRY_AFTER_ERROR_MS = 1_000;

/** A lease as the Lease call answers it: the assignment, and the lease span's context for the agent. */
export interface LeaseAnswer {
  assignment: pb.Assignment;
  trace: TraceCarrier;
}

/** A grant ready to hand out: traced, its secrets opened (in memory, for this one Lease answer). */
type TracedGrant = Grant & { trace: TraceCarrier; secrets: Record<string, string> };

/**
 * Hands queued jobs to agents' Lease long-polls: per pool one BullMQ worker whose processor parks each
 * job in the LeaseMatcher until a matching waiter arrives, then grants the lease in Postgres.
 */
@Injectable()
export class DispatchService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  /** A queued Lease call is handed a job only while its agent is heard from (AgentLiveness). */
  private readonly matcher = new LeaseMatcher<TracedGrant>(
    (w) => this.silent(w.agentId, w.arrivedAtMs),
    Date.now,
    (pool) => this.demand.changed(pool),
  );
  /** The workers fetch only for the Lease calls this replica holds. */
  private readonly demand = new PoolDemand(this.matcher, (pool, limit) => this.queues.setFetchLimit(pool, limit));
  private readonly stopping = new AbortController();
  private readonly parked = new Map<string, Set<AbortController>>();
  private readonly unsubscribe: Array<() => void> = [];
  /** Lease calls in flight per agent, on this replica. */
  private readonly leaseCalls = new Map<string, number>();
  /** Lease calls of agents whose slots were all taken at their grant: they wait for a slot to free. */
  private readonly full = new FullAgents<TracedGrant>((pool, w) => this.matcher.putBack(pool, w));
  /** Grants to one agent, one at a time on this replica (Postgres serializes them across replicas). */
  private readonly grants = new KeyedSerial();

  constructor(
    private readonly queues: PoolQueueRepository,
    private readonly ledger: JobLedgerRepository,
    private readonly jobs: JobsRepository,
    private readonly agents: AgentsRepository,
    private readonly events: DomainEvents,
    private readonly registry: AttemptRegistry,
    private readonly liveness: AgentLiveness,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(METRICS) private readonly metrics: ApiMetrics,
    @Inject(LOGGER) private readonly log: Logger,
    private readonly secrets: SecretsService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.unsubscribe.push(
      this.events.onJob('*', (c) =>
        c.kind === 'state' && c.state !== 'queued' ? this.unpark(c.jobId, c.dequeue) : undefined,
      ),
      this.events.onAgentDrained((id) => this.dropAgent(id)),
      this.events.onAgentRevoked((id) => this.dropAgent(id)),
      this.registry.onEndJournaled((id) => this.full.wake(id)),
    );
    for (const pool of (await this.agents.knownPools()).slice(0, this.config.maxPools)) await this.ensureWorker(pool);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopLeasing();
    for (const off of this.unsubscribe) off();
    await this.queues.closeWorkers(5_000);
  }

  /** Shutdown, first step: pending Lease calls answer empty at once; parked jobs go back to the queue. */
  stopLeasing(): void {
    this.stopping.abort();
    this.matcher.releaseAll();
    this.full.releaseAll();
  }

  /** Drained, revoked or removed: its Lease calls answer now (queued or held for a slot). */
  private dropAgent(agentId: string): void {
    this.matcher.dropAgent(agentId);
    this.full.release(agentId);
  }

  /**
   * Long poll for one assignment; null on timeout, when draining/lost, or when the call goes away. An
   * agent may hold at most its slots in Lease calls at once (here; the grant counts its live attempts
   * against its slots too): the calls beyond are refused RESOURCE_EXHAUSTED, the honest agent never
   * makes them (it leases one call per free slot).
   */
  async lease(agent: AgentRow, waitMs: number, deadlineMs: number, callGone: AbortSignal): Promise<LeaseAnswer | null> {
    if (agent.state !== 'active' || agent.drain_requested || this.stopping.signal.aborted) return null;
    const inFlight = this.leaseCalls.get(agent.id) ?? 0;
    if (inFlight >= agent.slots)
      throw new DomainError(
        'RATE_LIMITED',
        `agent ${agent.id} already has ${inFlight} Lease call(s) in flight, one per slot of its ${agent.slots}`,
        { refusal: 'lease_in_flight' },
      );
    this.leaseCalls.set(agent.id, inFlight + 1);
    try {
      await this.ensureWorker(agent.pool);
      return await this.waitForGrant(agent, waitMs, deadlineMs, callGone);
    } finally {
      const left = (this.leaseCalls.get(agent.id) ?? 1) - 1;
      if (left > 0) this.leaseCalls.set(agent.id, left);
      else this.leaseCalls.delete(agent.id);
    }
  }

  /** Lease calls of this agent this replica is holding now. */
  leaseCallsInFlight(agentId: string): number {
    return this.leaseCalls.get(agentId) ?? 0;
  }

  /** Of those, the ones waiting for a slot of the agent to free (a job was there, its slots were not). */
  leaseCallsWaitingForSlot(agentId: string): number {
    return this.full.count(agentId);
  }

  private async waitForGrant(
    agent: AgentRow,
    waitMs: number,
    deadlineMs: number,
    callGone: AbortSignal,
  ): Promise<LeaseAnswer | null> {
    const budget = Math.max(0, Math.min(waitMs, this.config.leaseWaitMaxMs, deadlineMs - Date.now() - 1_000));
    // every agent also carries its own id as a label: a fleet target's run is pinned to it (PIN_LABEL)
    const waiter = this.matcher.addWaiter(agent.pool, agent.id, { ...agent.labels, [PIN_LABEL]: agent.id });
    const withdraw = (): void => void this.matcher.withdraw(agent.pool, waiter);
    const timer = setTimeout(withdraw, budget);
    callGone.addEventListener('abort', withdraw, { once: true });
    try {
      const grant = await waiter.answer;
      return grant ? { assignment: toAssignment(grant), trace: grant.trace } : null;
    } finally {
      clearTimeout(timer);
      callGone.removeEventListener('abort', withdraw);
    }
  }

  /**
   * Neither a heartbeat nor the Lease call itself for 2 heartbeat intervals: the agent is probably behind a
   * partition (its long-poll can sit on a half-open connection), so a job granted to it would come back
   * `lost` only after the reaper's 3 intervals.
   */
  private silent(agentId: string, callArrivedAtMs: number): boolean {
    const lastHeard = Math.max(this.liveness.lastHeard(agentId) ?? 0, callArrivedAtMs);
    return Date.now() - lastHeard > 2 * this.config.heartbeatIntervalMs;
  }

  /**
   * One BullMQ worker (and its Redis connections) per pool agents serve, at most JR_MAX_POOLS of them:
   * at the cap, workers of pools no agent serves any more (all lost, revoked or removed) are closed first;
   * if every one is still served, the Lease call is refused (enrolment caps pools too, so only agents that
   * came back from lost meet this).
   */
  private async ensureWorker(pool: string): Promise<void> {
    if (this.stopping.signal.aborted || this.queues.hasWorker(pool)) return;
    if (this.queues.workerPools().length >= this.config.maxPools) {
      const served = new Set(await this.agents.knownPools());
      const idle = this.queues.workerPools().filter((p) => !served.has(p) && this.matcher.waitingCount(p) === 0);
      await Promise.all(idle.map((p) => this.queues.stopWorker(p, 5_000)));
      if (idle.length > 0) this.log.info({ pools: idle }, 'dispatch workers of pools no agent serves stopped');
      if (this.queues.hasWorker(pool)) return;
      if (this.queues.workerPools().length >= this.config.maxPools)
        throw new DomainError(
          'QUOTA_EXCEEDED',
          `pool ${pool}: ${this.config.maxPools} pools are served already, the most JR_MAX_POOLS allows`,
          { refusal: 'pool_cap' },
        );
    }
    this.queues.startWorker(
      pool,
      (job, token) => this.process(job, token),
      WORKER_CONCURRENCY,
      (err) => this.log.warn({ pool, err: err.message }, 'dispatch worker error'),
      (jobId) => void this.jobs.markEnqueuePending(jobId).catch(() => undefined),
    );
    this.log.info({ pool }, 'dispatch worker started');
  }

  /** The BullMQ processor. Idempotent: a job no longer queued (cancelled, already leased) is a no-op. */
  private async process(job: DispatchJob, token: string | undefined): Promise<void> {
    return this.demand.holding(job.data.pool, () => this.dispatch(job, token));
  }

  private async dispatch(job: DispatchJob, token: string | undefined): Promise<void> {
    const { jobId, pool, labels } = job.data;
    const data = job.data;
    try {
      for (;;) {
        const current = await this.jobs.stateOf(jobId);
        if (!current || current.state !== 'queued') return;
        const waiter = await this.parkUntilMatched(jobId, pool, labels);
        if (waiter === 'stop' || waiter === 'rotate') return await this.queues.giveBack(job, token);
        if (waiter === 'changed') continue;
        if (await this.grantTo(data, waiter)) return;
      }
    } catch (err) {
      if (isHandOff(err)) throw err;
      this.log.warn({ jobId, err: String(err) }, 'dispatch failed; retrying the job shortly');
      return await this.queues.retryLater(job, token, RETRY_AFTER_ERROR_MS);
    }
  }

  private async parkUntilMatched(
    jobId: string,
    pool: string,
    labels: Record<string, string>,
  ): Promise<Waiter<TracedGrant> | 'stop' | 'rotate' | 'changed'> {
    const changed = new AbortController();
    const set = this.parked.get(jobId) ?? new Set();
    this.parked.set(jobId, set.add(changed));
    const signal = AbortSignal.any([
      changed.signal,
      this.stopping.signal,
      this.demand.gone(pool),
      AbortSignal.timeout(PARK_ROTATE_MS),
    ]);
    const waiter = await this.matcher.park(pool, labels, signal);
    set.delete(changed);
    if (set.size === 0) this.parked.delete(jobId);
    if (waiter) return waiter;
    if (this.stopping.signal.aborted) return 'stop';
    if (changed.signal.aborted) return 'changed';
    return 'rotate';
  }

  /** True when the job is handed over (or gone); false to park again. */
  private async grantTo(data: DispatchJobData, waiter: Waiter<TracedGrant>): Promise<boolean> {
    const { jobId, pool } = data;
    if (waiter.abandoned) {
      this.matcher.putBack(pool, waiter);
      return false;
    }
    let grant: TracedGrant | null | 'agent_unavailable';
    try {
      grant = await this.grantTraced(data, waiter.agentId);
    } catch (err) {
      this.matcher.putBack(pool, waiter);
      throw err;
    }
    if (grant === 'agent_unavailable') {
      // revoked, removed, or every slot taken: the job goes to the next waiter, this call waits for a slot
      this.full.hold(pool, waiter);
      return false;
    }
    if (!grant) {
      this.matcher.putBack(pool, waiter);
      return true;
    }
    // fencing this attempt's results must work even if Postgres goes away before its first Report
    this.registry.remember({
      jobId,
      attempt: grant.attempt,
      agentId: waiter.agentId,
      leaseToken: grant.leaseToken,
      state: 'leased',
      lastSeq: 0,
      job: { state: 'leased', ...grant.counters },
    });
    waiter.settle(grant);
    this.events.jobChanged({ jobId, kind: 'state', state: 'leased' });
    return true;
  }

  /** The lease span (under the enqueue span whose context the BullMQ job carries) around the grant in Postgres. */
  private grantTraced(data: DispatchJobData, agentId: string): Promise<TracedGrant | null | 'agent_unavailable'> {
    const attrs = { [ATTR.jobId]: data.jobId, [ATTR.pool]: data.pool, [ATTR.agentId]: agentId };
    return withSpan(
      SPANS.lease,
      attrs,
      async (span) => {
        let now = this.clock.now();
        const grant = await this.grants.run(agentId, () => {
          now = this.clock.now();
          const times = { now: new Date(now), expiresAt: leaseExpiresAt(now, this.config.heartbeatIntervalMs) };
          return this.ledger.grant(data.jobId, agentId, newLeaseToken(), times, this.registry.endedAttemptsOf(agentId));
        });
        if (!grant || grant === 'agent_unavailable') return grant;
        span.setAttribute(ATTR.attempt, grant.attempt);
        const secrets = await this.openSecrets(grant, data.pool);
        if (!secrets) return null;
        if (data.queuedAtMs) this.metrics.dispatchLatency.observe({ pool: data.pool }, (now - data.queuedAtMs) / 1000);
        return { ...grant, secrets, trace: injectToCarrier() };
      },
      { parent: extractFromCarrier(data.trace), kind: SpanKind.CONSUMER },
    );
  }

  /**
   * Opens the grant's secrets; when one does not open (altered ciphertext, a key no longer configured)
   * the job fails `secrets_unreadable` at once and nothing is handed out: no step runs with a wrong value.
   */
  private async openSecrets(grant: Grant, pool: string): Promise<Record<string, string> | undefined> {
    try {
      return this.secrets.open(grant.jobId, grant.spec.secrets ?? [], grant.sealedSecrets);
    } catch (err) {
      if (!(err instanceof SecretOpenError)) throw err;
      const now = this.clock.now();
      this.log.error(
        { jobId: grant.jobId, secretName: err.secretName, why: err.why, keyId: err.keyId },
        'job secrets cannot be opened; the job fails without running',
      );
      if (await this.ledger.refuseGrant(grant.jobId, grant.attempt, 'secrets_unreadable', new Date(now))) {
        this.events.jobChanged({ jobId: grant.jobId, kind: 'state', state: 'failed' });
        this.metrics.jobsFinished.inc({ pool, state: 'failed' });
      }
      return undefined;
    }
  }

  private unpark(jobId: string, dequeue: { pool: string; round: number } | undefined): void {
    for (const c of this.parked.get(jobId) ?? []) c.abort();
    if (dequeue) void this.queues.remove(jobId, dequeue.pool, dequeue.round).catch(() => undefined);
  }
}

function toAssignment(g: TracedGrant): pb.Assignment {
  return {
    jobId: g.jobId,
    attempt: g.attempt,
    leaseToken: g.leaseToken,
    leaseExpiresAtMs: g.leaseExpiresAt.getTime(),
    spec: toProtoSpec(g.spec),
    secrets: g.secrets,
  };
}

/** BullMQ's own "moved to wait/delayed" signals, which must reach the worker untouched. */
function isHandOff(err: unknown): boolean {
  const name = err instanceof Error ? err.name : '';
  return name === 'WaitingError' || name === 'DelayedError';
}
