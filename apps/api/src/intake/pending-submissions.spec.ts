import type { NormalizedJob } from '@jr/contracts';
import type { SubmittedRecord } from './intake-record';
import { PendingSubmissions } from './pending-submissions';

const job: NormalizedJob = {
  name: 'n',
  pool: 'default',
  labels: {},
  timeoutMs: 1_000,
  retries: 0,
  env: {},
  uses: [],
  steps: [{ name: 's', run: 'true', timeoutMs: 1_000, retries: 0 }],
};

function record(id: string, key: string | null = null, pool = 'default'): SubmittedRecord {
  return {
    type: 'job.submitted',
    id,
    job: { ...job, pool },
    idempotencyKey: key,
    requestHash: `h-${id}`,
    at: 1_700_000_000_000,
  };
}

describe('PendingSubmissions', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('indexes by LSN order, id and idempotency key until settled', () => {
    const p = new PendingSubmissions();
    p.add(1, record('j_a', 'k1'));
    p.add(2, record('j_b'));
    p.add(3, record('j_c', 'k1')); // the first holder of a key stays its answer
    expect(p.oldest(2).map((e) => e.lsn)).toEqual([1, 2]);
    expect(p.withKey('k1')?.id).toBe('j_a');
    expect(p.view('j_b')).toMatchObject({ id: 'j_b', state: 'queued', attempts: [], exitCode: null });
    p.settle(p.oldest(1));
    expect(p.get('j_a')).toBeUndefined();
    expect(p.withKey('k1')).toBeUndefined();
    expect(p.size).toBe(2);
  });

  it('lists its jobs (id, pool) in journal order and tells settle listeners which ids were applied', () => {
    const p = new PendingSubmissions();
    const heard: string[][] = [];
    p.onSettled((ids) => heard.push(ids));
    ['j_b', 'j_a', 'j_c'].forEach((id, i) => p.add(i + 1, record(id, null, id === 'j_a' ? 'web' : 'default')));
    expect(p.unapplied().map((j) => j.id)).toEqual(['j_b', 'j_a', 'j_c']);
    expect(p.unapplied()[1]).toEqual({ id: 'j_a', pool: 'web' });
    p.settle(p.oldest(2));
    expect(heard).toEqual([['j_b', 'j_a']]);
    expect(p.unapplied()).toEqual([{ id: 'j_c', pool: 'default' }]);
  });

  it('lists newest first with the pool filter and cursor', () => {
    const p = new PendingSubmissions();
    ['j_1', 'j_3', 'j_2'].forEach((id, i) => p.add(i + 1, record(id, null, id === 'j_2' ? 'other' : 'default')));
    expect(p.list({ limit: 10 }).map((v) => v.id)).toEqual(['j_3', 'j_2', 'j_1']);
    expect(p.list({ pool: 'default', limit: 10 }).map((v) => v.id)).toEqual(['j_3', 'j_1']);
    expect(p.list({ beforeId: 'j_3', limit: 1 }).map((v) => v.id)).toEqual(['j_2']);
  });

  it('wakes waiters when their job is applied, and times out otherwise', async () => {
    const p = new PendingSubmissions();
    p.add(1, record('j_a'));
    p.add(2, record('j_b'));
    const a = p.whenApplied('j_a', 5_000);
    const b = p.whenApplied('j_b', 5_000);
    p.settle(p.oldest(1));
    await expect(a).resolves.toBe(true);
    await jest.advanceTimersByTimeAsync(5_001);
    await expect(b).resolves.toBe(false);
    await expect(p.whenApplied('j_unknown', 1)).resolves.toBe(true);
  });
});
