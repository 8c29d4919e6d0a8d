import { AgentLiveness } from './agent-liveness';

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
