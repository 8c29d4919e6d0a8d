import { OrderedSet } from './ordered-set';

describe('OrderedSet', () => {
  it('keeps insertion order with adds at both ends and removals anywhere', () => {
    const s = new OrderedSet<string>();
    for (const v of ['b', 'c', 'd']) s.pushBack(v);
    s.pushFront('a');
    s.pushBack('c'); // already a member: stays where it is
    expect([...s]).toEqual(['a', 'b', 'c', 'd']);
    expect(s.delete('c')).toBe(true);
    expect(s.delete('c')).toBe(false);
    expect(s.delete('a')).toBe(true);
    expect(s.delete('d')).toBe(true);
    expect([...s]).toEqual(['b']);
    s.pushBack('e');
    s.pushFront('f');
    expect([...s]).toEqual(['f', 'b', 'e']);
    expect(s.size).toBe(3);
  });

  it('takes the oldest member that matches', () => {
    const s = new OrderedSet<number>();
    for (const v of [1, 2, 3, 4]) s.pushBack(v);
    expect(s.takeFirst((v) => v % 2 === 0)).toBe(2);
    expect(s.takeFirst((v) => v > 10)).toBeUndefined();
    expect([...s]).toEqual([1, 3, 4]);
  });

  it('removes any of 10k members without scanning the others', () => {
    const s = new OrderedSet<object>();
    const items = Array.from({ length: 10_000 }, () => ({}));
    for (const i of items) s.pushBack(i);
    const start = process.hrtime.bigint();
    for (const i of items.filter((_, n) => n % 2 === 1)) s.delete(i);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    process.stdout.write(`OrderedSet: 5000 removals from 10000 in ${ms.toFixed(2)} ms\n`);
    expect(s.size).toBe(5_000);
    expect([...s][1]).toBe(items[2]);
  });
});
