import pino from 'pino';
import type { Journal } from '@jr/journal';
import { CheckpointTracker } from './checkpoint-tracker';

function fakeJournal() {
  const j = { checkpointLsn: 0, checkpoint: jest.fn(async (lsn: number) => void (j.checkpointLsn = lsn)) };
  return j;
}

describe('CheckpointTracker', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('checkpoints only the contiguous applied prefix', async () => {
    const j = fakeJournal();
    const t = new CheckpointTracker(j as unknown as Journal, pino({ level: 'silent' }), 200);
    t.mark([1, 2, 4]);
    await t.flush();
    expect(j.checkpointLsn).toBe(2);
    t.mark([3]);
    await t.flush();
    expect(j.checkpointLsn).toBe(4);
  });

  it('writes at most one checkpoint per interval, covering every mark made meanwhile', async () => {
    const j = fakeJournal();
    const t = new CheckpointTracker(j as unknown as Journal, pino({ level: 'silent' }), 200);
    t.mark([1]);
    await jest.advanceTimersByTimeAsync(0);
    expect(j.checkpoint).toHaveBeenCalledTimes(1);
    for (let lsn = 2; lsn <= 50; lsn++) t.mark([lsn]);
    await jest.advanceTimersByTimeAsync(100);
    expect(j.checkpoint).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(150);
    expect(j.checkpoint).toHaveBeenCalledTimes(2);
    expect(j.checkpointLsn).toBe(50);
  });

  it('flush does not wait out the interval, and a failed write is covered by the next one', async () => {
    const j = fakeJournal();
    const t = new CheckpointTracker(j as unknown as Journal, pino({ level: 'silent' }), 60_000);
    t.mark([1]);
    await t.flush();
    j.checkpoint.mockRejectedValueOnce(new Error('ENOSPC'));
    t.mark([2]);
    await t.flush();
    expect(j.checkpointLsn).toBe(1);
    t.mark([3]);
    await t.flush();
    expect(j.checkpointLsn).toBe(3);
  });
});
