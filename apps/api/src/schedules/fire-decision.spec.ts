import { decideFires } from './fire-decision';
import { at, testSchedule } from './schedule-test-helpers';

const iso = (ms: number) => new Date(ms).toISOString();
const hourly = (fields: Record<string, unknown>) => testSchedule({ cron: '0 * * * *', ...fields });

describe('decideFires', () => {
  const from = at('2026-06-01T09:30:00Z');
  const now = at('2026-06-01T12:00:30Z'); // 10:00, 11:00 and 12:00 due

  it('all + allow: every fire time is a job; the settled point and the next fire move on', () => {
    const d = decideFires(
      {
        spec: hourly({ overlap: 'allow', catchup: { policy: 'all' } }),
        settledUntilMs: from,
        bufferedFireAtMs: null,
        activeJobIds: [],
      },
      now,
    );
    expect(d.jobs.map(iso)).toEqual([
      '2026-06-01T10:00:00.000Z',
      '2026-06-01T11:00:00.000Z',
      '2026-06-01T12:00:00.000Z',
    ]);
    expect(d).toMatchObject({ missed: [], cancel: [], settledUntilMs: now, nextFireAtMs: at('2026-06-01T13:00:00Z') });
  });

  it('all + skip: the first fire makes a job, the ones after it overlap it', () => {
    const d = decideFires(
      {
        spec: hourly({ overlap: 'skip', catchup: { policy: 'all' } }),
        settledUntilMs: from,
        bufferedFireAtMs: null,
        activeJobIds: [],
      },
      now,
    );
    expect(d.jobs.map(iso)).toEqual(['2026-06-01T10:00:00.000Z']);
    expect(d.missed.map((m) => [iso(m.fireTimeMs), m.reason])).toEqual([
      ['2026-06-01T11:00:00.000Z', 'overlap'],
      ['2026-06-01T12:00:00.000Z', 'overlap'],
    ]);
  });

  it('latest: older fires are missed for downtime', () => {
    const d = decideFires(
      { spec: hourly({ overlap: 'allow' }), settledUntilMs: from, bufferedFireAtMs: null, activeJobIds: [] },
      now,
    );
    expect(d.jobs.map(iso)).toEqual(['2026-06-01T12:00:00.000Z']);
    expect(d.missed.map((m) => m.reason)).toEqual(['downtime', 'downtime']);
  });

  it('cancel_previous with several fires at once: only the latest runs, the running job is cancelled', () => {
    const d = decideFires(
      {
        spec: hourly({ overlap: 'cancel_previous', catchup: { policy: 'all' } }),
        settledUntilMs: from,
        bufferedFireAtMs: null,
        activeJobIds: ['j_old'],
      },
      now,
    );
    expect(d.jobs.map(iso)).toEqual(['2026-06-01T12:00:00.000Z']);
    expect(d.cancel).toEqual(['j_old']);
    expect(d.missed.map((m) => [iso(m.fireTimeMs), m.reason])).toEqual([
      ['2026-06-01T10:00:00.000Z', 'overlap'],
      ['2026-06-01T11:00:00.000Z', 'overlap'],
    ]);
  });

  it('buffer_one: a buffered fire starts once nothing runs, before the fires due now', () => {
    const spec = hourly({ overlap: 'buffer_one' });
    const waiting = decideFires(
      { spec, settledUntilMs: now, bufferedFireAtMs: from, activeJobIds: ['j_old'] },
      now + 1_000,
    );
    expect(waiting).toMatchObject({ jobs: [], bufferedFireAtMs: from });
    const freed = decideFires({ spec, settledUntilMs: now, bufferedFireAtMs: from, activeJobIds: [] }, now + 1_000);
    expect(freed).toMatchObject({ jobs: [from], bufferedFireAtMs: null });
  });

  it('nothing due: nothing made, the settled point never moves back', () => {
    const d = decideFires(
      { spec: hourly({}), settledUntilMs: now, bufferedFireAtMs: null, activeJobIds: [] },
      now - 60_000,
    );
    expect(d).toMatchObject({ jobs: [], missed: [], settledUntilMs: now });
  });
});
