import { describeAgent, HeartbeatStats, type AgentCounters } from './agent-counters';
import { heartbeatLeases } from './loops/heartbeat-loop';

const counters = (over: Partial<AgentCounters> = {}): AgentCounters => ({
  heartbeats: { ok: 0, failed: 0, consecutiveFailed: 0, lastOkAtMs: 0, lastLagMs: 0, maxLagMs: 0 },
  reporting: undefined,
  attempts: { slots: 2, running: 0, undelivered: 0 },
  draining: false,
  ...over,
});
const config = { name: 'n', pool: 'p', apiAddress: 'api:1' };

describe('HeartbeatStats', () => {
  it('counts answered and failed beats, the failure streak, and the worst timer lag', () => {
    const s = new HeartbeatStats();
    s.observe({ ok: false, lagMs: 5 }, 1_000);
    s.observe({ ok: false, lagMs: 50 }, 2_000);
    expect([s.failed, s.consecutiveFailed, s.lastOkAtMs]).toEqual([2, 2, 0]);
    s.observe({ ok: true, lagMs: 1 }, 3_000);
    expect([s.ok, s.consecutiveFailed, s.lastOkAtMs, s.lastLagMs, s.maxLagMs]).toEqual([1, 0, 3_000, 1, 50]);
  });
});

describe('describeAgent', () => {
  it('reports a starting agent (nothing answered, outbox not open) as degraded, never throwing', () => {
    const v = describeAgent({
      config,
      agentId: '',
      counters: counters(),
      beats: new HeartbeatStats(),
      intervalMs: 1_000,
      metricsUrl: undefined,
      now: 5_000,
    });
    expect(v).toMatchObject({
      agentId: '',
      health: 'degraded',
      connected: false,
      breaker: { state: 'closed' },
      outbox: { depth: 0 },
      metricsUrl: null,
    });
    expect(v.heartbeat.lastOkAgeMs).toBeNull();
  });

  it('ages the last answered heartbeat and carries the breaker and outbox view', () => {
    const beats = new HeartbeatStats();
    beats.observe({ ok: true, lagMs: 0 }, 10_000);
    const reporting = {
      breaker: { state: 'open' as const, since: 's', reason: 'r', opened: 1, enabled: 0 },
      outbox: { depth: 3, oldestAgeMs: 1_234.6, attempts: 1, bytes: 1, diskBytes: 1, gapBytes: 0, compactions: 0 },
      delivery: {
        reportsSent: 0,
        eventsSent: 0,
        completionsSent: 0,
        replayed: 0,
        superseded: 0,
        dropped: 0,
        failures: 0,
      },
    };
    const v = describeAgent({
      config,
      agentId: 'a_1',
      counters: counters({ reporting }),
      beats,
      intervalMs: 1_000,
      metricsUrl: 'http://x/metrics',
      now: 12_500,
    });
    expect(v).toMatchObject({
      heartbeat: { lastOkAgeMs: 2_500, intervalMs: 1_000, ok: 1 },
      connected: true,
      health: 'degraded',
      breaker: { state: 'open', since: 's', reason: 'r' },
      outbox: { depth: 3, oldestAgeMs: 1_235 },
      metricsUrl: 'http://x/metrics',
    });
  });
});

describe('heartbeatLeases', () => {
  it('lists running attempts and undelivered outcomes once each', () => {
    const a = { jobId: 'j_a', attempt: 1, leaseToken: 't' };
    const b = { jobId: 'j_b', attempt: 1, leaseToken: 't' };
    expect(heartbeatLeases([a], [a, b])).toEqual([a, b]);
  });

  it('lists at most 1024 (the API refuses longer heartbeats)', () => {
    const many = Array.from({ length: 2_000 }, (_v, i) => ({ jobId: `j_${i}`, attempt: 1, leaseToken: 't' }));
    expect(heartbeatLeases(many, [])).toHaveLength(1_024);
  });
});
