import { status as Status } from '@grpc/grpc-js';
import { EndpointFailover, outcomeOf } from './endpoint-failover';

function machine(endpoints = ['a:1', 'b:1'], failbackAfterMs = 30_000) {
  let t = 1_000_000;
  const f = new EndpointFailover(endpoints, { failbackAfterMs, now: () => t });
  return { f, advance: (ms: number) => (t += ms) };
}

describe('outcomeOf', () => {
  it.each([
    [undefined, 'answered'],
    [Status.UNAVAILABLE, 'unreachable'],
    [Status.CANCELLED, 'unreachable'],
    [Status.DEADLINE_EXCEEDED, 'no-answer'],
    [Status.RESOURCE_EXHAUSTED, 'answered'],
    [Status.UNAUTHENTICATED, 'answered'],
    [Status.FAILED_PRECONDITION, 'answered'],
    [Status.INTERNAL, 'answered'],
  ])('%s is %s', (code, outcome) => expect(outcomeOf(code)).toBe(outcome));
});

describe('EndpointFailover', () => {
  it('starts on the primary', () => {
    const { f } = machine();
    expect([f.endpoint, f.primary, f.generation, f.awayFromPrimary]).toEqual(['a:1', 'a:1', 0, false]);
  });

  it('one unreachable call, or several at the same moment (parallel Lease calls on one connection), is not an outage', () => {
    const { f, advance } = machine();
    for (let i = 0; i < 8; i++) expect(f.observe(0, 'unreachable')).toBeUndefined();
    advance(999);
    expect(f.observe(0, 'unreachable')).toBeUndefined();
    expect(f.endpoint).toBe('a:1');
  });

  it('fails over once unreachable failures span 1 s without an answer in between', () => {
    const { f, advance } = machine();
    f.observe(0, 'unreachable');
    advance(600);
    f.observe(0, 'unreachable');
    advance(400);
    expect(f.observe(0, 'unreachable')).toEqual({
      kind: 'failover',
      from: 'a:1',
      to: 'b:1',
      toPrimary: false,
      generation: 1,
    });
    expect([f.endpoint, f.generation, f.awayFromPrimary, f.switches]).toEqual([
      'b:1',
      1,
      true,
      { failover: 1, failback: 0 },
    ]);
  });

  it('an answer in between starts the count again', () => {
    const { f, advance } = machine();
    f.observe(0, 'unreachable');
    advance(900);
    f.observe(0, 'answered');
    advance(200);
    expect(f.observe(0, 'unreachable')).toBeUndefined();
    advance(999);
    expect(f.observe(0, 'unreachable')).toBeUndefined();
    advance(1);
    expect(f.observe(0, 'unreachable')?.to).toBe('b:1');
  });

  it('a call that got no answer within its deadline (a blackhole) fails over at once', () => {
    const { f } = machine();
    expect(f.observe(0, 'no-answer')?.to).toBe('b:1');
  });

  it('ignores the outcomes of calls made before a switch', () => {
    const { f, advance } = machine();
    f.observe(0, 'no-answer');
    advance(5_000);
    expect(f.observe(0, 'no-answer')).toBeUndefined();
    expect(f.observe(0, 'unreachable')).toBeUndefined();
    expect(f.endpoint).toBe('b:1');
  });

  it('goes round the list: after the last endpoint, the first again', () => {
    const { f } = machine(['a:1', 'b:1', 'c:1']);
    expect(f.observe(0, 'no-answer')?.to).toBe('b:1');
    expect(f.observe(1, 'no-answer')?.to).toBe('c:1');
    expect(f.observe(2, 'no-answer')).toEqual({
      kind: 'failover',
      from: 'c:1',
      to: 'a:1',
      toPrimary: true,
      generation: 3,
    });
    expect(f.awayFromPrimary).toBe(false);
  });

  it('a single endpoint never switches', () => {
    const { f, advance } = machine(['a:1']);
    expect(f.observe(0, 'no-answer')).toBeUndefined();
    advance(10_000);
    expect(f.observe(0, 'unreachable')).toBeUndefined();
    expect(f.probed(true)).toBeUndefined();
    expect([f.endpoint, f.generation]).toEqual(['a:1', 0]);
  });

  it('fails back once the primary has probed healthy for JR_API_FAILBACK_AFTER without a miss', () => {
    const { f, advance } = machine(['a:1', 'b:1'], 30_000);
    f.observe(0, 'no-answer');
    expect(f.probed(true)).toBeUndefined();
    advance(20_000);
    expect(f.probed(true)).toBeUndefined();
    expect(f.primaryHealthyForMs()).toBe(20_000);
    expect(f.probed(false)).toBeUndefined(); // a miss: the period starts again
    expect(f.primaryHealthyForMs()).toBe(0);
    advance(2_000);
    expect(f.probed(true)).toBeUndefined();
    advance(29_999);
    expect(f.probed(true)).toBeUndefined();
    advance(1);
    expect(f.probed(true)).toEqual({ kind: 'failback', from: 'b:1', to: 'a:1', toPrimary: true, generation: 2 });
    expect([f.endpoint, f.awayFromPrimary, f.switches]).toEqual(['a:1', false, { failover: 1, failback: 1 }]);
    expect(f.probed(true)).toBeUndefined(); // on the primary: nothing to do
  });

  it('a failover resets the fail-back period; JR_API_FAILBACK_AFTER=0 goes back at the first healthy probe', () => {
    const { f, advance } = machine(['a:1', 'b:1', 'c:1'], 0);
    f.observe(0, 'no-answer');
    advance(1_000);
    expect(f.probed(true)?.kind).toBe('failback');
    const slow = machine(['a:1', 'b:1', 'c:1'], 10_000);
    slow.f.observe(0, 'no-answer');
    slow.f.probed(true);
    slow.advance(9_000);
    slow.f.observe(1, 'no-answer'); // b → c
    slow.advance(1_000);
    expect(slow.f.probed(true)).toBeUndefined();
    expect(slow.f.endpoint).toBe('c:1');
  });

  it('refuses an empty list', () => {
    expect(() => new EndpointFailover([], { failbackAfterMs: 0 })).toThrow();
  });
});
