import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { assessHealth, formatStatus, type AgentStatusView, type HealthFacts } from './agent-status';
import { controlSocketPath, type ControlResponse } from './control-protocol';
import { ControlServer } from './control-server';
import { runStatusCommand } from './status-command';

const facts = (over: Partial<HealthFacts> = {}): HealthFacts => ({
  agentId: 'a_1',
  name: 'box 1',
  pool: 'default',
  version: '0.1.0',
  pid: 42,
  apiAddress: '127.0.0.1:50051',
  heartbeat: { intervalMs: 10_000, lastOkAgeMs: 2_000, consecutiveFailures: 0, ok: 12, failed: 0 },
  breaker: { state: 'closed', since: null, reason: null },
  outbox: { depth: 0, oldestAgeMs: 0 },
  attempts: { running: 1, slots: 4, undelivered: 0 },
  draining: false,
  metricsUrl: 'http://127.0.0.1:9464/metrics',
  ...over,
});
const hb = (over: Partial<HealthFacts['heartbeat']>): Partial<HealthFacts> => ({
  heartbeat: { ...facts().heartbeat, ...over },
});

describe('assessHealth', () => {
  it('is healthy when heartbeats are answered and reporting flows (draining is a choice, not a problem)', () => {
    expect(assessHealth(facts({ draining: true }))).toMatchObject({ health: 'healthy', connected: true, problems: [] });
  });

  it.each<[string, Partial<HealthFacts>, RegExp]>([
    [
      'the last beat failed',
      hb({ consecutiveFailures: 1 }),
      /^heartbeats failing: 1 failed in a row, last answered 2\.0s ago$/,
    ],
    ['no beat answered yet', hb({ lastOkAgeMs: null }), /^no heartbeat answered yet$/],
    [
      'no beat answered yet, some failed',
      hb({ lastOkAgeMs: null, consecutiveFailures: 3 }),
      /^no heartbeat answered yet \(3 failed\)$/,
    ],
    [
      'the last answer is older than 3 intervals',
      hb({ lastOkAgeMs: 31_000 }),
      /^heartbeats failing: last answered 31s ago$/,
    ],
    [
      'the breaker is open',
      { breaker: { state: 'open', since: '2026-01-01T00:00:00.000Z', reason: 'Report failed with UNAVAILABLE' } },
      /^status reporting suspended: breaker open since 2026-01-01T00:00:00.000Z \(Report failed with UNAVAILABLE\);.*jr-agent reporting enable/,
    ],
  ])('is degraded when %s', (_what, over, problem) => {
    const s = assessHealth(facts(over));
    expect(s.health).toBe('degraded');
    expect(s.problems).toEqual([expect.stringMatching(problem)]);
  });

  it('is still connected at exactly 3 intervals, and lists every problem at once', () => {
    expect(assessHealth(facts(hb({ lastOkAgeMs: 30_000 }))).connected).toBe(true);
    const s = assessHealth(
      facts({ ...hb({ consecutiveFailures: 2 }), breaker: { state: 'open', since: null, reason: null } }),
    );
    expect(s.connected).toBe(false);
    expect(s.problems).toHaveLength(2);
  });
});

describe('formatStatus', () => {
  it('prints one line per area, then the problems', () => {
    const text = formatStatus(
      assessHealth(facts({ ...hb({ consecutiveFailures: 2 }), outbox: { depth: 7, oldestAgeMs: 65_000 } })),
    );
    expect(text.split('\n')).toEqual([
      'jr-agent a_1 "box 1" (pool default, version 0.1.0, pid 42): degraded',
      'api:       127.0.0.1:50051, NOT connected; last heartbeat 2.0s ago (interval 10s)',
      'breaker:   closed',
      'outbox:    7 queued, oldest 1m5s',
      'attempts:  1 running of 4 slots, 0 outcomes undelivered',
      'metrics:   http://127.0.0.1:9464/metrics',
      'problem:   heartbeats failing: 2 failed in a row, last answered 2.0s ago',
      '',
    ]);
  });

  it('never prints control characters the agent (or its JR_NAME) could carry', () => {
    const text = formatStatus(assessHealth(facts({ name: 'x\u001b[2J\u0007y', agentId: '', metricsUrl: null })));
    expect(text.replace(/\n/g, '')).not.toMatch(/\p{Cc}/u);
    expect(text).toContain('(not enrolled yet)');
    expect(text).toContain('not served (JR_METRICS_PORT unset)');
  });
});

describe('jr-agent status (over a real control socket)', () => {
  let dir: string;
  let server: ControlServer | undefined;
  let answer: ControlResponse | string;
  const logger = pino({ level: 'silent' });

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'jr-status-'));
    server = await ControlServer.start(
      controlSocketPath(dir),
      async (command) => {
        if (command !== 'agent.status') return { ok: false, error: `unexpected ${command}` };
        if (typeof answer === 'string') throw new Error(answer);
        return answer;
      },
      logger,
    );
  });
  afterEach(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const run = async (json = false): Promise<{ code: number; out: string; err: string }> => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runStatusCommand(dir, {
      json,
      stdout: { write: (t: string) => out.push(t) },
      stderr: { write: (t: string) => err.push(t) },
    });
    return { code, out: out.join(''), err: err.join('') };
  };
  const ok = (view: AgentStatusView): ControlResponse => ({ ok: true, ...view });

  it('exits 0 and prints the status of a healthy agent', async () => {
    answer = ok(assessHealth(facts()));
    const r = await run();
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toMatch(/^jr-agent a_1 "box 1" .*: healthy\napi: {7}127\.0\.0\.1:50051, connected/);
  });

  it('exits 1 when degraded; --json prints exactly one JSON document (fields a newer agent adds are dropped)', async () => {
    answer = {
      ok: true,
      ...assessHealth(facts({ breaker: { state: 'open', since: null, reason: null } })),
      futureField: 1,
    };
    const r = await run(true);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.out) as AgentStatusView & { futureField?: number };
    expect(doc).toMatchObject({ agentId: 'a_1', health: 'degraded', breaker: { state: 'open' } });
    expect(doc.futureField).toBeUndefined();
    expect(r.out.trim().split('\n')).toHaveLength(1);
  });

  it('exits 69 when no agent runs with this JR_DATA_DIR', async () => {
    await server?.close();
    server = undefined;
    const r = await run();
    expect(r).toMatchObject({ code: 69, out: '' });
    expect(r.err).toMatch(/^jr-agent: no jr-agent is running with this JR_DATA_DIR/);
  });

  it.each<[string, () => ControlResponse | string]>([
    ['a refusal (an older agent)', () => ({ ok: false, error: 'unknown command "agent.status"\n\u001b[31mred' })],
    ['a handler failure', () => 'boom'],
    ['a health that is not known', () => ({ ...ok(assessHealth(facts())), health: 'fine' })],
    ['missing fields', () => ({ ok: true, agentId: 'a_1' })],
    ['a negative depth', () => ok({ ...assessHealth(facts()), outbox: { depth: -1, oldestAgeMs: 0 } })],
    ['an oversized name', () => ok({ ...assessHealth(facts()), name: 'n'.repeat(5_000) })],
    ['too many problems', () => ok({ ...assessHealth(facts()), problems: Array.from({ length: 50 }, () => 'p') })],
  ])('exits 70 with one line on %s, printing nothing on stdout', async (_what, make) => {
    answer = make();
    const r = await run(true);
    expect(r).toMatchObject({ code: 70, out: '' });
    expect(r.err).toMatch(/^jr-agent: \P{Cc}+\n$/u);
  });
});
