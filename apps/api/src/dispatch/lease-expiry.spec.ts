import { decideAfterAttempt } from '../jobs/job-decision';
import { agentSilenceCutoff, isLeaseExpired, leaseExpiresAt, reaperDelayMs } from './lease-expiry';

describe('lease expiry decision (injected clock)', () => {
  const hb = 10_000;
  const t0 = Date.UTC(2026, 0, 1);

  it('a lease lives three heartbeat intervals from its grant or last heartbeat', () => {
    const expires = leaseExpiresAt(t0, hb);
    expect(expires.getTime()).toBe(t0 + 30_000);
    expect(isLeaseExpired(expires, t0 + 29_999)).toBe(false);
    expect(isLeaseExpired(expires, t0 + 30_000)).toBe(false);
    expect(isLeaseExpired(expires, t0 + 30_001)).toBe(true);
  });

  it('a heartbeat in time keeps it alive; silence past three intervals ends it', () => {
    let expires = leaseExpiresAt(t0, hb);
    for (let beat = 1; beat <= 5; beat++) {
      const now = t0 + beat * hb;
      expect(isLeaseExpired(expires, now)).toBe(false);
      expires = leaseExpiresAt(now, hb);
    }
    expect(isLeaseExpired(expires, t0 + 5 * hb + 3 * hb + 1)).toBe(true);
  });

  it('agents silent for three intervals are lost', () => {
    expect(agentSilenceCutoff(t0, hb).getTime()).toBe(t0 - 30_000);
  });

  it('the reaper runs about every half interval, jittered by 20%', () => {
    expect(reaperDelayMs(hb, () => 0)).toBe(4_000);
    expect(reaperDelayMs(hb, () => 1)).toBe(6_000);
    expect(reaperDelayMs(10, () => 0)).toBe(50);
  });
});

describe('what a lost attempt means for its job', () => {
  const job = { retries: 0, failedAttempts: 0, lostAttempts: 0, cancelRequested: false };

  it('requeues until the lost attempts are spent, then fails with attempts_exhausted', () => {
    expect(decideAfterAttempt('lost', job, 3)).toEqual({ state: 'queued', failedAttempts: 0, lostAttempts: 1 });
    expect(decideAfterAttempt('lost', { ...job, lostAttempts: 1 }, 3)).toMatchObject({
      state: 'queued',
      lostAttempts: 2,
    });
    expect(decideAfterAttempt('lost', { ...job, lostAttempts: 2 }, 3)).toEqual({
      state: 'failed',
      reason: 'attempts_exhausted',
      failedAttempts: 0,
      lostAttempts: 3,
    });
  });

  it('a cancel request wins over a retry', () => {
    expect(decideAfterAttempt('lost', { ...job, cancelRequested: true }, 3)).toMatchObject({
      state: 'cancelled',
      reason: 'cancelled',
    });
  });

  it('failed attempts count against retries', () => {
    expect(decideAfterAttempt('failed', { ...job, retries: 1 }, 3)).toMatchObject({
      state: 'queued',
      failedAttempts: 1,
    });
    expect(decideAfterAttempt('failed', { ...job, retries: 1, failedAttempts: 1 }, 3)).toMatchObject({
      state: 'failed',
      reason: 'attempts_exhausted',
    });
    expect(decideAfterAttempt('failed', job, 3)).toMatchObject({ state: 'failed', reason: 'exit_code' });
  });
});
