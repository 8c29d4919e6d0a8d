import { applyBisecting } from './relay-loop';

const badData = (id: number): Error => Object.assign(new Error(`bad ${id}`), { code: '22P05' });
const readOnly = (): Error =>
  Object.assign(new Error('cannot execute INSERT in a read-only transaction'), { code: '25006' });

describe('applyBisecting', () => {
  it('applies a good batch in one call', async () => {
    const calls: number[][] = [];
    const out = await applyBisecting([1, 2, 3, 4], (b) => Promise.resolve(void calls.push(b)));
    expect(out.every((o) => o.kind === 'applied')).toBe(true);
    expect(calls).toEqual([[1, 2, 3, 4]]);
  });

  it('finds the records at fault at once and applies all the others, trying each bad one alone once', async () => {
    const bad = new Set([3, 17, 40]);
    const alone = new Map<number, number>();
    const batch = Array.from({ length: 64 }, (_, i) => i);
    const applied: number[] = [];
    const out = await applyBisecting(batch, (b) => {
      if (b.length === 1) alone.set(b[0] as number, (alone.get(b[0] as number) ?? 0) + 1);
      const poison = b.find((x) => bad.has(x));
      if (poison !== undefined) return Promise.reject(badData(poison));
      applied.push(...b);
      return Promise.resolve();
    });
    expect(out.map((o, i) => (o.kind === 'failed' ? i : -1)).filter((i) => i >= 0)).toEqual([3, 17, 40]);
    expect(applied.sort((a, b) => a - b)).toEqual(batch.filter((x) => !bad.has(x)));
    for (const b of bad) expect(alone.get(b)).toBe(1);
  });

  it('stops at an outage: the failed part is kept for later, the rest waits, nothing is split further', async () => {
    let calls = 0;
    const out = await applyBisecting([1, 2, 3, 4], () => {
      calls++;
      return Promise.reject(readOnly());
    });
    expect(calls).toBe(1);
    expect(out.every((o) => o.kind === 'failed')).toBe(true);
  });
});
