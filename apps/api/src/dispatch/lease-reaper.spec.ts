import { newApiMetrics } from '../telemetry/api-metrics';
import pino from 'pino';

// Only the decorators are needed here; NestJS 12 is ESM and would need --experimental-vm-modules under jest.
jest.mock('@nestjs/common', () => ({
  Injectable: () => () => undefined,
  Inject: () => () => undefined,
  Global: () => () => undefined,
  Module: () => () => undefined,
}));
import type { AppConfig } from '../config/app-config';
import type { AgentsRepository } from '../agents/agents.repository';
import { DomainEvents } from '../common/events';
import { AttemptRegistry } from '../common/attempt-registry';
import type { JobLedgerRepository } from '../jobs/job-ledger.repository';
import type { JobTransition } from '../jobs/job-rows';
import type { EnqueueService } from './enqueue.service';
import type { Fence } from '../leadership/leader-lease';
import type { LeadershipService } from '../leadership/leadership.service';
import type { HeldElsewhere } from '../leadership/replica-record';
import type { ReplicaRecordService } from '../leadership/replica-record.service';
import { AMNESTY_RECONNECT_MS, LeaseReaperService } from './lease-reaper.service';

/** Repositories replaced by in-memory fakes: the reaper's own logic under fake timers and a fake clock. */
function setup() {
  let now = Date.UTC(2026, 0, 1);
  const leases = [{ jobId: 'j1', attempt: 1, leasedAt: now - 1, expiresAt: now + 30_000 }];
  const ended: string[] = [];
  const ledger = {
    expiredLeases: jest.fn(async (at: Date, _limit: number, held: readonly string[] = []) =>
      leases
        .filter(
          (l) => l.expiresAt < at.getTime() && !ended.includes(l.jobId) && !held.includes(`${l.jobId}/${l.attempt}`),
        )
        .map(({ jobId, attempt }) => ({ jobId, attempt })),
    ),
    ping: jest.fn(async () => undefined),
    expire: jest.fn(async (jobId: string): Promise<JobTransition> => {
      ended.push(jobId);
      return { jobId, pool: 'default', labels: {}, state: 'queued', requeueRound: 2 };
    }),
    extendLiveLeases: jest.fn(async (until: Date, leasedBefore: Date, _self: string, _live?: readonly string[]) => {
      let n = 0;
      for (const l of leases) {
        if (ended.includes(l.jobId) || l.expiresAt >= until.getTime() || l.leasedAt >= leasedBefore.getTime()) continue;
        l.expiresAt = until.getTime();
        n++;
      }
      return { extended: n, orphans: [] as string[] };
    }),
  };
  const agents = { markLost: jest.fn(async () => []) };
  const enqueue = { afterTransition: jest.fn(async () => undefined), sweep: jest.fn(async () => 0) };
  const config = { heartbeatIntervalMs: 10_000, maxLostAttempts: 3 } as AppConfig;
  const registry = new AttemptRegistry();
  const leadership = {
    fence: jest.fn((): Fence | undefined => ({ duty: 'singleton', epoch: 7 })),
    replicaId: 'r-self',
  };
  const records = {
    heldElsewhere: jest.fn(async (): Promise<HeldElsewhere | undefined> => undefined),
    setGraceUntil: jest.fn(),
  };
  const reaper = new LeaseReaperService(
    ledger as unknown as JobLedgerRepository,
    agents as unknown as AgentsRepository,
    enqueue as unknown as EnqueueService,
    registry,
    new DomainEvents(),
    leadership as unknown as LeadershipService,
    records as unknown as ReplicaRecordService,
    config,
    { now: () => now },
    newApiMetrics(),
    pino({ level: 'silent' }),
  );
  return {
    reaper,
    ledger,
    enqueue,
    agents,
    registry,
    leases,
    leadership,
    records,
    advanceClock: (ms: number) => (now += ms),
    now: () => now,
  };
}

describe('LeaseReaperService', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('leaves a lease alone until it has expired, then ends it and requeues the job once', async () => {
    const { reaper, ledger, enqueue, advanceClock } = setup();
    expect(await reaper.tick()).toBe(0); // (the start-up amnesty)
    advanceClock(30_001 + AMNESTY_RECONNECT_MS);
    expect(await reaper.tick()).toBe(1);
    expect(ledger.expire).toHaveBeenCalledWith('j1', 1, expect.any(Date), 3, { duty: 'singleton', epoch: 7 });
    expect(enqueue.afterTransition).toHaveBeenCalledWith(
      expect.objectContaining({ jobId: 'j1', state: 'queued', requeueRound: 2 }),
    );
    expect(await reaper.tick()).toBe(0);
  });

  it('after start-up gives every live lease a full lease period before expiring anything (agents could not heartbeat)', async () => {
    const { reaper, ledger, agents, advanceClock, leases, now } = setup();
    advanceClock(3_600_000); // the API was down for an hour: the lease looks long expired
    expect(await reaper.tick()).toBe(0);
    expect(ledger.extendLiveLeases).toHaveBeenCalledTimes(1);
    expect(leases[0]?.expiresAt).toBe(now() + 30_000 + AMNESTY_RECONNECT_MS);
    // nor is any of this replica's agents called lost during the grace period
    expect(agents.markLost).toHaveBeenLastCalledWith(expect.any(Date), expect.anything(), {
      agents: [],
      replicas: ['r-self', ''],
    });
    advanceClock(29_000 + AMNESTY_RECONNECT_MS);
    expect(await reaper.tick()).toBe(0);
    expect(ledger.extendLiveLeases).toHaveBeenCalledTimes(1); // once, not on every pass
    advanceClock(1_001);
    expect(await reaper.tick()).toBe(1);
    expect(agents.markLost).toHaveBeenLastCalledWith(expect.any(Date), expect.anything(), { agents: [], replicas: [] });
  });

  it("the amnesty covers this replica's agents only, and spares them from being marked lost meanwhile", async () => {
    const { reaper, ledger, agents, records, advanceClock, now } = setup();
    expect(await reaper.tick()).toBe(0);
    expect(ledger.extendLiveLeases).toHaveBeenCalledWith(expect.any(Date), expect.any(Date), 'r-self', undefined);
    expect(records.setGraceUntil).toHaveBeenCalledWith(now() + 30_000 + AMNESTY_RECONNECT_MS);
    expect(agents.markLost).toHaveBeenLastCalledWith(expect.any(Date), expect.anything(), {
      agents: [],
      replicas: ['r-self', ''],
    });
    advanceClock(30_001 + AMNESTY_RECONNECT_MS);
    await reaper.tick();
    expect(agents.markLost).toHaveBeenLastCalledWith(expect.any(Date), expect.anything(), { agents: [], replicas: [] });
  });

  it('covers the agents of gone replicas too (no live record: a site failover), sparing them from mark-lost meanwhile', async () => {
    const { reaper, ledger, agents, records, advanceClock } = setup();
    const held = { attempts: new Set<string>(), agents: new Set<string>(), graceReplicas: [], liveReplicas: ['r-b'] };
    records.heldElsewhere.mockResolvedValue(held);
    ledger.extendLiveLeases.mockResolvedValueOnce({ extended: 3, orphans: ['r-gone'] });
    await reaper.tick();
    expect(ledger.extendLiveLeases).toHaveBeenCalledWith(expect.any(Date), expect.any(Date), 'r-self', ['r-b']);
    expect(agents.markLost).toHaveBeenLastCalledWith(expect.any(Date), expect.anything(), {
      agents: [],
      replicas: ['r-self', '', 'r-gone'],
    });
    advanceClock(30_001 + AMNESTY_RECONNECT_MS);
    await reaper.tick();
    expect(agents.markLost).toHaveBeenLastCalledWith(expect.any(Date), expect.anything(), { agents: [], replicas: [] });
  });

  it('off the leader: amnesty for its own agents, but no expiry, no mark-lost, no sweep', async () => {
    const { reaper, ledger, agents, enqueue, leadership, advanceClock } = setup();
    leadership.fence.mockReturnValue(undefined);
    expect(await reaper.tick()).toBe(0);
    expect(ledger.extendLiveLeases).toHaveBeenCalledTimes(1);
    advanceClock(3_600_000);
    expect(await reaper.tick()).toBe(0);
    expect(ledger.ping).toHaveBeenCalledTimes(1); // the pass still learns whether Postgres answers
    expect(ledger.expiredLeases).not.toHaveBeenCalled();
    expect(ledger.expire).not.toHaveBeenCalled();
    expect(agents.markLost).not.toHaveBeenCalled();
    expect(enqueue.sweep).not.toHaveBeenCalled();
  });

  it('leaves alone what a live replica holds: its attempts, its heard agents, its agents in amnesty', async () => {
    const { reaper, ledger, agents, records, advanceClock } = setup();
    await reaper.tick();
    records.heldElsewhere.mockResolvedValue({
      attempts: new Set(['j1/1']),
      agents: new Set(['a_heard']),
      graceReplicas: ['r-other'],
      liveReplicas: ['r-other'],
    });
    advanceClock(60_000);
    expect(await reaper.tick()).toBe(0);
    expect(ledger.expire).not.toHaveBeenCalled();
    expect(agents.markLost).toHaveBeenLastCalledWith(expect.any(Date), expect.anything(), {
      agents: ['a_heard'],
      replicas: ['r-other'],
    });
    records.heldElsewhere.mockResolvedValue(undefined); // Redis unreachable: by Postgres alone
    expect(await reaper.tick()).toBe(1);
  });

  it('stops a pass at the first write refused for a stale epoch', async () => {
    const { reaper, ledger, enqueue, leases, advanceClock, now } = setup();
    await reaper.tick();
    leases.push({ jobId: 'j2', attempt: 1, leasedAt: now(), expiresAt: now() + 1 });
    ledger.expire.mockResolvedValueOnce('fenced' as unknown as JobTransition);
    advanceClock(60_000);
    expect(await reaper.tick()).toBe(0);
    expect(ledger.expire).toHaveBeenCalledTimes(1);
    expect(enqueue.afterTransition).not.toHaveBeenCalled();
  });

  it('the start-up amnesty leaves alone leases this process granted (their agents could heartbeat)', async () => {
    const { reaper, agents, advanceClock, leases, now } = setup();
    advanceClock(500);
    leases.push({ jobId: 'j2', attempt: 1, leasedAt: now(), expiresAt: now() + 30_000 }); // leased before the first pass
    expect(await reaper.tick()).toBe(0);
    expect(leases[1]?.expiresAt).toBe(now() + 30_000); // not extended to now + 30 s + AMNESTY_RECONNECT_MS
    expect(leases[0]?.expiresAt).toBe(now() + 30_000 + AMNESTY_RECONNECT_MS);
    advanceClock(30_001);
    expect(await reaper.tick()).toBe(1); // j2 expires on time, j1 is still under amnesty
    expect(agents.markLost).toHaveBeenLastCalledWith(expect.any(Date), expect.anything(), {
      agents: [],
      replicas: ['r-self', ''],
    });
  });

  it('grants the amnesty again after a pass failed (Postgres unreachable)', async () => {
    const { reaper, ledger } = setup();
    reaper.onApplicationBootstrap();
    await jest.advanceTimersByTimeAsync(6_001);
    expect(ledger.extendLiveLeases).toHaveBeenCalledTimes(1);
    ledger.expiredLeases.mockRejectedValueOnce(new Error('postgres down'));
    await jest.advanceTimersByTimeAsync(6_001);
    await jest.advanceTimersByTimeAsync(6_001);
    expect(ledger.extendLiveLeases).toHaveBeenCalledTimes(2);
    await reaper.beforeApplicationShutdown();
  });

  it('never expires an attempt whose result is journaled but not yet applied', async () => {
    const { reaper, ledger, registry, advanceClock } = setup();
    await reaper.tick();
    registry.journaled('j1', 1, { end: 'succeeded' });
    advanceClock(60_000);
    expect(await reaper.tick()).toBe(0);
    expect(ledger.expire).not.toHaveBeenCalled();
    registry.applied('j1', 1);
    expect(await reaper.tick()).toBe(1);
  });

  it('a failing sweep (Redis down) neither fails the pass nor triggers an amnesty', async () => {
    const { reaper, ledger, enqueue, advanceClock } = setup();
    await reaper.tick();
    enqueue.sweep.mockRejectedValue(new Error('redis down'));
    advanceClock(30_001 + AMNESTY_RECONNECT_MS);
    expect(await reaper.tick()).toBe(1);
    expect(ledger.extendLiveLeases).toHaveBeenCalledTimes(1);
  });

  it('runs on its own jittered timer and stops at shutdown', async () => {
    const { reaper, ledger } = setup();
    reaper.onApplicationBootstrap();
    await jest.advanceTimersByTimeAsync(6_001);
    expect(ledger.expiredLeases).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(6_001);
    expect(ledger.expiredLeases).toHaveBeenCalledTimes(2);
    await reaper.beforeApplicationShutdown();
    await jest.advanceTimersByTimeAsync(60_000);
    expect(ledger.expiredLeases).toHaveBeenCalledTimes(2);
  });

  it('keeps running after a failed pass', async () => {
    const { reaper, ledger } = setup();
    ledger.expiredLeases.mockRejectedValueOnce(new Error('postgres down'));
    reaper.onApplicationBootstrap();
    await jest.advanceTimersByTimeAsync(6_001);
    expect(ledger.expiredLeases).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(6_001);
    expect(ledger.expiredLeases).toHaveBeenCalledTimes(2);
    await reaper.beforeApplicationShutdown();
  });
});
