import type { AgentList, JobPage } from '@jr/contracts';
import {
  agentMetric,
  fetchTrusting,
  freePort,
  replicatedStackOptions,
  Stack,
  waitFor,
  type ApiReplica,
} from '@jr/testing';
import {
  describeJob,
  occupancy,
  ranOtherThanOnce,
  readOutcome,
  runningAtKill,
  waitOf,
  type Kill,
  type Outcome,
  type Submitted,
} from './burst-outcome';

// Three real jr-api replicas (A, B, C) on one Postgres and Redis; real agents spread unevenly: a1 and a2
// with A first, b1 with B first, none with C first. 500 keyed jobs go to random replicas while A, the
// replica most agents use, is SIGKILLed mid-burst and restarted. Fails without demand-driven dispatch
// (C's worker, restarted once the pool is known, would hold up to 32 jobs with no Lease call to give them
// to: they wait until an agent happens to fail over to C, and after the fail-back for good) and without
// endpoint failover (a1 and a2 never switch while A is down: the failover wait times out).
//
// "Once": every job ends `succeeded` and its process ran exactly once: its output holds one start line
// and exactly one of its attempts started. A job running on a1/a2 when A died is not re-run: the agent
// keeps running it, its heartbeats reach B or C (extending the lease) and its result is resent from the
// outbox to B or C; such jobs must exist and each has one attempt. Allowed and printed: an attempt that
// never started (A granted it in Postgres and died before the Lease answer reached the agent) expires
// `lost` and the job runs on a second attempt, still once; and a job whose run had ended on a1/a2 before
// the SIGKILL with its result acknowledged by A but not yet applied to Postgres runs again when its lease
// expires before A is back and replays it (the first attempt then shows `superseded`): at-least-once by
// the lease policy, not a lost job. Anything else (failed, lost, run twice otherwise) fails the test.
jest.setTimeout(180_000);

const JOBS = 500;
const RATE_PER_S = 20;
const SLOTS = 8;
const KILL_AFTER = 200; // submissions
const LONG_EVERY = 8; // every 8th job runs 1.5 s, so jobs are running on A's agents when it dies
const AGENTS = [
  { name: 'a1', order: ['A', 'B', 'C'] },
  { name: 'a2', order: ['A', 'C', 'B'] },
  { name: 'b1', order: ['B', 'A', 'C'] },
] as const;
const ON_A = ['a1', 'a2'];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
const summary = (xs: number[]): string => {
  const s = [...xs].sort((a, b) => a - b);
  return `p50 ${pct(s, 50)} ms, p99 ${pct(s, 99)} ms, max ${s.at(-1)} ms (n ${s.length})`;
};

/** Keyed POST /v1/jobs to a random replica; a refused connection, timeout or 503 goes to another one, same key. */
async function submit(stack: Stack, urls: string[], n: number): Promise<Submitted> {
  const body = JSON.stringify({
    name: `burst-${n}`,
    steps: [{ run: n % LONG_EVERY === 0 ? 'date +%s%N; sleep 1.5; echo end $(date +%s%N)' : 'date +%s%N' }],
  });
  const headers = {
    authorization: `Bearer ${stack.adminToken}`,
    'content-type': 'application/json',
    'idempotency-key': `burst-${stack.prefix}-${n}`,
  };
  for (let tries = 1; ; tries++) {
    const url = urls[Math.floor(Math.random() * urls.length)]!;
    const res = await fetchTrusting(`${url}/v1/jobs`, {
      method: 'POST',
      body,
      headers,
      ca: stack.caPem!,
      signal: AbortSignal.timeout(5_000),
    }).catch(() => undefined);
    if (res?.status === 202 || res?.status === 200)
      return { n, id: ((await res.json()) as { id: string }).id, ackedAtMs: Date.now(), tries };
    if (res !== undefined && res.status !== 503) throw new Error(`job ${n}: ${res.status} ${await res.text()}`);
    if (tries > 200) throw new Error(`job ${n}: no replica took it in ${tries} tries`);
    await sleep(50);
  }
}

/** Polls `metric` on each agent until it reads `value`; the ms each took from `sinceMs`. */
async function switchTimes(
  ports: Map<string, number>,
  names: string[],
  kind: 'failover' | 'failback',
  sinceMs: number,
): Promise<Record<string, number>> {
  const times: Record<string, number> = {};
  await Promise.all(
    names.map(async (name) => {
      await waitFor(
        async () =>
          (await agentMetric(ports.get(name)!, 'jr_agent_api_endpoint_switches_total', `kind="${kind}"`)) === 1,
        { timeoutMs: 30_000, intervalMs: 50, what: `agent ${name} to ${kind}` },
      );
      times[name] = Date.now() - sinceMs;
    }),
  );
  return times;
}

describe('three replicas, agents spread unevenly, the busiest replica SIGKILLed mid-burst', () => {
  let stack: Stack;
  const replicas = new Map<string, ApiReplica | undefined>();
  const metricsPorts = new Map<string, number>();

  beforeAll(async () => {
    stack = await new Stack('2s', await replicatedStackOptions()).start();
    replicas
      .set('A', undefined)
      .set('B', await stack.startReplica('b'))
      .set('C', await stack.startReplica('c'));
    const grpc = (r: string) => (r === 'A' ? stack.grpcAddress : replicas.get(r)!.grpcAddress);
    for (const a of AGENTS) {
      metricsPorts.set(a.name, await freePort());
      await stack.startAgent(a.name, {
        slots: SLOTS,
        grpcTarget: a.order.map(grpc).join(','),
        extraEnv: {
          JR_API_FAILBACK_AFTER: '3s',
          JR_METRICS_PORT: String(metricsPorts.get(a.name)),
          JR_LOG_LEVEL: 'warn',
        },
      });
    }
    // restarted, C knows the pool (its agents are in Postgres) and runs a worker for it with no agent of its own
    await replicas.get('C')!.proc.stop();
    await stack.startReplica('c');
  });
  afterAll(() => stack?.close());

  /** Waits until a job runs on one of A's agents, SIGKILLs A, sees a1/a2 fail over, restarts A, sees them fail back. */
  async function killAndRestartA(): Promise<Kill & { times: string }> {
    stack.useRestOf(replicas.get('B'));
    // a long job (1.5 s) that started on a1/a2 under a second ago: it is still running when A dies
    // (waiting for any running job could catch a short one that ends before the kill; seen once in CI)
    const onA = new Set(
      (await stack.get<AgentList>('/v1/agents')).items.filter((a) => ON_A.includes(a.name)).map((a) => a.id),
    );
    // "under a second" counts up to when the list was asked for: under load the answer itself can take that long
    await waitFor(
      async () => {
        const askedAt = Date.now();
        return (await stack.get<JobPage>('/v1/jobs?state=running&limit=100')).items.some((j) => {
          const a = j.attempts.at(-1);
          const n = Number(j.name.replace('burst-', ''));
          return (
            n % LONG_EVERY === 0 &&
            a !== undefined &&
            onA.has(a.agentId) &&
            a.startedAt !== null &&
            askedAt - Date.parse(a.startedAt) < 1_000
          );
        });
      },
      { timeoutMs: 40_000, intervalMs: 20, what: 'a long job just started on an agent of A' },
    );
    await stack.api.kill();
    const killedAtMs = Date.now();
    const failover = await switchTimes(metricsPorts, ON_A, 'failover', killedAtMs);
    await stack.startApi();
    const readyAtMs = Date.now();
    const failback = await switchTimes(metricsPorts, ON_A, 'failback', readyAtMs);
    const times = `failover after the SIGKILL ${JSON.stringify(failover)} ms; A ready again ${readyAtMs - killedAtMs} ms after it; fail-back after that ${JSON.stringify(failback)} ms`;
    return { killedAtMs, readyAtMs, agents: ON_A, times };
  }

  /** Submits the jobs open-loop at RATE_PER_S; after KILL_AFTER of them, A is killed and restarted meanwhile. */
  async function burst(): Promise<{ submitted: Submitted[]; kill: Kill & { times: string } }> {
    const urls = [...replicas.values()].map((r) => stack.baseUrlOf(r));
    const startedAt = Date.now();
    let kill: Promise<Kill & { times: string }> | undefined;
    const submitted = await Promise.all(
      Array.from({ length: JOBS }, async (_, n) => {
        await sleep(startedAt + (n * 1_000) / RATE_PER_S - Date.now());
        if (n === KILL_AFTER) kill = killAndRestartA();
        return submit(stack, urls, n);
      }),
    );
    return { submitted, kill: await kill! };
  }

  it('500 jobs through random replicas run once each, none waits long beside a free slot, agents fail over and back', async () => {
    const { submitted, kill } = await burst();
    const o = await readOutcome(stack, submitted);
    const { wrong, reruns } = ranOtherThanOnce(o, submitted, kill);
    const running = runningAtKill(o, submitted, kill);
    const f = burstFigures(o, submitted, kill);
    console.log(
      `${f.text}\n  re-run by the lease policy: ${reruns.length}${reruns.map((s) => `\n    ${describeJob(o, s)}`).join('')}`,
    );

    expect(new Set(submitted.map((s) => s.id)).size).toBe(JOBS); // one job per key, however often retried
    expect(wrong.map((s) => describeJob(o, s))).toEqual([]);
    // the jobs running on A's agents when it died: run on, reported to B or C, one attempt each
    expect(running.length).toBeGreaterThan(0);
    expect(running.filter((s) => o.views.get(s.id)?.attempts.length !== 1 || o.runs.get(s.id)?.length !== 1)).toEqual(
      [],
    );
    // Waiting times are printed, not asserted: alone p99 is ~205 ms outside the kill window, beside the suite on
    // 2 cores it was 8.2 s once (hoarding replicas: 7.4 s alone; replicas-dispatch.test.ts asserts the hoarding
    // case). What is asserted is that no job is stuck: each ran within a minute of its acknowledgement.
    expect(f.max).toBeLessThan(60_000);
    // a1 and a2 went to B/C and back once each, b1 never moved, no reporting breaker opened
    const agents = await Promise.all(AGENTS.map((a) => agentFacts(a.name, metricsPorts.get(a.name)!)));
    expect(agents).toEqual(
      AGENTS.map((a) => ({ agent: a.name, failover: ON_A.includes(a.name) ? 1 : 0, onPrimary: 1, breakerOpened: 0 })),
    );
  });
});

/**
 * The printed figures. "Outside the kill window": jobs acknowledged more than 2 s before the SIGKILL or
 * more than 1 s after A was ready again; inside it, a job may wait for a1/a2's failover, for A's journal
 * replay, or (fetched by A's worker for a Lease call when it died) for BullMQ's stalled-job recovery.
 */
function burstFigures(o: Outcome, submitted: Submitted[], k: Kill & { times: string }) {
  const waits = submitted.map((s) => waitOf(o, s));
  const outside = submitted.filter((s) => s.ackedAtMs < k.killedAtMs - 2_000 || s.ackedAtMs > k.readyAtMs + 1_000);
  const outsideWaits = outside.map((s) => waitOf(o, s)).sort((x, y) => x - y);
  const slowest = [...submitted].sort((x, y) => waitOf(o, y) - waitOf(o, x)).slice(0, 3);
  const busyAtAck = submitted.filter((s) => occupancy(o, s.ackedAtMs) >= AGENTS.length * SLOTS).length;
  const extra = submitted.filter((s) => (o.views.get(s.id)?.attempts.length ?? 0) > 1);
  const text =
    `[figures] replicas burst: ${JOBS} jobs at ${RATE_PER_S}/s through 3 replicas, 3 agents x ${SLOTS} slots (2 on A, 1 on B, 0 on C); ` +
    `ack -> process ran ${summary(waits)}; outside the kill window ${summary(outsideWaits)}; ` +
    `acked while every slot was busy: ${busyAtAck}; submissions retried on another replica: ${submitted.filter((s) => s.tries > 1).length}; ` +
    `running on A's agents at the SIGKILL: ${runningAtKill(o, submitted, k).length}; jobs with more than one attempt: ${extra.length}` +
    `${extra.map((s) => `\n    ${describeJob(o, s)}`).join('')}\n  slowest:${slowest.map((s) => `\n    ${waitOf(o, s)} ms ${describeJob(o, s)}`).join('')}` +
    `\n  A killed ${new Date(k.killedAtMs).toISOString()}: ${k.times}`;
  return { text, max: Math.max(...waits) };
}

async function agentFacts(agent: string, port: number): Promise<Record<string, string | number | undefined>> {
  return {
    agent,
    failover: await agentMetric(port, 'jr_agent_api_endpoint_switches_total', 'kind="failover"'),
    onPrimary: await agentMetric(port, 'jr_agent_api_on_primary'),
    breakerOpened: await agentMetric(port, 'jr_agent_breaker_opened_total'),
  };
}
