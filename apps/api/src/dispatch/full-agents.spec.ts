import { FULL_RECHECK_MS, FullAgents } from './full-agents';
import type { Waiter } from './lease-matcher';

function waiter(agentId: string): Waiter<string> & { settled: Array<string | null> } {
  const settled: Array<string | null> = [];
  const w = {
    agentId,
    labels: {},
    arrivedAtMs: 0,
    status: 'matched' as const,
    abandoned: false,
    answer: Promise.resolve(null),
    settle: (v: string | null) => void settled.push(v),
    settled,
  };
  return w;
}

describe('FullAgents', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('offers a held call again when a slot of its agent frees, once, and not another agent’s', () => {
    const offered: string[] = [];
    const full = new FullAgents<string>((pool, w) => offered.push(`${pool}:${w.agentId}`));
    full.hold('web', waiter('a'));
    full.hold('web', waiter('b'));
    full.wake('a');
    full.wake('a');
    expect(offered).toEqual(['web:a']);
    jest.advanceTimersByTime(FULL_RECHECK_MS);
    expect(offered).toEqual(['web:a', 'web:b']); // no word of b's slot: offered again after the recheck period
  });

  it('answers a released or abandoned call empty instead of offering it', () => {
    const offered: string[] = [];
    const full = new FullAgents<string>((_pool, w) => offered.push(w.agentId));
    const released = waiter('a');
    const gone = waiter('b');
    full.hold('web', released);
    full.hold('web', gone);
    gone.abandoned = true;
    full.release('a');
    full.wake('b');
    expect(offered).toEqual([]);
    expect([released.settled, gone.settled]).toEqual([[null], [null]]);
    jest.advanceTimersByTime(FULL_RECHECK_MS);
    expect(offered).toEqual([]);
  });
});
