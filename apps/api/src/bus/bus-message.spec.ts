import { parseBusMessage } from './bus-message';

describe('parseBusMessage', () => {
  it('reads what a replica publishes', () => {
    const m = {
      from: 'p1',
      events: [
        { type: 'job', change: { jobId: 'j_1', kind: 'log' } },
        { type: 'job', change: { jobId: 'j_1', kind: 'state', state: 'cancelled' } },
        { type: 'agent-drained', agentId: 'a_1' },
        { type: 'agent-revoked', agentId: 'a_2' },
      ],
    };
    expect(parseBusMessage(JSON.stringify(m))).toEqual(m);
  });

  it('drops a dequeue order: only the replica that cancelled removes the BullMQ job', () => {
    const m = {
      from: 'p1',
      events: [
        { type: 'job', change: { jobId: 'j', kind: 'state', state: 'cancelled', dequeue: { pool: 'p', round: 1 } } },
      ],
    };
    expect(parseBusMessage(JSON.stringify(m))?.events[0]).toEqual({
      type: 'job',
      change: { jobId: 'j', kind: 'state', state: 'cancelled' },
    });
  });

  it.each([
    ['not JSON', '{'],
    ['another program', JSON.stringify({ hello: 'world' })],
    [
      'an unknown state',
      JSON.stringify({ from: 'p', events: [{ type: 'job', change: { jobId: 'j', kind: 'state', state: 'x' } }] }),
    ],
    ['an unknown event', JSON.stringify({ from: 'p', events: [{ type: 'flush-all' }] })],
    ['an empty id', JSON.stringify({ from: 'p', events: [{ type: 'agent-drained', agentId: '' }] })],
    [
      'a prototype key',
      '{"from":"p","events":[{"type":"agent-drained","agentId":"a","__proto__":{"x":1}}],"__proto__":{}}',
    ],
  ])('ignores %s', (_what, text) => {
    const parsed = parseBusMessage(text);
    if (parsed) expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    if (_what !== 'a prototype key') expect(parsed).toBeUndefined();
  });
});
