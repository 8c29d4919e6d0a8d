import { overlapDecision } from './overlap';

const idle = { jobIds: [], bufferedFireTimes: [] };
const busy = { jobIds: ['job-1'], bufferedFireTimes: [] };
const busyAndWaiting = { jobIds: ['job-1'], bufferedFireTimes: [Date.parse('2026-05-01T11:00:00Z')] };

describe('overlapDecision', () => {
  it.each(['skip', 'buffer_one', 'allow', 'cancel_previous'] as const)('%s: starts when nothing runs', (policy) => {
    expect(overlapDecision(policy, idle)).toEqual({ action: 'start' });
  });

  it('skip: skips a fire while a job runs, with reason overlap', () => {
    expect(overlapDecision('skip', busy)).toEqual({ action: 'skip', reason: 'overlap' });
  });

  it('buffer_one: buffers the first fire while a job runs and skips a second', () => {
    expect(overlapDecision('buffer_one', busy)).toEqual({ action: 'buffer' });
    expect(overlapDecision('buffer_one', busyAndWaiting)).toEqual({ action: 'skip', reason: 'overlap' });
  });

  it('buffer_one: a waiting fire keeps its place even once the running job is gone', () => {
    expect(overlapDecision('buffer_one', { jobIds: [], bufferedFireTimes: [1] })).toEqual({
      action: 'skip',
      reason: 'overlap',
    });
  });

  it('allow: starts whatever runs', () => {
    expect(overlapDecision('allow', busyAndWaiting)).toEqual({ action: 'start' });
  });

  it('cancel_previous: cancels every running job, then starts', () => {
    const running = { jobIds: ['job-1', 'job-2'], bufferedFireTimes: [] };
    const decision = overlapDecision('cancel_previous', running);
    expect(decision).toEqual({ action: 'cancel_then_start', cancel: ['job-1', 'job-2'] });
    expect(decision.cancel).not.toBe(running.jobIds);
  });
});
