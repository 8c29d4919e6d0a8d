/* eslint-disable @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- HTTP answers' JSON bodies are untyped in these tests */
import { status } from '@grpc/grpc-js';
import { Client } from 'pg';
import { waitFor } from '@jr/testing';
import { DispatchService } from '../../../apps/api/src/dispatch/dispatch.service';
import { PoolQueueRepository } from '../../../apps/api/src/dispatch/pool-queue.repository';
import { AgentClient, ENROLL, http, startTestApi, type TestApi } from './harness';

let t: TestApi;
let pg: Client;
const clients: AgentClient[] = [];

function agent(): AgentClient {
  const c = new AgentClient(t.grpcAddress);
  clients.push(c);
  return c;
}

interface LeaseAnswer {
  assignments: Array<{ jobId: string; attempt: number; leaseToken: string }>;
}

const lease = (c: AgentClient, waitMs = 5_000, signal?: AbortSignal) =>
  c.call<LeaseAnswer>('Lease', { freeSlots: 1, waitMs }, { deadlineMs: waitMs + 5_000, signal });

async function submit(pool: string, labels: Record<string, string> = {}): Promise<string> {
  const r = await http(t, 'POST', '/v1/jobs', { body: { pool, labels, steps: [{ run: 'true' }] } });
  expect(r.status).toBe(202);
  return r.json.id as string;
}

async function createToken(body: object): Promise<{ id: string; token: string }> {
  const r = await http(t, 'POST', '/v1/enroll-tokens', { body });
  expect(r.status).toBe(201);
  return r.json as { id: string; token: string };
}

async function agentsIn(pool: string): Promise<Array<{ id: string; labels: Record<string, string> }>> {
  const items = (await http(t, 'GET', '/v1/agents')).json.items as Array<{
    id: string;
    pool: string;
    labels: Record<string, string>;
  }>;
  return items.filter((a) => a.pool === pool);
}

async function jobWhen(
  id: string,
  ready: (v: { state: string; attempts: Array<{ agentId: string; state: string }> }) => boolean,
) {
  return waitFor(
    async () => {
      const v = (await http(t, 'GET', `/v1/jobs/${id}`)).json;
      return ready(v) ? v : undefined;
    },
    { what: `job ${id} to reach the expected view` },
  );
}

type AttemptKey = { jobId: string; attempt: number; leaseToken: string };
const ref = (a: AttemptKey): AttemptKey => ({ jobId: a.jobId, attempt: a.attempt, leaseToken: a.leaseToken });
const complete = (c: AgentClient, a: AttemptKey) =>
  c.call<{ jobState: string }>('Complete', { ...ref(a), outcome: 'OUTCOME_SUCCEEDED', exitCode: 0, lastSeq: 0 });

/** jr_agents_refused_total{reason} as /metrics shows it now. */
async function refusals(reason: string, api: TestApi = t): Promise<number> {
  const text = (await http(api, 'GET', '/metrics')).text;
  const m = new RegExp(`^jr_agents_refused_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(text);
  return Number(m?.[1] ?? 0);
}

beforeAll(async () => {
  // leases last 3 intervals: long enough that only revocation (never silence) ends them in these tests
  t = await startTestApi({ JR_HEARTBEAT_INTERVAL: '10s' });
  pg = new Client({ connectionString: t.db.url });
  await pg.connect();
});

afterAll(async () => {
  for (const c of clients) c.close();
  await pg?.end();
  await t?.cleanup();
});

describe('operator enroll tokens', () => {
  it('are shown once and stored hashed; list shows them without the token; hostile input is a 400', async () => {
    const made = await createToken({ pool: 'web', labels: { os: 'linux' }, uses: 10, ttl: '1h', name: 'web fleet' });
    expect(made).toMatchObject({
      id: expect.stringMatching(/^et_[0-9a-z]{20}$/),
      token: expect.stringMatching(/^jre_[A-Za-z0-9_-]{43}$/),
      pool: 'web',
      labels: { os: 'linux' },
      uses: 10,
      used: 0,
      state: 'active',
    });
    const rows = await pg.query<{ token_hash: string }>('SELECT token_hash FROM enroll_tokens WHERE id = $1', [
      made.id,
    ]);
    expect(rows.rows[0]?.token_hash).toMatch(/^[0-9a-f]{64}$/);
    const everything = JSON.stringify((await pg.query('SELECT * FROM enroll_tokens')).rows);
    expect(everything).not.toContain(made.token);
    const list = await http(t, 'GET', '/v1/enroll-tokens');
    expect(list.status).toBe(200);
    expect(list.text).not.toContain(made.token);
    expect(list.json.items).toContainEqual(expect.objectContaining({ id: made.id, name: 'web fleet', agents: 0 }));

    for (const bad of [
      { pool: 'web', uses: 1, ttl: '1h', extra: true },
      { pool: 'Web!', uses: 1, ttl: '1h' },
      { pool: 'web', uses: 0, ttl: '1h' },
      { pool: 'web', uses: 1.5, ttl: '1h' },
      { pool: 'web', uses: 1, ttl: '1s' },
      { pool: 'web', uses: 1, ttl: 'forever' },
      { pool: 'web', uses: 1, ttl: '1h', labels: { os: 'a\u0000b' } },
      { pool: 'web', uses: 1, ttl: '1h', name: '\ud800' },
      { pool: 'web', uses: 1 },
    ])
      expect((await http(t, 'POST', '/v1/enroll-tokens', { body: bad })).status).toBe(400);
    expect(
      (await http(t, 'POST', '/v1/enroll-tokens', { token: 'wrong', body: { pool: 'web', uses: 1, ttl: '1h' } }))
        .status,
    ).toBe(401);
    expect((await http(t, 'GET', '/v1/enroll-tokens', { token: null })).status).toBe(401);
    expect((await http(t, 'POST', '/v1/enroll-tokens/et_00000000000000000000/revoke')).status).toBe(404);
    expect((await http(t, 'POST', `/v1/enroll-tokens/${'x'.repeat(5_000)}/revoke`)).status).toBe(404);
  });

  it('fix the pool and labels: an agent may narrow the labels, never widen them or change the pool', async () => {
    const p1 = await createToken({ pool: 'p1', labels: { os: 'linux', zone: 'a' }, uses: 10, ttl: '1h' });
    const p2 = await createToken({ pool: 'p2', labels: { os: 'linux' }, uses: 10, ttl: '1h' });
    const rogue = agent();
    const refused: Array<{ pool: string; labels?: Record<string, string> }> = [
      { pool: 'p1' },
      { pool: 'p1', labels: { os: 'linux' } },
      { pool: 'p2', labels: { os: 'linux', gpu: 'yes' } },
      { pool: 'p2', labels: { os: 'windows' } },
    ];
    for (const req of refused)
      await expect(rogue.enroll(req, p2.token)).rejects.toMatchObject({
        code: status.PERMISSION_DENIED,
        details: expect.stringContaining(p2.id),
      });
    expect(await agentsIn('p1')).toEqual([]);
    expect([await refusals('pool_not_allowed'), await refusals('labels_not_allowed')]).toEqual([2, 2]);
    expect((await pg.query('SELECT used FROM enroll_tokens WHERE id = $1', [p2.id])).rows[0]).toEqual({ used: 0 });

    const narrow = agent();
    const id = await narrow.enroll({ pool: 'p1', labels: { os: 'linux' } }, p1.token);
    const none = agent();
    await none.enroll({ pool: 'p1' }, p1.token);
    expect(await agentsIn('p1')).toContainEqual(expect.objectContaining({ id, labels: { os: 'linux' } }));
    // the job needing zone=a goes to neither (they declared fewer labels), one needing os=linux to the first
    await submit('p1', { zone: 'a' });
    const jobId = await submit('p1', { os: 'linux' });
    expect((await lease(narrow)).assignments[0]?.jobId).toBe(jobId);
    expect((await lease(none, 300)).assignments).toEqual([]);
  });

  it('admit at most `uses` new agents; a proven re-enrolment uses none', async () => {
    const tok = await createToken({ pool: 'few', uses: 2, ttl: '1h' });
    const a = agent();
    const aId = await a.enroll({ pool: 'few' }, tok.token);
    await agent().enroll({ pool: 'few' }, tok.token);
    await expect(agent().enroll({ pool: 'few' }, tok.token)).rejects.toMatchObject({
      code: status.PERMISSION_DENIED,
      details: expect.stringContaining('used up'),
    });
    const again = await a.call<{ agentId: string }>(
      'Enroll',
      { name: a.name, pool: 'few', slots: 1, previousAgentId: aId, previousCredential: a.credential },
      { token: tok.token },
    );
    expect(again.agentId).toBe(aId);
    expect(await agentsIn('few')).toHaveLength(2);
    const listed = (await http(t, 'GET', '/v1/enroll-tokens')).json.items.find((x: { id: string }) => x.id === tok.id);
    expect(listed).toMatchObject({ used: 2, uses: 2, agents: 2, state: 'used_up' });
  });

  it('an expired or revoked token is refused; agents enrolled with a revoked token keep working', async () => {
    const short = await createToken({ pool: 'short', uses: 5, ttl: '1m' });
    const revoked = await createToken({ pool: 'short', uses: 5, ttl: '1h' });
    const early = agent();
    await early.enroll({ pool: 'short' }, revoked.token);
    const r = await http(t, 'POST', `/v1/enroll-tokens/${revoked.id}/revoke`);
    expect(r).toMatchObject({ status: 200, json: { id: revoked.id, state: 'revoked' } });
    await expect(agent().enroll({ pool: 'short' }, revoked.token)).rejects.toMatchObject({
      code: status.UNAUTHENTICATED,
      details: expect.stringContaining('revoked'),
    });
    await expect(early.call('Heartbeat', {})).resolves.toMatchObject({ directives: [] });
    t.clock.advance(61_000);
    try {
      await expect(agent().enroll({ pool: 'short' }, short.token)).rejects.toMatchObject({
        code: status.UNAUTHENTICATED,
        details: expect.stringContaining('expired'),
      });
    } finally {
      t.clock.advance(-61_000);
    }
    await expect(agent().enroll({ pool: 'short' }, 'jre_not-a-token')).rejects.toMatchObject({
      code: status.UNAUTHENTICATED,
    });
  });
});

describe('takeover', () => {
  it('the enroll token and another agent’s id or name are refused; the real agent keeps running jobs', async () => {
    const tok = await createToken({ pool: 'victim', uses: 5, ttl: '1h' });
    const real = agent();
    const id = await real.enroll({ pool: 'victim', name: 'web-01' }, tok.token);
    const thief = agent();
    const attempts = [
      { token: ENROLL, req: { name: 'web-01', previousAgentId: id } },
      { token: ENROLL, req: { name: 'web-01' } },
      { token: tok.token, req: { name: 'web-01' } },
      { token: tok.token, req: { name: 'thief-host', previousAgentId: id } },
      { token: tok.token, req: { name: 'web-01', previousAgentId: id, previousCredential: `${id}.${'s'.repeat(43)}` } },
    ];
    for (const { token, req } of attempts)
      await expect(
        thief.call('Enroll', { pool: 'victim', slots: 4, labels: {}, ...req }, { token }),
      ).rejects.toMatchObject({ code: status.PERMISSION_DENIED, details: expect.stringContaining(id) });
    expect(await agentsIn('victim')).toHaveLength(1);
    expect((await pg.query('SELECT slots FROM agents WHERE id = $1', [id])).rows[0]).toEqual({ slots: 2 });
    await expect(real.call('Heartbeat', {})).resolves.toMatchObject({ directives: [] });
    const jobId = await submit('victim');
    const a = (await lease(real)).assignments[0]!;
    expect(a.jobId).toBe(jobId);
    expect(await complete(real, a)).toEqual({ jobState: 'succeeded' });
  });

  it('a retried Enroll whose answer was lost gets the same agent (the secret it chose), using no second token use', async () => {
    const tok = await createToken({ pool: 'retry', uses: 1, ttl: '1h' });
    const c = agent();
    const secret = 'r'.repeat(43);
    const req = { name: 'retry-host', pool: 'retry', slots: 1, labels: {}, credentialSecret: secret };
    const first = await c.call<{ agentId: string; credential: string }>('Enroll', req, { token: tok.token });
    expect(first.credential).toBe(`${first.agentId}.${secret}`);
    const again = await c.call<{ agentId: string; credential: string }>('Enroll', req, { token: tok.token });
    expect(again).toMatchObject({ agentId: first.agentId, credential: first.credential });
    await expect(
      c.call('Enroll', { ...req, credentialSecret: 's'.repeat(43) }, { token: tok.token }),
    ).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
    for (const bad of ['short', 'x'.repeat(129), `${'a'.repeat(42)}!`])
      await expect(c.call('Enroll', { ...req, credentialSecret: bad }, { token: tok.token })).rejects.toMatchObject({
        code: status.INVALID_ARGUMENT,
      });
    await expect(c.call('Heartbeat', {}, { token: first.credential })).resolves.toMatchObject({ directives: [] });
    expect(await agentsIn('retry')).toHaveLength(1);
  });

  it('a heartbeat cannot raise the slots an agent enrolled with', async () => {
    const c = agent();
    const id = await c.enroll({ pool: 'hb-slots', slots: 1 });
    await c.call('Heartbeat', { state: { slots: 200, running: 0, breakerState: 'closed' } });
    expect((await pg.query('SELECT slots FROM agents WHERE id = $1', [id])).rows[0]).toEqual({ slots: 1 });
  });
});

describe('lease caps', () => {
  it('50 parallel Lease calls from an agent with 2 slots get 2 jobs; an honest agent gets the rest', async () => {
    const rogue = agent();
    await rogue.enroll({ pool: 'grab', slots: 2 });
    const jobs = await Promise.all(Array.from({ length: 10 }, () => submit('grab')));
    const round = async (): Promise<{ got: number; exhausted: number }> => {
      const answers = await Promise.allSettled(
        Array.from({ length: 50 }, () =>
          rogue.call<LeaseAnswer>('Lease', { freeSlots: 50, waitMs: 1_000 }, { deadlineMs: 6_000 }),
        ),
      );
      let got = 0;
      let exhausted = 0;
      for (const a of answers) {
        if (a.status === 'fulfilled') got += a.value.assignments.length;
        else if ((a.reason as { code?: number }).code === status.RESOURCE_EXHAUSTED) exhausted++;
        else throw a.reason;
      }
      return { got, exhausted };
    };
    const before = await refusals('lease_in_flight');
    const first = await round();
    expect(first.got).toBe(2);
    expect(first.exhausted).toBeGreaterThan(0);
    const second = await round();
    expect(second.got).toBe(0); // its 2 attempts still run: no slot is free
    expect((await refusals('lease_in_flight')) - before).toBe(first.exhausted + second.exhausted);
    const honest = agent();
    await honest.enroll({ pool: 'grab', slots: 2 });
    let done = 0;
    while (done < 8) {
      const leased = await Promise.all([lease(honest), lease(honest)]);
      for (const a of leased.flatMap((l) => l.assignments)) {
        expect(await complete(honest, a)).toEqual({ jobState: 'succeeded' });
        done++;
      }
    }
    // completions are applied by the results relay moments after the answer
    const states = await waitFor(async () => {
      const now = await Promise.all(jobs.map(async (id) => (await http(t, 'GET', `/v1/jobs/${id}`)).json.state));
      return now.filter((s) => s === 'succeeded').length === 8 ? now : undefined;
    });
    expect(states.filter((s) => s === 'leased')).toHaveLength(2);
  });
});

describe('lease caps and the honest agent', () => {
  it('a Lease that arrives before the Complete of the slot it reuses waits for it, then gets the job', async () => {
    const c = agent();
    await c.enroll({ pool: 'quick', slots: 1 });
    await submit('quick');
    const first = (await lease(c)).assignments[0]!;
    const next = lease(c, 20_000); // the agent's slot is free locally; the API still counts the attempt
    const dispatch = t.api.app.get(DispatchService);
    await waitFor(async () => dispatch.leaseCallsInFlight(c.credential.split('.')[0]!) === 1, {
      what: 'the second Lease to be held',
    });
    const second = await submit('quick');
    await waitFor(async () => dispatch.leaseCallsWaitingForSlot(c.credential.split('.')[0]!) === 1, {
      what: 'the job to find the agent full',
    });
    expect(await complete(c, first)).toEqual({ jobState: 'succeeded' });
    expect((await next).assignments).toMatchObject([{ jobId: second, attempt: 1 }]);
  });
});

describe('revocation', () => {
  it('ends the credential at the next call (a Lease in flight too); the running attempt fails over at once', async () => {
    const victim = agent();
    const id = await victim.enroll({ pool: 'rv', slots: 2 });
    const other = agent();
    await other.enroll({ pool: 'rv', slots: 1 });
    const jobId = await submit('rv');
    const held = (await lease(victim)).assignments[0]!;
    expect(held.jobId).toBe(jobId);
    const inFlight = lease(victim, 20_000);
    const waiting = lease(other, 20_000);
    const dispatch = t.api.app.get(DispatchService);
    await waitFor(async () => dispatch.leaseCallsInFlight(id) === 1, { what: 'the Lease long poll to be held' });

    const r = await http(t, 'POST', `/v1/agents/${id}/revoke`);
    expect(r).toMatchObject({ status: 200, json: { id, attemptsEnded: 1 } });
    await expect(inFlight).rejects.toMatchObject({
      code: status.PERMISSION_DENIED,
      details: expect.stringContaining('revoked by an operator'),
    });
    const moved = (await waiting).assignments[0]!;
    expect(moved).toMatchObject({ jobId, attempt: 2 });
    for (const call of [
      () => victim.call('Heartbeat', {}),
      () => lease(victim, 0),
      () => victim.call('Report', { ...ref(held), events: [] }),
      () => complete(victim, held),
    ])
      await expect(call()).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
    expect(await complete(other, moved)).toEqual({ jobState: 'succeeded' });
    const view = await jobWhen(jobId, (v) => v.state === 'succeeded');
    expect(view.attempts).toMatchObject([{ agentId: id, state: 'lost' }, { state: 'succeeded' }]);
    // idempotent; listed as revoked
    expect((await http(t, 'POST', `/v1/agents/${id}/revoke`)).status).toBe(200);
    const listed = (await http(t, 'GET', '/v1/agents')).json.items.find((a: { id: string }) => a.id === id);
    expect(listed.revokedAt).toEqual(expect.any(String));
    expect(await refusals('revoked')).toBe(5); // the Lease in flight, then each call above
  });

  it('a revoked agent cannot enroll again by id or name until an operator removes it', async () => {
    const c = agent();
    const id = await c.enroll({ pool: 'rv2', name: 'revoked-box' });
    const credential = c.credential;
    expect((await http(t, 'POST', `/v1/agents/${id}/revoke`)).status).toBe(200);
    for (const req of [{ previousAgentId: id, previousCredential: credential }, { previousCredential: credential }, {}])
      await expect(
        c.call('Enroll', { name: 'revoked-box', pool: 'rv2', slots: 1, ...req }, { token: ENROLL }),
      ).rejects.toMatchObject({
        code: status.PERMISSION_DENIED,
        details: expect.stringContaining('revoked by an operator'),
      });
    expect((await http(t, 'DELETE', `/v1/agents/${id}`)).status).toBe(200);
    const fresh = await c.enroll({ pool: 'rv2', name: 'revoked-box' });
    expect(fresh).not.toBe(id);
    await expect(c.call('Heartbeat', {})).resolves.toMatchObject({ directives: [] });
  });

  it('unknown and hostile ids are a 404', async () => {
    for (const bad of ['a_00000000000000000000', '%00', 'x'.repeat(5_000)])
      expect((await http(t, 'POST', `/v1/agents/${bad}/revoke`)).status).toBe(404);
    expect((await http(t, 'POST', '/v1/agents/a_00000000000000000000/revoke', { token: null })).status).toBe(401);
  });
});

describe('pool cap', () => {
  let capped: TestApi;
  const own: AgentClient[] = [];
  beforeAll(async () => {
    capped = await startTestApi({ JR_MAX_POOLS: '3' });
  });
  afterAll(async () => {
    for (const c of own) c.close();
    await capped?.cleanup();
  });
  const make = (): AgentClient => {
    const c = new AgentClient(capped.grpcAddress);
    own.push(c);
    return c;
  };

  it('refuses a pool past JR_MAX_POOLS; workers stay bounded, and a pool no agent serves gives its worker up', async () => {
    const workers = capped.api.app.get(PoolQueueRepository);
    const agents: AgentClient[] = [];
    for (const pool of ['c1', 'c2', 'c3']) {
      const c = make();
      await c.enroll({ pool });
      await c.call('Lease', { freeSlots: 1, waitMs: 0 });
      agents.push(c);
    }
    for (let i = 0; i < 20; i++)
      await expect(make().enroll({ pool: `spam-${i}` })).rejects.toMatchObject({
        code: status.RESOURCE_EXHAUSTED,
        details: expect.stringContaining('JR_MAX_POOLS'),
      });
    expect(await refusals('pool_cap', capped)).toBe(20);
    await make().enroll({ pool: 'c2' }); // a pool in use takes more agents
    expect(workers.workerPools().sort()).toEqual(['c1', 'c2', 'c3']);
    const first = agents[0]!;
    const firstId = first.credential.split('.')[0]!;
    expect((await http(capped, 'POST', `/v1/agents/${firstId}/revoke`)).status).toBe(200);
    const late = make();
    await late.enroll({ pool: 'c4' });
    expect(await late.call<LeaseAnswer>('Lease', { freeSlots: 1, waitMs: 0 })).toEqual({ assignments: [] });
    expect(workers.workerPools().sort()).toEqual(['c2', 'c3', 'c4']);
  });
});
