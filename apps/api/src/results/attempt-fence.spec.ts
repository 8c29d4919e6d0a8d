import type { AttemptState } from '@jr/contracts';
import { AttemptRegistry, type AttemptSnapshot } from '../common/attempt-registry';
import { decideFence, predictJobState } from './attempt-fence';

const ref = { jobId: 'j_1', attempt: 1, leaseToken: 'a'.repeat(32), agentId: 'a_agent' };

function snap(state: AttemptState, over: Partial<AttemptSnapshot> = {}): AttemptSnapshot {
  return {
    ...ref,
    state,
    lastSeq: 0,
    job: {
      state: state === 'leased' || state === 'running' ? state : 'queued',
      retries: 1,
      failedAttempts: 0,
      lostAttempts: 0,
      cancelRequested: false,
    },
    ...over,
  };
}

describe('decideFence', () => {
  it('accepts results for a live attempt holding this lease', () => {
    expect(decideFence(snap('leased'), undefined, ref, { kind: 'report' })).toEqual({ kind: 'accept' });
    expect(decideFence(snap('running'), undefined, ref, { kind: 'complete', end: 'succeeded' })).toEqual({
      kind: 'accept',
    });
  });

  it('refuses a stale token, another agent, or an unknown attempt, naming the attempt', () => {
    expect(
      decideFence(snap('running', { leaseToken: 'b'.repeat(32) }), undefined, ref, { kind: 'report' }),
    ).toMatchObject({
      kind: 'refuse',
      message: expect.stringMatching(/^superseded: the lease token of attempt 1 of job j_1/),
    });
    expect(decideFence(snap('running', { agentId: 'a_other' }), undefined, ref, { kind: 'report' })).toMatchObject({
      kind: 'refuse',
    });
    expect(decideFence(undefined, undefined, ref, { kind: 'report' })).toMatchObject({
      kind: 'refuse',
      message: 'superseded: no attempt 1 of job j_1',
    });
  });

  it('calls a result for an attempt that ended lost (or was already superseded) late: recorded, answered superseded', () => {
    for (const state of ['lost', 'superseded'] as const) {
      for (const call of [{ kind: 'report' as const }, { kind: 'complete' as const, end: 'succeeded' as const }]) {
        expect(decideFence(snap(state), undefined, ref, call)).toMatchObject({
          kind: 'late',
          message: expect.stringMatching(/^superseded: attempt 1 of job j_1 ended lost/),
        });
      }
    }
  });

  it('answers a repeated completion without storing it again, and refuses a different one', () => {
    expect(
      decideFence(snap('succeeded', { job: { ...snap('leased').job, state: 'succeeded' } }), undefined, ref, {
        kind: 'complete',
        end: 'succeeded',
      }),
    ).toEqual({ kind: 'repeat', jobState: 'succeeded' });
    expect(decideFence(snap('succeeded'), undefined, ref, { kind: 'complete', end: 'failed' })).toMatchObject({
      kind: 'refuse',
      message: expect.stringContaining('already ended succeeded'),
    });
    expect(decideFence(snap('failed'), undefined, ref, { kind: 'report' })).toMatchObject({ kind: 'refuse' });
  });

  it('sees a completion journaled but not yet applied before Postgres does', () => {
    const registry = new AttemptRegistry();
    registry.journaled('j_1', 1, { end: 'failed', jobState: 'queued', maxSeq: 4 });
    const overlay = registry.overlay('j_1', 1);
    expect(decideFence(snap('running'), overlay, ref, { kind: 'complete', end: 'failed' })).toEqual({
      kind: 'repeat',
      jobState: 'queued',
    });
    expect(decideFence(snap('running'), overlay, ref, { kind: 'report' })).toMatchObject({ kind: 'refuse' });
    expect(decideFence(snap('running'), overlay, ref, { kind: 'complete', end: 'succeeded' })).toMatchObject({
      kind: 'refuse',
    });
    registry.applied('j_1', 1);
    expect(registry.overlay('j_1', 1)).toBeUndefined();
  });
});

describe('predictJobState', () => {
  it('applies the contract retry decision to the snapshot', () => {
    expect(predictJobState(snap('running'), { end: 'succeeded', reason: null }, 3)).toBe('succeeded');
    expect(predictJobState(snap('running'), { end: 'failed', reason: null }, 3)).toBe('queued'); // retries: 1 left
    expect(
      predictJobState(
        snap('running', { job: { ...snap('running').job, failedAttempts: 1 } }),
        { end: 'failed', reason: null },
        3,
      ),
    ).toBe('failed');
    expect(
      predictJobState(
        snap('running', { job: { ...snap('running').job, cancelRequested: true } }),
        { end: 'failed', reason: null },
        3,
      ),
    ).toBe('cancelled');
  });

  it('ends the job at once on a signature refusal, retries left or not', () => {
    expect(predictJobState(snap('running'), { end: 'failed', reason: 'signature_invalid' }, 3)).toBe('failed');
    expect(predictJobState(snap('running'), { end: 'failed', reason: 'download_failed' }, 3)).toBe('queued');
  });
});

describe('AttemptRegistry', () => {
  it('counts journaled records per attempt and keeps the first completion', () => {
    const r = new AttemptRegistry();
    r.journaled('j', 1, { maxSeq: 3 });
    r.journaled('j', 1, { end: 'succeeded', jobState: 'succeeded' });
    r.journaled('j', 1, { end: 'failed' });
    expect(r.overlay('j', 1)).toEqual({ records: 3, end: 'succeeded', jobState: 'succeeded', maxSeq: 3 });
    r.applied('j', 1);
    r.applied('j', 1);
    expect(r.hasPending('j', 1)).toBe(true);
    r.applied('j', 1);
    expect(r.hasPending('j', 1)).toBe(false);
  });

  it('remembers snapshots and updates their state', () => {
    const r = new AttemptRegistry();
    r.remember(snap('leased'));
    r.setState('j_1', 1, 'lost', 'queued');
    expect(r.recall('j_1', 1)).toMatchObject({ state: 'lost', job: { state: 'queued' } });
    expect(r.recall('j_1', 2)).toBeUndefined();
  });
});
