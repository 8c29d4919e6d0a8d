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
import { AMNESTY_RECONNECT_MS, LeaseReaperService } from './lease-reaper.service';

/** Repositories replaced by in-memory fakes: the reaper's own logic under fake timers and a fake clock. */
function setup() {
  let now = Date.UTC(2026, 0, 1);
  const leases = [{ jobId: 'j1', attempt: 1, leasedAt: now - 1, expiresAt: now + 30_000 }];
  const ended: string[] = [];
  const ledger = {
    expiredLeases: jest.fn(async (at: Date) =>
      leases
        .filter((l) => l.expiresAt < at.getTime() && !ended.includes(l.jobId))
        .map(({ jobId, attempt }) => ({ jobId, attempt })),
    ),
    expire: jest.fn(async (jobId: string): Promise<JobTransition> => {
      ended.push(jobId);
      return { jobId, pool: 'default', labels: {}, state: 'queued', requeueRound: 2 };
    }),
    extendLiveLeases: jest.fn(async (until: Date, leasedBefore: Date) => {
      let n = 0;
      for (const l of leases) {
        if (ended.includes(l.jobId) || l.expiresAt >= until.getTime() || l.leasedAt >= leasedBefore.getTime()) continue;
        l.expiresAt = until.getTime();
        n++;
      }
      return n;
    }),
  };
  const agents = { markLost: jest.fn(async () => []) };
  const enqueue = { afterTransition: jest.fn(async () => undefined), sweep: jest.fn(async () => 0) };
  const config = { heartbeatIntervalMs: 10_000, maxLostAttempts: 3 } as AppConfig;
  const registry = new AttemptRegistry();
  const reaper = new LeaseReaperService(
    ledger as unknown as JobLedgerRepository,
    agents as unknown as AgentsRepository,
    enqueue as unknown as EnqueueService,
    registry,
    new DomainEvents(),
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
    expect(ledger.expire).toHaveBeenCalledWith('j1', 1, expect.any(Date), 3);
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
    expect(agents.markLost).not.toHaveBeenCalled(); // nor is any agent called lost during the grace period
    advanceClock(29_000 + AMNESTY_RECONNECT_MS);
    expect(await reaper.tick()).toBe(0);
    expect(ledger.extendLiveLeases).toHaveBeenCalledTimes(1); // once, not on every pass
    advanceClock(1_001);
    expect(await reaper.tick()).toBe(1);
    expect(agents.markLost).toHaveBeenCalledTimes(1);
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
    expect(agents.markLost).not.toHaveBeenCalled();
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
