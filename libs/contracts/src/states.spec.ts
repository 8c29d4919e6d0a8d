import fc from 'fast-check';
import {
  canTransition,
  isTerminal,
  nextStateAfterAttempt,
  JOB_STATES,
  type AttemptEnd,
  type RetryBudget,
} from './states';

const budget = (b: Partial<RetryBudget> = {}): RetryBudget => ({
  retries: 0,
  failedAttempts: 0,
  lostAttempts: 0,
  maxLostAttempts: 3,
  cancelRequested: false,
  ...b,
});

describe('the job state machine', () => {
  it('has no way out of a terminal state', () => {
    for (const from of JOB_STATES.filter(isTerminal))
      for (const to of JOB_STATES) expect(canTransition(from, to)).toBe(false);
  });

  it('ends a succeeded attempt succeeded, even if a cancel came too late', () => {
    expect(nextStateAfterAttempt('succeeded', budget({ cancelRequested: true }))).toEqual({ state: 'succeeded' });
  });

  it('re-queues a failed attempt while retries are left, then gives up with attempts_exhausted', () => {
    expect(nextStateAfterAttempt('failed', budget({ retries: 2, failedAttempts: 1 }))).toEqual({ state: 'queued' });
    expect(nextStateAfterAttempt('failed', budget({ retries: 2, failedAttempts: 2 }))).toEqual({ state: 'queued' });
    expect(nextStateAfterAttempt('failed', budget({ retries: 2, failedAttempts: 3 }))).toEqual({
      state: 'failed',
      reason: 'attempts_exhausted',
    });
  });

  it('ends a failed attempt of a job without retries with reason exit_code', () => {
    expect(nextStateAfterAttempt('failed', budget({ failedAttempts: 1 }))).toEqual({
      state: 'failed',
      reason: 'exit_code',
    });
  });

  it('ends a job whose agent refused its signature at once, with that reason, retries left or not', () => {
    const refused = nextStateAfterAttempt('failed', budget({ retries: 5, failedAttempts: 1 }), 'signature_invalid');
    expect(refused).toEqual({ state: 'failed', reason: 'signature_invalid' });
    // other agent reasons keep the retry budget
    expect(nextStateAfterAttempt('failed', budget({ retries: 5, failedAttempts: 1 }), 'download_failed')).toEqual({
      state: 'queued',
    });
    // a cancel asked for meanwhile still wins
    expect(
      nextStateAfterAttempt('failed', budget({ failedAttempts: 1, cancelRequested: true }), 'signature_invalid'),
    ).toEqual({ state: 'cancelled', reason: 'cancelled' });
  });

  it('re-queues lost attempts up to the lost budget, whatever the retries', () => {
    expect(nextStateAfterAttempt('lost', budget({ lostAttempts: 1 }))).toEqual({ state: 'queued' });
    expect(nextStateAfterAttempt('lost', budget({ lostAttempts: 2 }))).toEqual({ state: 'queued' });
    expect(nextStateAfterAttempt('lost', budget({ lostAttempts: 3 }))).toEqual({
      state: 'failed',
      reason: 'attempts_exhausted',
    });
  });

  it('never retries a timed-out or cancelled attempt', () => {
    expect(nextStateAfterAttempt('timed_out', budget({ retries: 5 }))).toEqual({
      state: 'timed_out',
      reason: 'timeout',
    });
    expect(nextStateAfterAttempt('cancelled', budget({ retries: 5 }))).toEqual({
      state: 'cancelled',
      reason: 'cancelled',
    });
  });

  it('honours a cancel over a retry', () => {
    expect(nextStateAfterAttempt('failed', budget({ retries: 5, failedAttempts: 1, cancelRequested: true }))).toEqual({
      state: 'cancelled',
      reason: 'cancelled',
    });
    expect(nextStateAfterAttempt('lost', budget({ lostAttempts: 1, cancelRequested: true }))).toEqual({
      state: 'cancelled',
      reason: 'cancelled',
    });
  });

  it('only ever decides a legal transition from running or leased', () => {
    const ends: AttemptEnd[] = ['succeeded', 'failed', 'timed_out', 'cancelled', 'lost'];
    fc.assert(
      fc.property(
        fc.constantFrom(...ends),
        fc.record({
          retries: fc.nat(10),
          failedAttempts: fc.nat(12),
          lostAttempts: fc.nat(5),
          maxLostAttempts: fc.integer({ min: 1, max: 5 }),
          cancelRequested: fc.boolean(),
        }),
        fc.constantFrom('running' as const, 'leased' as const),
        (end, b, from) => {
          const next = nextStateAfterAttempt(end, b);
          expect(canTransition(from, next.state)).toBe(true);
          expect(isTerminal(next.state) || next.state === 'queued').toBe(true);
        },
      ),
    );
  });
});
