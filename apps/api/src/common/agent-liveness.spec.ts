import { AgentLiveness, agentHealth } from './agent-liveness';

describe('AgentLiveness', () => {
  it('remembers the last heartbeat per agent', () => {
    const l = new AgentLiveness();
    expect(l.lastHeard('a1')).toBeUndefined();
    l.heartbeat('a1', 100);
    l.heartbeat('a1', 250);
    l.heartbeat('a2', 300);
    expect(l.lastHeard('a1')).toBe(250);
    expect(l.lastHeard('a2')).toBe(300);
  });

  it('stays bounded, forgetting the agent heard from longest ago', () => {
    const l = new AgentLiveness(2);
    l.heartbeat('a1', 1);
    l.heartbeat('a2', 2);
    l.heartbeat('a1', 3); // a1 is now the most recent
    l.heartbeat('a3', 4);
    expect(l.lastHeard('a2')).toBeUndefined();
    expect(l.lastHeard('a1')).toBe(3);
    expect(l.lastHeard('a3')).toBe(4);
  });
});

describe('agentHealth', () => {
  const interval = 10_000;
  const now = 1_000_000;

  it('is the stored state while heartbeats are on time, with their age', () => {
    expect(agentHealth('active', now - 3_000, now, interval)).toEqual({ state: 'active', heartbeatAgeMs: 3_000 });
    expect(agentHealth('draining', now - 20_000, now, interval)).toEqual({ state: 'draining', heartbeatAgeMs: 20_000 });
  });

  it('is stale past two intervals of silence, before the reaper calls it lost', () => {
    expect(agentHealth('active', now - 20_001, now, interval)).toEqual({ state: 'stale', heartbeatAgeMs: 20_001 });
    expect(agentHealth('draining', now - 360_000, now, interval)).toEqual({ state: 'stale', heartbeatAgeMs: 360_000 });
    expect(agentHealth('active', null, now, interval)).toEqual({ state: 'stale', heartbeatAgeMs: null });
  });

  it('is lost once the reaper said so, and never shows a negative age (clocks of two replicas)', () => {
    expect(agentHealth('lost', now - 40_000, now, interval)).toEqual({ state: 'lost', heartbeatAgeMs: 40_000 });
    expect(agentHealth('active', now + 500, now, interval)).toEqual({ state: 'active', heartbeatAgeMs: 0 });
  });
});
