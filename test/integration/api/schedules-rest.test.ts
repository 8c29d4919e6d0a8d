import type { JobPage, SchedulePage, ScheduleView } from '@jr/contracts';
import { http, startTestApi, type HttpResult, type TestApi } from './harness';

// The schedules resource against a real jr-api, Postgres and Redis: create (idempotent by name and
// document), read by id or name, pause, resume, trigger, delete; hostile documents get a 400 naming the
// field, and nothing is stored for them; a pool-restricted token sees and makes only its pool's.

let t: TestApi;
beforeAll(async () => {
  t = await startTestApi({ JR_SECRETS_KEY: `k1:${Buffer.alloc(32, 7).toString('base64')}` });
});
afterAll(() => t?.cleanup());

const nightly = (over: Record<string, unknown> = {}) => ({
  name: 'nightly-patch',
  cron: '0 3 * * *',
  timezone: 'Europe/Berlin',
  job: { pool: 'web', steps: [{ run: 'apt-get upgrade -y' }] },
  ...over,
});

/** The names in a `GET /v1/schedules` answer. */
const namesOf = (r: HttpResult): string[] => (r.json as SchedulePage).items.map((s) => s.name);

async function create(doc: unknown, token?: string) {
  return http(t, 'POST', '/v1/schedules', { body: doc, ...(token ? { token } : {}) });
}

describe('schedules over REST', () => {
  it('creates once per name: the same document again is 200 with the same id, another one 409', async () => {
    const first = await create(nightly());
    expect(first.status).toBe(201);
    expect(first.json.id).toMatch(/^s_[0-9a-z]{20}$/);
    const again = await create(nightly());
    expect({ status: again.status, id: again.json.id }).toEqual({ status: 200, id: first.json.id });
    const other = await create(nightly({ cron: '0 4 * * *' }));
    expect(other.status).toBe(409);
    expect(other.json.detail).toMatch(/nightly-patch/);
  });

  it('shows a schedule by id or name with its next fire times in its zone', async () => {
    const { json } = await create(nightly({ name: 'show-me' }));
    const byId = await http(t, 'GET', `/v1/schedules/${json.id}`);
    const byName = await http(t, 'GET', '/v1/schedules/show-me');
    expect(byId.status).toBe(200);
    expect(byName.json).toEqual(byId.json);
    const v = byId.json as ScheduleView;
    expect(v).toMatchObject({
      name: 'show-me',
      cron: '0 3 * * *',
      rrule: null,
      timezone: 'Europe/Berlin',
      overlap: 'skip',
      catchup: { policy: 'latest', window: '1d' },
      paused: false,
      lastFireAt: null,
      missed: [],
      activeJobs: [],
    });
    expect(v.nextFireTimes).toHaveLength(5);
    expect(v.nextFireAt).toBe(v.nextFireTimes[0]);
    // 03:00 in Berlin is 01:00 or 02:00 UTC, a day apart each
    for (const at of v.nextFireTimes) expect(at).toMatch(/T0[12]:00:00\.000Z$/);
    const list = await http(t, 'GET', '/v1/schedules');
    expect(namesOf(list)).toContain('show-me');
  });

  it('refuses hostile documents with a 400 naming the field, and stores nothing', async () => {
    const cases: Array<[unknown, string]> = [
      [nightly({ name: 'bad-cron', cron: '61 * * * *' }), 'cron'],
      [nightly({ name: 'both', rrule: 'FREQ=DAILY' }), '(root)'],
      [{ name: 'neither', job: { steps: [{ run: 'true' }] } }, '(root)'],
      [nightly({ name: 'zone', timezone: 'Mars/Olympus' }), 'timezone'],
      [nightly({ name: 'nul\u0000name' }), 'name'],
      [nightly({ name: 'lone \ud800 surrogate' }), 'name'],
      [nightly({ name: 'bad-job', job: { steps: [] } }), 'job.steps'],
      [nightly({ name: 'unknown', color: 'red' }), 'color'],
      [nightly({ name: 'rrule', cron: undefined, rrule: 'FREQ=SECONDLY;INTERVAL=0' }), 'rrule'],
      [nightly({ name: 'policy', overlap: 'sometimes' }), 'overlap'],
      [nightly({ name: 'window', catchup: { policy: 'all', window: '90d' } }), 'catchup.window'],
      [[1, 2, 3], '(root)'],
    ];
    for (const [doc, path] of cases) {
      const r = await create(doc);
      expect({ path, status: r.status }).toEqual({ path, status: 400 });
      expect((r.json as { errors: Array<{ path: string }> }).errors.map((e) => e.path)).toContain(path);
    }
    const names = namesOf(await http(t, 'GET', '/v1/schedules'));
    expect(names).not.toContain('bad-cron');
    expect((await http(t, 'GET', '/v1/schedules/zone')).status).toBe(404);
  });

  it('pauses (no next fire), resumes, triggers a job now, and deletes (404 after, the name free again)', async () => {
    const { json } = await create(nightly({ name: 'lifecycle' }));
    const paused = await http(t, 'POST', `/v1/schedules/${json.id}/pause`);
    expect(paused.json).toMatchObject({ paused: true, nextFireAt: null, nextFireTimes: [] });
    const resumed = await http(t, 'POST', '/v1/schedules/lifecycle/resume');
    expect(resumed.json.paused).toBe(false);
    expect(resumed.json.nextFireAt).not.toBeNull();

    const fired = await http(t, 'POST', `/v1/schedules/${json.id}/trigger`);
    expect(fired.status).toBe(202);
    const job = await http(t, 'GET', `/v1/jobs/${fired.json.jobId}`);
    expect(job.json).toMatchObject({
      state: 'queued',
      pool: 'web',
      scheduleId: json.id,
      fireTime: fired.json.fireTime,
    });
    const jobs = await http(t, 'GET', `/v1/jobs?schedule=${json.id}`);
    expect((jobs.json as JobPage).items.map((j) => j.id)).toEqual([fired.json.jobId]);
    const shown = await http(t, 'GET', `/v1/schedules/${json.id}`);
    expect(shown.json).toMatchObject({ lastFireAt: fired.json.fireTime, activeJobs: [fired.json.jobId] });

    expect((await http(t, 'DELETE', `/v1/schedules/${json.id}`)).status).toBe(204);
    expect((await http(t, 'GET', `/v1/schedules/${json.id}`)).status).toBe(404);
    expect((await http(t, 'POST', `/v1/schedules/${json.id}/trigger`)).status).toBe(404);
    // the job it made keeps its schedule id; the name can be used again
    expect((await http(t, 'GET', `/v1/jobs/${fired.json.jobId}`)).json.scheduleId).toBe(json.id);
    expect((await create(nightly({ name: 'lifecycle' }))).status).toBe(201);
    expect((await http(t, 'GET', '/v1/jobs?schedule=nope')).status).toBe(400);
  });

  it("a schedule's secrets are write-only and each fired job gets them sealed to itself", async () => {
    const doc = nightly({ name: 'with-secret', job: { steps: [{ run: 'deploy' }], secrets: { TOKEN: 's3cret' } } });
    const { json } = await create(doc);
    const v = await http(t, 'GET', `/v1/schedules/${json.id}`);
    expect(v.text).not.toContain('s3cret');
    expect(v.json.job.secrets).toEqual(['TOKEN']);
    const fired = await http(t, 'POST', `/v1/schedules/${json.id}/trigger`);
    const job = await http(t, 'GET', `/v1/jobs/${fired.json.jobId}`);
    expect(job.json.spec.secrets).toEqual(['TOKEN']);
    expect(job.text).not.toContain('s3cret');
  });

  it('a pool-restricted token makes, sees and triggers only the schedules of its pool', async () => {
    const made = await http(t, 'POST', '/v1/tokens', {
      body: { scopes: ['schedules:admin', 'jobs:read'], pool: 'web' },
    });
    const token = made.json.token as string;
    const other = await create(nightly({ name: 'db-only', job: { pool: 'db', steps: [{ run: 'vacuum' }] } }));
    expect((await create(nightly({ name: 'db-2', job: { pool: 'db', steps: [{ run: 'x' }] } }), token)).status).toBe(
      403,
    );
    expect((await create(nightly({ name: 'web-2' }), token)).status).toBe(201);
    expect((await http(t, 'GET', `/v1/schedules/${other.json.id}`, { token })).status).toBe(404);
    expect((await http(t, 'POST', `/v1/schedules/${other.json.id}/trigger`, { token })).status).toBe(404);
    const names = namesOf(await http(t, 'GET', '/v1/schedules', { token }));
    expect(names).toContain('web-2');
    expect(names).not.toContain('db-only');
  });
});
