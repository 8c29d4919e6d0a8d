import { Client } from 'pg';
import { SCOPES, type Scope } from '@jr/contracts';
import { waitFor } from '@jr/testing';
import type { Pool } from 'pg';
import { PG_POOL } from '../../../apps/api/src/database/database.module';
import { QUEUE_FACTORY } from '../../../apps/api/src/queue/queue.module';
import type { QueueFactory } from '../../../apps/api/src/queue/queue-factory';
import { MetricsCollectors } from '../../../apps/api/src/telemetry/metrics-collectors.service';
import { MetricsRepository } from '../../../apps/api/src/telemetry/metrics.repository';
import { http, setDatabaseConnections, startTestApi, type HttpResult, type TestApi } from './harness';

// Scoped, expiring API tokens against a real API (Postgres, Redis, journal): 403 problem documents per
// scope over every route, pool restriction, expiry, revocation, hashing at rest, /metrics scope and
// its cached gauges, and the audit trail.

let t: TestApi;

beforeAll(async () => {
  // the background refresh of the Postgres-fed gauges never fires by itself here: the test drives it
  t = await startTestApi({ JR_METRICS_REFRESH_INTERVAL: '10m' });
});
afterAll(() => t.cleanup());

interface Made {
  id: string;
  token: string;
  scopes: Scope[];
  pool: string | null;
  expiresAt: string;
}

async function makeToken(scopes: readonly Scope[], extra: Record<string, unknown> = {}, by?: string): Promise<Made> {
  const r = await http(t, 'POST', '/v1/tokens', { body: { scopes, ...extra }, ...(by ? { token: by } : {}) });
  if (r.status !== 201) throw new Error(`token create: ${r.status} ${r.text}`);
  return r.json as Made;
}

async function query<T extends object>(sql: string, args: unknown[] = []): Promise<T[]> {
  const c = new Client({ connectionString: t.db.url });
  await c.connect();
  try {
    return (await c.query<T>(sql, args)).rows;
  } finally {
    await c.end();
  }
}

const JOB = 'j_0000000000aaaaaaaaaaaaaaaa';
const AGENT = 'a_aaaaaaaaaaaaaaaaaaaa';
const TOKEN = 't_aaaaaaaaaaaaaaaaaaaa';
const AGENT2 = 'a_bbbbbbbbbbbbbbbbbbbb';
const SCHEDULE = 's_aaaaaaaaaaaaaaaaaaaa';

/** Every guarded route, the scope it needs, and a request that reaches it. */
const ROUTES: Array<{ method: string; url: string; scope: Scope; body?: unknown }> = [
  { method: 'POST', url: '/v1/jobs', scope: 'jobs:submit', body: { steps: [{ run: 'true' }] } },
  { method: 'GET', url: '/v1/jobs', scope: 'jobs:read' },
  { method: 'GET', url: `/v1/jobs/${JOB}`, scope: 'jobs:read' },
  { method: 'GET', url: `/v1/jobs/${JOB}/logs`, scope: 'jobs:read' },
  { method: 'POST', url: `/v1/jobs/${JOB}/cancel`, scope: 'jobs:cancel' },
  { method: 'GET', url: '/v1/agents', scope: 'agents:read' },
  { method: 'POST', url: '/v1/agents/reporting/enable', scope: 'agents:admin' },
  { method: 'POST', url: `/v1/agents/${AGENT}/reporting/enable`, scope: 'agents:admin' },
  { method: 'POST', url: `/v1/agents/${AGENT}/drain`, scope: 'agents:admin' },
  { method: 'POST', url: `/v1/agents/${AGENT}/undrain`, scope: 'agents:admin' },
  { method: 'DELETE', url: `/v1/agents/${AGENT}`, scope: 'agents:admin' },
  { method: 'POST', url: `/v1/agents/${AGENT}/revoke`, scope: 'agents:admin' },
  { method: 'POST', url: '/v1/enroll-tokens', scope: 'agents:admin', body: { pool: 'web', uses: 1, ttl: '1h' } },
  { method: 'GET', url: '/v1/enroll-tokens', scope: 'agents:admin' },
  { method: 'POST', url: '/v1/enroll-tokens/et_00000000000000000000/revoke', scope: 'agents:admin' },
  { method: 'GET', url: '/v1/audit', scope: 'agents:admin' },
  { method: 'POST', url: '/v1/tokens', scope: 'tokens:admin', body: { scopes: ['tokens:admin'] } },
  { method: 'GET', url: '/v1/tokens', scope: 'tokens:admin' },
  { method: 'POST', url: `/v1/tokens/${TOKEN}/revoke`, scope: 'tokens:admin' },
  { method: 'GET', url: '/metrics', scope: 'metrics:read' },
  { method: 'POST', url: '/v1/schedules', scope: 'schedules:admin', body: { name: 'x', cron: '0 0 * * *' } },
  { method: 'GET', url: '/v1/schedules', scope: 'jobs:read' },
  { method: 'GET', url: `/v1/schedules/${SCHEDULE}`, scope: 'jobs:read' },
  { method: 'POST', url: `/v1/schedules/${SCHEDULE}/pause`, scope: 'schedules:admin' },
  { method: 'POST', url: `/v1/schedules/${SCHEDULE}/resume`, scope: 'schedules:admin' },
  { method: 'POST', url: `/v1/schedules/${SCHEDULE}/trigger`, scope: 'schedules:admin' },
  { method: 'DELETE', url: `/v1/schedules/${SCHEDULE}`, scope: 'schedules:admin' },
];

describe('scopes on every route', () => {
  it.each(ROUTES)('$method $url: 403 naming $scope without it, served with only it', async (route) => {
    const without = await makeToken(SCOPES.filter((s) => s !== route.scope));
    const refused = await http(t, route.method, route.url, { token: without.token, body: route.body });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(refused.json).toMatchObject({
      type: 'https://jobrunner.dev/problems/forbidden',
      title: 'Forbidden',
      status: 403,
      missingScope: route.scope,
      detail: `the token lacks the scope ${route.scope}`,
    });
    const only = await makeToken([route.scope]);
    const served = await http(t, route.method, route.url, { token: only.token, body: route.body });
    expect([401, 403]).not.toContain(served.status);
    // the bootstrap admin token holds every scope
    const admin = await http(t, route.method, route.url, { body: route.body });
    expect([401, 403]).not.toContain(admin.status);
  });

  it('401 for no token, a malformed one, an unknown id, and a known id with the wrong secret', async () => {
    const real = await makeToken(['jobs:read']);
    const wrongSecret = `${real.token.slice(0, -1)}${real.token.endsWith('A') ? 'B' : 'A'}`;
    for (const token of [null, 'jrt_', `jrt_${TOKEN}_${'x'.repeat(43)}`, wrongSecret, `${real.token}x`]) {
      const r = await http(t, 'GET', '/v1/jobs', { token });
      expect({ token, status: r.status }).toEqual({ token, status: 401 });
      expect(r.json.type).toBe('https://jobrunner.dev/problems/unauthenticated');
    }
  });

  it('/healthz and /readyz stay open; /metrics needs metrics:read (401 without a token)', async () => {
    expect((await http(t, 'GET', '/healthz', { token: null })).status).toBe(200);
    expect((await http(t, 'GET', '/readyz', { token: null })).status).toBe(200);
    expect((await http(t, 'GET', '/metrics', { token: null })).status).toBe(401);
    const reader = await makeToken(['metrics:read']);
    const r = await http(t, 'GET', '/metrics', { token: reader.token });
    expect(r.status).toBe(200);
    expect(r.text).toContain('jr_build_info');
  });
});

describe('creating, listing, revoking', () => {
  it('answers 201 {id, token, scopes, pool, expiresAt} once; lists without the secret; stores only its hash', async () => {
    const before = Date.now();
    const r = await http(t, 'POST', '/v1/tokens', {
      body: { scopes: ['jobs:submit', 'jobs:read'], pool: 'web', ttl: '30d', name: 'ci deploy' },
    });
    expect(r.status).toBe(201);
    const made = r.json as Made;
    expect(made).toMatchObject({ scopes: ['jobs:submit', 'jobs:read'], pool: 'web' });
    expect(made.token).toMatch(new RegExp(`^jrt_${made.id}_[A-Za-z0-9_-]{43}$`));
    const expires = Date.parse(made.expiresAt);
    expect(expires).toBeGreaterThanOrEqual(before + 30 * 86_400_000 - 1_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 30 * 86_400_000 + 1_000);
    const secret = made.token.slice(`jrt_${made.id}_`.length);

    expect((await http(t, 'GET', '/v1/jobs', { token: made.token })).status).toBe(200);
    const list = await http(t, 'GET', '/v1/tokens');
    expect(list.text).not.toContain(secret);
    const listed = (list.json.items as Array<Record<string, unknown>>).find((i) => i.id === made.id);
    expect(listed).toMatchObject({ name: 'ci deploy', pool: 'web', state: 'active', createdBy: 'admin' });
    await waitFor(async () => {
      const again = await http(t, 'GET', '/v1/tokens');
      const row = (again.json.items as Array<Record<string, unknown>>).find((i) => i.id === made.id);
      return typeof row?.lastUsedAt === 'string' && /127\.0\.0\.1$/.test(String(row.lastUsedAddress));
    });

    // no row of any table holds the secret or the whole token
    const tables = await query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = 'public'");
    expect(tables.map((x) => x.tablename)).toEqual(expect.arrayContaining(['api_tokens', 'audit_log']));
    for (const { tablename } of tables) {
      const hits = await query(`SELECT 1 FROM "${tablename}" x WHERE x::text LIKE '%' || $1 || '%'`, [secret]);
      expect({ tablename, hits: hits.length }).toEqual({ tablename, hits: 0 });
    }
  });

  it.each([
    [{ scopes: [] }, 'scopes'],
    [{ scopes: ['jobs:read', 'jobs:read'] }, 'scopes'],
    [{ scopes: ['root'] }, 'scopes.0'],
    [{ scopes: ['jobs:read'], ttl: '0s' }, 'ttl'],
    [{ scopes: ['jobs:read'], ttl: '400d' }, 'ttl'],
    [{ scopes: ['jobs:read'], pool: 'Web!' }, 'pool'],
    [{ scopes: ['jobs:read'], name: 'a\u0000b' }, 'name'],
    [{ scopes: ['jobs:read'], admin: true }, '(body)'],
  ])('refuses %j with a 400 naming %s', async (body, path) => {
    const r = await http(t, 'POST', '/v1/tokens', { body });
    expect(r.status).toBe(400);
    expect(r.json.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path })]));
  });

  it('a token can grant only what it holds: no wider scopes, no wider pool', async () => {
    const tokenAdmin = await makeToken(['tokens:admin', 'jobs:read']);
    const wider = await http(t, 'POST', '/v1/tokens', {
      token: tokenAdmin.token,
      body: { scopes: ['jobs:read', 'jobs:submit'] },
    });
    expect(wider.status).toBe(403);
    expect(wider.json.missingScope).toBe('jobs:submit');
    expect((await makeToken(['jobs:read'], {}, tokenAdmin.token)).scopes).toEqual(['jobs:read']);

    const poolAdmin = await makeToken(['tokens:admin', 'jobs:read'], { pool: 'web' });
    for (const pool of [undefined, 'db']) {
      const r = await http(t, 'POST', '/v1/tokens', {
        token: poolAdmin.token,
        body: { scopes: ['jobs:read'], ...(pool ? { pool } : {}) },
      });
      expect(r.status).toBe(403);
    }
    expect((await makeToken(['jobs:read'], { pool: 'web' }, poolAdmin.token)).pool).toBe('web');
  });

  it('revocation bites at the next request, even one the cache has just seen', async () => {
    const made = await makeToken(['jobs:read']);
    expect((await http(t, 'GET', '/v1/jobs', { token: made.token })).status).toBe(200);
    const revoked = await http(t, 'POST', `/v1/tokens/${made.id}/revoke`);
    expect(revoked.status).toBe(200);
    expect(revoked.json).toMatchObject({ id: made.id, state: 'revoked' });
    const r = await http(t, 'GET', '/v1/jobs', { token: made.token });
    expect(r.status).toBe(401);
    expect(r.json.detail).toBe(`token ${made.id} was revoked`);
    expect((await http(t, 'POST', `/v1/tokens/${TOKEN}/revoke`)).status).toBe(404);
  });

  it('a revocation written by another replica (straight into Postgres) bites within the cache lifetime', async () => {
    const made = await makeToken(['jobs:read']);
    expect((await http(t, 'GET', '/v1/jobs', { token: made.token })).status).toBe(200);
    await query('UPDATE api_tokens SET revoked_at = now() WHERE id = $1', [made.id]);
    await waitFor(async () => (await http(t, 'GET', '/v1/jobs', { token: made.token })).status === 401, {
      timeoutMs: 3_000,
      what: 'the revoked token refused',
    });
  });

  it('an expired token is refused with 401 and listed as expired', async () => {
    const made = await makeToken(['jobs:read'], { ttl: '1h' });
    expect((await http(t, 'GET', '/v1/jobs', { token: made.token })).status).toBe(200);
    t.clock.advance(3_600_000);
    try {
      const r = await http(t, 'GET', '/v1/jobs', { token: made.token });
      expect(r.status).toBe(401);
      expect(r.json.detail).toBe(`token ${made.id} has expired`);
      const listed = (await http(t, 'GET', '/v1/tokens')).json.items as Array<{ id: string; state: string }>;
      expect(listed.find((i) => i.id === made.id)?.state).toBe('expired');
    } finally {
      t.clock.advance(-3_600_000);
    }
  });
});

describe('a pool-restricted token', () => {
  let web: Made;
  let otherJob: string;

  beforeAll(async () => {
    web = await makeToken(['jobs:submit', 'jobs:read', 'jobs:cancel'], { pool: 'web' });
    const other = await http(t, 'POST', '/v1/jobs', { body: { pool: 'db', steps: [{ run: 'true' }] } });
    otherJob = other.json.id as string;
  });

  it('submits to its pool only (403 otherwise, the default pool included)', async () => {
    expect(
      (await http(t, 'POST', '/v1/jobs', { token: web.token, body: { pool: 'web', steps: [{ run: 'true' }] } })).status,
    ).toBe(202);
    for (const body of [{ pool: 'db', steps: [{ run: 'true' }] }, { steps: [{ run: 'true' }] }]) {
      const r = await http(t, 'POST', '/v1/jobs', { token: web.token, body });
      expect(r.status).toBe(403);
      expect(r.json.detail).toContain('pool web only');
    }
  });

  it("sees other pools' jobs as missing (404 on read, logs and cancel) and lists its own pool only", async () => {
    const own = (
      await http(t, 'POST', '/v1/jobs', { token: web.token, body: { pool: 'web', steps: [{ run: 'true' }] } })
    ).json.id as string;
    expect((await http(t, 'GET', `/v1/jobs/${own}`, { token: web.token })).status).toBe(200);
    for (const [method, url] of [
      ['GET', `/v1/jobs/${otherJob}`],
      ['GET', `/v1/jobs/${otherJob}/logs`],
      ['POST', `/v1/jobs/${otherJob}/cancel`],
    ] as const) {
      const r = await http(t, method, url, { token: web.token });
      expect({ url, status: r.status }).toEqual({ url, status: 404 });
    }
    const page = await http(t, 'GET', '/v1/jobs?limit=500', { token: web.token });
    const pools = new Set((page.json.items as Array<{ pool: string }>).map((j) => j.pool));
    expect([...pools]).toEqual(['web']);
    expect((await http(t, 'GET', '/v1/jobs?pool=db', { token: web.token })).status).toBe(403);
    // the cancel of the other pool's job did nothing
    expect((await http(t, 'GET', `/v1/jobs/${otherJob}`)).json.state).toBe('queued');
    expect((await http(t, 'POST', `/v1/jobs/${own}/cancel`, { token: web.token })).status).toBe(202);
  });
});

describe('/metrics reads cached gauges', () => {
  it('N scrapes run no Postgres or Redis query; a background refresh updates the gauges', async () => {
    const repo = t.api.app.get(MetricsRepository);
    const pool = t.api.app.get<Pool>(PG_POOL);
    const queues = t.api.app.get<QueueFactory>(QUEUE_FACTORY);
    // the readiness probes (Postgres SELECT 1, Redis PING) that fill jr_dependency_* are counted too
    let probes = 0;
    const poolQuery = pool.query.bind(pool) as (...args: unknown[]) => unknown;
    const ping = queues.ping.bind(queues);
    (pool as { query: unknown }).query = (...args: unknown[]) => {
      if (args[0] === 'SELECT 1') probes++;
      return poolQuery(...args);
    };
    queues.ping = () => {
      probes++;
      return ping();
    };
    let reads = 0;
    const queuesRead = repo.queues.bind(repo);
    const fleet = repo.fleet.bind(repo);
    repo.queues = (now) => {
      reads++;
      return queuesRead(now);
    };
    repo.fleet = () => {
      reads++;
      return fleet();
    };
    try {
      for (let i = 0; i < 50; i++) expect((await http(t, 'GET', '/metrics')).status).toBe(200);
      expect({ reads, probes }).toEqual({ reads: 0, probes: 0 });

      await http(t, 'POST', '/v1/jobs', { body: { pool: 'gauge', steps: [{ run: 'true' }] } });
      await waitFor(async () => (await query('SELECT 1 FROM jobs WHERE pool = $1', ['gauge'])).length === 1);
      await t.api.app.get(MetricsCollectors).refresh();
      expect(reads).toBe(2);
      const text = (await http(t, 'GET', '/metrics')).text;
      expect(text).toMatch(/^jr_queue_depth\{pool="gauge"\} 1$/m);
      expect(reads).toBe(2);
    } finally {
      repo.queues = queuesRead;
      repo.fleet = fleet;
      (pool as { query: unknown }).query = poolQuery;
      queues.ping = ping;
    }
  });
});

describe('audit log', () => {
  const audit = async (q: string): Promise<Array<Record<string, unknown>>> => {
    const r: HttpResult = await http(t, 'GET', `/v1/audit?${q}`);
    expect(r.status).toBe(200);
    return r.json.items as Array<Record<string, unknown>>;
  };

  it('records token changes, cancels, drains and refusals with actor, target, address and outcome', async () => {
    const made = await makeToken(['jobs:submit', 'jobs:cancel'], { name: 'operator' });
    const job = (await http(t, 'POST', '/v1/jobs', { token: made.token, body: { steps: [{ run: 'sleep 60' }] } })).json
      .id as string;
    await waitFor(async () => (await audit(`action=jobs.submit&target=${job}`)).length === 1);
    expect((await http(t, 'POST', `/v1/jobs/${job}/cancel`, { token: made.token })).status).toBe(202);
    expect((await http(t, 'POST', `/v1/agents/${AGENT2}/drain`, { token: made.token })).status).toBe(403);
    expect((await http(t, 'POST', `/v1/agents/${AGENT2}/drain`)).status).toBe(404);
    expect((await http(t, 'POST', `/v1/tokens/${made.id}/revoke`)).status).toBe(200);

    const mine = await audit(`actor=${made.id}`);
    expect(mine.map((e) => [e.action, e.target, e.outcome])).toEqual([
      ['agents.drain', AGENT2, 'forbidden'],
      ['jobs.cancel', job, 'ok'],
      ['jobs.submit', job, 'accepted'],
    ]);
    for (const e of mine)
      expect(e).toMatchObject({ actorName: 'operator', address: expect.stringMatching(/127\.0\.0\.1$/) });
    expect((await audit(`target=${made.id}`)).map((e) => [e.actor, e.action, e.outcome])).toEqual([
      ['admin', 'tokens.revoke', 'ok'],
      ['admin', 'tokens.create', 'ok'],
    ]);
    expect((await audit(`target=${AGENT2}&actor=admin`)).map((e) => [e.action, e.outcome])).toEqual([
      ['agents.drain', 'not_found'],
    ]);
  });

  it('pages newest first with a cursor, filters by since, and refuses bad filters', async () => {
    const all = await audit('limit=500');
    expect(all.length).toBeGreaterThan(4);
    const seqs = all.map((e) => Number(e.seq));
    expect([...seqs].sort((a, b) => b - a)).toEqual(seqs);
    const first = await http(t, 'GET', '/v1/audit?limit=2');
    const second = await http(t, 'GET', `/v1/audit?limit=2&cursor=${first.json.nextCursor}`);
    expect([...first.json.items, ...second.json.items].map((e: { seq: string }) => e.seq)).toEqual(
      all.slice(0, 4).map((e) => e.seq),
    );
    expect(await audit('since=2999-01-01T00:00:00Z')).toEqual([]);
    expect((await audit('since=1h')).length).toBe(Math.min(all.length, 50));
    for (const q of ['limit=0', 'cursor=abc', 'since=yesterday', 'action=%00'])
      expect({ q, status: (await http(t, 'GET', `/v1/audit?${q}`)).status }).toEqual({ q, status: 400 });
  });

  it('every acknowledged submission has exactly one audit row, also when Postgres was down at the time', async () => {
    const made = await makeToken(['jobs:submit'], { name: 'burst' });
    // with Postgres down an API token cannot be looked up (503): the bootstrap token submits then
    let token: string | undefined = made.token;
    const send = (i: number, key?: string) =>
      http(t, 'POST', '/v1/jobs', {
        ...(token ? { token } : {}),
        body: { pool: 'burst', steps: [{ run: `echo ${key ?? i}` }] },
        ...(key ? { headers: { 'idempotency-key': key } } : {}),
      });
    const answers = await Promise.all([
      ...Array.from({ length: 40 }, (_, i) => send(i)),
      ...Array.from({ length: 10 }, () => send(0, 'same-key')),
    ]);
    await setDatabaseConnections(t, false);
    token = undefined;
    let offline: HttpResult[];
    try {
      offline = await Promise.all(Array.from({ length: 10 }, (_, i) => send(100 + i)));
    } finally {
      await setDatabaseConnections(t, true);
    }
    const acked = [...answers, ...offline];
    for (const a of acked) expect([200, 202]).toContain(a.status);
    const ids = new Set(acked.map((a) => a.json.id as string));
    expect(ids.size).toBe(51);
    await waitFor(
      async () => (await query<{ n: number }>("SELECT count(*)::int AS n FROM jobs WHERE pool = 'burst'"))[0]?.n === 51,
      { timeoutMs: 30_000, what: 'every acknowledged job applied' },
    );
    const rows = await query<{ target: string; actor: string; n: number }>(
      "SELECT target, actor, count(*)::int AS n FROM audit_log WHERE action = 'jobs.submit' AND target = ANY($1) GROUP BY target, actor",
      [[...ids]],
    );
    expect(new Set(rows.map((r) => r.target))).toEqual(ids);
    expect(rows.every((r) => r.n === 1)).toBe(true);
    const offlineIds = new Set(offline.map((a) => a.json.id as string));
    for (const r of rows) expect(r.actor).toBe(offlineIds.has(r.target) ? 'admin' : made.id);

    // a restart replays nothing twice
    await t.restart();
    const after = await query<{ n: number }>(
      "SELECT count(*)::int AS n FROM audit_log WHERE action = 'jobs.submit' AND target = ANY($1)",
      [[...ids]],
    );
    expect(after[0]?.n).toBe(51);
  });
});
