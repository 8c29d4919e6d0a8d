import type { JobView, ScheduleView } from '@jr/contracts';
import { waitFor } from '@jr/testing';
import { http, startTestApi, type TestApi } from './harness';

// The leader's scheduler against a real jr-api, Postgres and Redis, with the API's clock moved to the
// instants under test (no agents: the jobs stay queued, which is what the overlap policies look at).
// Covers: each catch-up policy after the API was down across three fire times, each overlap policy, DST
// spring-forward and fall-back in Europe/Berlin with each DST policy, pause and resume.
jest.setTimeout(60_000);

let t: TestApi;
beforeAll(async () => {
  t = await startTestApi();
});
afterAll(() => t?.cleanup());

/** The API's clock reads `iso` now (and runs on from there). */
const setNow = (iso: string): void => {
  t.clock.offsetMs = Date.parse(iso) - Date.now();
};
let n = 0;

async function schedule(doc: Record<string, unknown>): Promise<string> {
  const r = await http(t, 'POST', '/v1/schedules', {
    // overlap allow unless the test is about overlap: with no agent, every job stays queued
    body: { name: `s${++n}`, timezone: 'UTC', overlap: 'allow', job: { steps: [{ run: 'true' }] }, ...doc },
  });
  if (r.status !== 201) throw new Error(`create: ${r.status} ${r.text}`);
  return r.json.id as string;
}

const view = async (id: string): Promise<ScheduleView> =>
  (await http(t, 'GET', `/v1/schedules/${id}`)).json as ScheduleView;
const jobsOf = async (id: string): Promise<JobView[]> =>
  ((await http(t, 'GET', `/v1/jobs?schedule=${id}&limit=500`)).json.items as JobView[]).reverse();
const fireTimes = async (id: string): Promise<string[]> => (await jobsOf(id)).map((j) => j.fireTime ?? '');

/** Waits until the schedule has made `count` jobs, then two more scheduler passes to see it makes no more. */
async function settle(id: string, count: number): Promise<string[]> {
  await waitFor(async () => (await jobsOf(id)).length >= count, { timeoutMs: 10_000, what: `${count} jobs` });
  await new Promise((r) => setTimeout(r, 1_300));
  return fireTimes(id);
}

const Z = (hhmm: string, day = '2026-06-01') => `${day}T${hhmm}:00.000Z`;

describe('catch-up after the API was down across three fire times', () => {
  it.each([
    ['none', [], ['11:00', '12:00', '13:00']],
    ['latest', ['13:00'], ['11:00', '12:00']],
    ['all', ['11:00', '12:00', '13:00'], []],
  ])('%s: makes %j, lists %j as missed', async (policy, made, missed) => {
    setNow('2026-06-01T09:59:58.500Z');
    const id = await schedule({ cron: '0 * * * *', catchup: { policy } });
    expect(await settle(id, 1)).toEqual([Z('10:00')]);
    await t.api.stop();
    setNow('2026-06-01T13:05:00.000Z'); // 11:00, 12:00 and 13:00 passed while it was down
    await t.start();
    const times = await settle(id, 1 + made.length);
    expect(times).toEqual([Z('10:00'), ...made.map((m) => Z(m))]);
    const v = await view(id);
    expect(v.missed).toEqual(missed.map((m) => ({ fireTime: Z(m), reason: 'downtime' })));
    expect(v.nextFireAt).toBe(Z('14:00'));
  });
});

describe('overlap: a fire while the previous job is still queued', () => {
  async function twoFires(overlap: string): Promise<{ id: string; first: JobView }> {
    setNow('2026-06-01T09:59:58.500Z');
    const id = await schedule({ cron: '0 * * * *', overlap });
    await settle(id, 1);
    const [first] = await jobsOf(id);
    setNow('2026-06-01T10:59:58.500Z');
    return { id, first: first as JobView };
  }

  it('skip: the second fire is missed (overlap)', async () => {
    const { id } = await twoFires('skip');
    await waitFor(async () => (await view(id)).missed.length === 1, { timeoutMs: 10_000, what: 'a missed fire' });
    expect((await view(id)).missed).toEqual([{ fireTime: Z('11:00'), reason: 'overlap' }]);
    expect(await fireTimes(id)).toEqual([Z('10:00')]);
  });

  it('allow: both run', async () => {
    const { id } = await twoFires('allow');
    expect(await settle(id, 2)).toEqual([Z('10:00'), Z('11:00')]);
  });

  it('buffer_one: the second waits and starts when the first ends; a third meanwhile is missed', async () => {
    const { id, first } = await twoFires('buffer_one');
    await waitFor(async () => (await view(id)).bufferedFireAt === Z('11:00'), { timeoutMs: 10_000, what: 'buffered' });
    setNow('2026-06-01T11:59:58.500Z');
    await waitFor(async () => (await view(id)).missed.length === 1, { timeoutMs: 10_000, what: 'third missed' });
    expect(await fireTimes(id)).toEqual([Z('10:00')]);
    expect((await http(t, 'POST', `/v1/jobs/${first.id}/cancel`)).status).toBe(202);
    expect(await settle(id, 2)).toEqual([Z('10:00'), Z('11:00')]);
    expect(await view(id)).toMatchObject({
      bufferedFireAt: null,
      missed: [{ fireTime: Z('12:00'), reason: 'overlap' }],
    });
  });

  it('cancel_previous: the first is cancelled, the second runs', async () => {
    const { id, first } = await twoFires('cancel_previous');
    expect(await settle(id, 2)).toEqual([Z('10:00'), Z('11:00')]);
    expect((await http(t, 'GET', `/v1/jobs/${first.id}`)).json.state).toBe('cancelled');
    expect((await view(id)).activeJobs).toHaveLength(1);
  });
});

describe('DST in Europe/Berlin', () => {
  const berlin = (dst: Record<string, string>) => ({ cron: '30 2 * * *', timezone: 'Europe/Berlin', dst });

  it('spring-forward (02:30 does not exist on 2026-03-29): shift fires at 03:00, skip does not fire', async () => {
    setNow('2026-03-29T00:59:58.500Z');
    const shift = await schedule(berlin({ gap: 'shift' }));
    const skip = await schedule(berlin({ gap: 'skip' }));
    expect(await settle(shift, 1)).toEqual(['2026-03-29T01:00:00.000Z']); // 03:00 CEST
    expect(await fireTimes(skip)).toEqual([]);
    expect((await view(skip)).nextFireAt).toBe('2026-03-30T00:30:00.000Z'); // 02:30 CEST the next day
  });

  it('fall-back (02:30 happens twice on 2026-10-25): first fires once, both fires twice, hourly fires every real hour', async () => {
    setNow('2026-10-25T00:29:58.500Z');
    const first = await schedule(berlin({ ambiguous: 'first' }));
    const both = await schedule(berlin({ ambiguous: 'both' }));
    const hourly = await schedule({ cron: '0 * * * *', timezone: 'Europe/Berlin', dst: { ambiguous: 'first' } });
    expect((await view(hourly)).nextFireTimes.slice(0, 3)).toEqual([
      '2026-10-25T01:00:00.000Z', // 02:00 CET, an hour after 02:00 CEST (00:00Z, before the schedule existed)
      '2026-10-25T02:00:00.000Z',
      '2026-10-25T03:00:00.000Z',
    ]);
    await settle(first, 1);
    await settle(both, 1);
    setNow('2026-10-25T01:29:58.500Z'); // 02:30 CET, the second time
    expect(await settle(both, 2)).toEqual(['2026-10-25T00:30:00.000Z', '2026-10-25T01:30:00.000Z']);
    expect(await fireTimes(first)).toEqual(['2026-10-25T00:30:00.000Z']);
    expect((await view(first)).nextFireAt).toBe('2026-10-26T01:30:00.000Z');
  });
});

describe('pause and resume', () => {
  it('a paused schedule makes nothing; on resume the fire times of the pause are neither made nor missed', async () => {
    setNow('2026-06-01T09:59:58.500Z');
    const id = await schedule({ cron: '0 * * * *', catchup: { policy: 'all' } });
    await settle(id, 1);
    await http(t, 'POST', `/v1/schedules/${id}/pause`);
    setNow('2026-06-01T12:30:00.000Z');
    await new Promise((r) => setTimeout(r, 1_300));
    await http(t, 'POST', `/v1/schedules/${id}/resume`);
    await new Promise((r) => setTimeout(r, 1_300));
    expect(await fireTimes(id)).toEqual([Z('10:00')]);
    expect(await view(id)).toMatchObject({ missed: [], nextFireAt: Z('13:00') });
  });
});
