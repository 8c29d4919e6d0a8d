import { LeaseMatcher } from './lease-matcher';

const never = new AbortController().signal;

describe('LeaseMatcher', () => {
  it('hands a parked job to the first waiter whose labels satisfy it, at once', async () => {
    const m = new LeaseMatcher<string>();
    const parked = m.park('p', { os: 'linux' }, never);
    const mac = m.addWaiter('p', 'a_mac', { os: 'mac' });
    expect(mac.status).toBe('waiting');
    const linux = m.addWaiter('p', 'a_linux', { os: 'linux', arch: 'x64' });
    expect(linux.status).toBe('matched');
    await expect(parked).resolves.toBe(linux);
    expect(m.waitingCount('p')).toBe(1);
  });

  it('serves waiters first in, first out', async () => {
    const m = new LeaseMatcher<string>();
    const first = m.addWaiter('p', 'a1', {});
    m.addWaiter('p', 'a2', {});
    await expect(m.park('p', {}, never)).resolves.toBe(first);
  });

  it('keeps pools apart', async () => {
    const m = new LeaseMatcher<string>();
    m.addWaiter('gpu', 'a1', {});
    const ac = new AbortController();
    const parked = m.park('default', {}, ac.signal);
    ac.abort();
    await expect(parked).resolves.toBeUndefined();
    expect(m.parkedCount('default')).toBe(0);
  });

  it('withdraws a queued waiter with a null answer, but not one a processor holds', async () => {
    const m = new LeaseMatcher<string>();
    const w = m.addWaiter('p', 'a1', {});
    expect(m.withdraw('p', w)).toBe(true);
    await expect(w.answer).resolves.toBeNull();
    const held = m.addWaiter('p', 'a2', {});
    await m.park('p', {}, never);
    expect(m.withdraw('p', held)).toBe(false);
    expect(held.abandoned).toBe(true);
    held.settle('assignment');
    await expect(held.answer).resolves.toBe('assignment');
  });

  it('puts a waiter back at the front when its job went away', async () => {
    const m = new LeaseMatcher<string>();
    const w1 = m.addWaiter('p', 'a1', {});
    m.addWaiter('p', 'a2', {});
    expect(await m.park('p', {}, never)).toBe(w1);
    m.putBack('p', w1);
    expect(await m.park('p', {}, never)).toBe(w1);
  });

  it('answers an abandoned waiter null instead of putting it back', async () => {
    const m = new LeaseMatcher<string>();
    const w = m.addWaiter('p', 'a1', {});
    await m.park('p', {}, never);
    m.withdraw('p', w);
    m.putBack('p', w);
    await expect(w.answer).resolves.toBeNull();
    expect(m.waitingCount('p')).toBe(0);
  });

  it('a put-back waiter goes straight to a parked job it suits', async () => {
    const m = new LeaseMatcher<string>();
    const w = m.addWaiter('p', 'a1', { os: 'linux' });
    await m.park('p', {}, never);
    const parked = m.park('p', { os: 'linux' }, never);
    m.putBack('p', w);
    await expect(parked).resolves.toBe(w);
  });

  it('drops the waiters of a drained agent and releases everyone at shutdown', async () => {
    const m = new LeaseMatcher<string>();
    const a = m.addWaiter('p', 'a1', {});
    const b = m.addWaiter('q', 'a2', {});
    m.dropAgent('a1');
    await expect(a.answer).resolves.toBeNull();
    expect(m.waitingCount('q')).toBe(1);
    m.releaseAll();
    await expect(b.answer).resolves.toBeNull();
  });

  it('settles once', async () => {
    const m = new LeaseMatcher<string>();
    const w = m.addWaiter('p', 'a1', {});
    w.settle('x');
    w.settle('y');
    await expect(w.answer).resolves.toBe('x');
  });

  describe('waiters of agents gone silent (behind a partition)', () => {
    it('answers a silent waiter empty instead of handing it the job, and serves the next one', async () => {
      const silent = new Set(['a_partitioned']);
      const m = new LeaseMatcher<string>((w) => silent.has(w.agentId));
      const cut = m.addWaiter('p', 'a_partitioned', {});
      const ok = m.addWaiter('p', 'a_ok', {});
      await expect(m.park('p', {}, never)).resolves.toBe(ok);
      await expect(cut.answer).resolves.toBeNull();
      expect(m.waitingCount('p')).toBe(0);
    });

    it('keeps the job parked while the only agent that may run it is silent, until that agent calls again', async () => {
      const silent = new Set(['a1']);
      const m = new LeaseMatcher<string>((w) => silent.has(w.agentId));
      const stale = m.addWaiter('p', 'a1', { gpu: 'yes' });
      let granted: unknown;
      void m.park('p', { gpu: 'yes' }, never).then((w) => (granted = w));
      await expect(stale.answer).resolves.toBeNull();
      expect(granted).toBeUndefined();
      silent.delete('a1'); // the partition heals: the agent's next Lease call arrives
      const fresh = m.addWaiter('p', 'a1', { gpu: 'yes' });
      await Promise.resolve();
      expect(granted).toBe(fresh);
    });

    it('does not give a put-back waiter a new job once its agent went silent', async () => {
      const silent = new Set<string>();
      const m = new LeaseMatcher<string>((w) => silent.has(w.agentId));
      const w = m.addWaiter('p', 'a1', {});
      await expect(m.park('p', {}, never)).resolves.toBe(w);
      silent.add('a1');
      m.putBack('p', w);
      await expect(w.answer).resolves.toBeNull();
      expect(m.waitingCount('p')).toBe(0);
    });

    it('stamps each waiter with the time its call arrived', () => {
      let now = 1_000;
      const m = new LeaseMatcher<string>(
        () => false,
        () => now,
      );
      expect(m.addWaiter('p', 'a1', {}).arrivedAtMs).toBe(1_000);
      now = 5_000;
      expect(m.addWaiter('p', 'a2', {}).arrivedAtMs).toBe(5_000);
    });
  });
});
