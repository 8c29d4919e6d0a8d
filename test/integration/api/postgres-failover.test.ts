import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import {
  promotePrivatePostgres,
  startPrivatePostgres,
  startPrivateStandby,
  waitFor,
  type PrivateService,
} from '@jr/testing';
import { http, startTestApi, type TestApi } from './harness';

// A real streaming standby (pg_basebackup -R) behind a multi-host DATABASE_URL that lists it FIRST: the
// API must find the writable primary, keep accepting while the primary dies, and once the standby is
// promoted apply every acknowledged submission to it. Replication is synchronous here (the RPO-0 set-up
// the README recommends); with asynchronous replication the primary's last commits can be lost with it.
jest.setTimeout(180_000);

const job = (i: number): unknown => ({ name: `failover-${i}`, pool: 'nobody-serves-this', steps: [{ run: ['true'] }] });

async function sql<T extends object>(url: string, text: string): Promise<T[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(text)).rows;
  } finally {
    await c.end();
  }
}

describe('Postgres failover behind a multi-host DATABASE_URL', () => {
  let base: string;
  let primary: PrivateService;
  let standby: PrivateService;
  let t: TestApi;

  beforeAll(async () => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'jr-pgfo-'));
    primary = await startPrivatePostgres(base);
    standby = await startPrivateStandby(base, primary);
    await sql(primary.url, `ALTER SYSTEM SET synchronous_standby_names = '*'`);
    await sql(primary.url, 'SELECT pg_reload_conf()');
    t = await startTestApi({}, primary.url, {
      // the standby first: libpq's order, and the wrong host to write to
      databaseUrl: (url) =>
        url.replace(`127.0.0.1:${primary.port}`, `127.0.0.1:${standby.port},127.0.0.1:${primary.port}`),
    });
  });

  afterAll(async () => {
    await t?.api.stop().catch(() => undefined);
    await standby?.stop().catch(() => undefined);
    await primary?.stop().catch(() => undefined);
    fs.rmSync(base, { recursive: true, force: true });
  });

  it('writes to the primary though the standby is listed first, and loses no acknowledged job across a promotion', async () => {
    expect(t.config.databaseEndpoints.map((e) => e.port)).toEqual([standby.port, primary.port]);
    const accepted: string[] = [];
    const submit = async (i: number): Promise<void> => {
      const r = await http(t, 'POST', '/v1/jobs', { body: job(i) });
      if (r.status === 202) accepted.push(r.json.id as string);
      else expect([503]).toContain(r.status); // refusing is allowed, losing is not
    };
    for (let i = 0; i < 20; i++) await submit(i);
    expect(accepted).toHaveLength(20);
    const visible = async (): Promise<number> => {
      let n = 0;
      for (const id of accepted) if ((await http(t, 'GET', `/v1/jobs/${id}`)).status === 200) n += 1;
      return n;
    };
    await waitFor(async () => (await visible()) === accepted.length, { what: 'the first 20 jobs in Postgres' });

    // under load: the primary dies, the standby is promoted a moment later, submissions go on throughout
    let stop = false;
    let i = 20;
    const load = (async () => {
      while (!stop) {
        await submit(i++).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await waitFor(async () => accepted.length >= 40, { what: 'load before the failover' });
    await primary.kill();
    const beforePromotion = accepted.length;
    await waitFor(async () => accepted.length >= beforePromotion + 20, { what: 'jobs accepted with no primary' });
    promotePrivatePostgres(standby);
    const afterPromotion = accepted.length;
    await waitFor(async () => accepted.length >= afterPromotion + 20, { what: 'jobs accepted after the promotion' });
    stop = true;
    await load;

    // in Postgres, not just answered from the journal's index of records not yet applied
    const stored = async (): Promise<number> => {
      const rows = await sql<{ n: string }>(
        standby.url.replace(/\/postgres$/, `/${t.db.name}`),
        `SELECT count(*) AS n FROM jobs WHERE id = ANY('{${accepted.join(',')}}'::text[])`,
      );
      return Number(rows[0]?.n);
    };
    await waitFor(async () => (await stored()) === accepted.length, {
      what: `all ${accepted.length} acknowledged jobs in the promoted standby`,
      timeoutMs: 90_000,
      intervalMs: 1_000,
    });
    expect(await visible()).toBe(accepted.length);
  });
});
