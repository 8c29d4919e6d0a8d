/**
 * Relay lag: how long an acknowledged submission exists on the accepting replica's disk only, from its
 * durable append (the 202 follows) to its row committed in PostgreSQL by the relay. That window is the
 * RPO for the loss of the replica's volume (README "Durability beyond one disk"). Open-loop
 * `POST /v1/jobs` at fixed rates; the lag comes from jr-api's own `jr_journal_relay_lag_seconds`
 * histogram (the delta over the step; p50/p99 interpolated within buckets as histogram_quantile does, max
 * the upper bound of the highest bucket reached), beside the client's 202 latency at the same moment.
 */
import { BenchClient, jobBody } from '../lib/api-client';
import { relayDrained, withStack } from '../lib/bench-stack';
import { nowMs, OpenLoop, round, summarize, type LatencySummary } from '../lib/load';
import { figure, type BenchContext, type Figure, type SectionResult } from '../lib/report';

const LAG = 'jr_journal_relay_lag_seconds_bucket';

interface Sizes {
  rates: number[];
  seconds: number;
}

const sizes = (quick: boolean): Sizes =>
  quick ? { rates: [25, 200], seconds: 1 } : { rates: [100, 500, 2000], seconds: 10 };

/** Cumulative bucket counts of the intake relay lag, by upper bound (seconds, +Inf last). */
function buckets(text: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(LAG) || !line.includes('journal="intake"')) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    const count = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (le !== undefined) out.push([le === '+Inf' ? Infinity : Number(le), count]);
  }
  return out.sort((a, b) => a[0] - b[0]);
}

/** histogram_quantile over the difference of two scrapes (seconds); NaN without observations. */
export function quantile(before: Array<[number, number]>, after: Array<[number, number]>, q: number): number {
  const delta = after.map(([le, c], i) => [le, c - (before[i]?.[1] ?? 0)] as [number, number]);
  const total = delta.at(-1)?.[1] ?? 0;
  if (total === 0) return NaN;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const [le, c] of delta) {
    if (c >= rank) return le === Infinity ? lower : lower + ((le - lower) * (rank - below)) / Math.max(1, c - below);
    [lower, below] = [le, c];
  }
  return lower;
}

/** The upper bound of the highest bucket the step reached (the max is at most this). */
function maxBound(before: Array<[number, number]>, after: Array<[number, number]>): number {
  const delta = after.map(([le, c], i) => [le, c - (before[i]?.[1] ?? 0)] as [number, number]);
  const total = delta.at(-1)?.[1] ?? 0;
  return delta.find(([, c]) => c === total)?.[0] ?? NaN;
}

interface Step {
  rate: number;
  accepted: number;
  lagMs: { p50: number; p99: number; maxAtMost: number };
  ackMs: LatencySummary;
}

async function step(client: BenchClient, rate: number, seconds: number): Promise<Step> {
  const body = jobBody('bench-relay-lag', ['true'], 'relay-lag-nowhere'); // no agent: only intake works
  const before = buckets((await client.request('GET', '/metrics')).text);
  const acks: number[] = [];
  const load = new OpenLoop({ rate, count: Math.round(rate * seconds), maxInFlight: 256 }, async () => {
    const t = nowMs();
    const ok = (await client.submit(body)) !== undefined;
    if (ok) acks.push(nowMs() - t);
    return ok;
  });
  await load.done;
  const r = await load.stop();
  const after = buckets((await client.request('GET', '/metrics')).text);
  const ms = (s: number): number => s * 1_000;
  return {
    rate,
    accepted: r.completed,
    lagMs: {
      p50: ms(quantile(before, after, 0.5)),
      p99: ms(quantile(before, after, 0.99)),
      maxAtMost: ms(maxBound(before, after)),
    },
    ackMs: summarize(acks),
  };
}

function stepFigures(s: Step): Figure[] {
  const f = (what: 'p50' | 'p99', value: number, ref: number): Figure =>
    figure({
      key: `relay_lag.r${s.rate}.${what}`,
      label: `intake relay lag (RPO window), ${s.rate}/s, ${what}`,
      value: round(value, 2),
      unit: 'ms',
      reference: { label: `202 latency, same requests, ${what}`, value: round(ref, 2) },
    });
  return [
    f('p50', s.lagMs.p50, s.ackMs.p50),
    f('p99', s.lagMs.p99, s.ackMs.p99),
    figure({
      key: `relay_lag.r${s.rate}.max`,
      label: `intake relay lag, ${s.rate}/s, max (bucket bound)`,
      value: round(s.lagMs.maxAtMost, 2),
      unit: 'ms',
      reference: { label: '202 latency, same requests, max', value: round(s.ackMs.max, 2) },
      note: `at most; ${s.accepted} accepted`,
    }),
  ];
}

export async function relayLagSection(ctx: BenchContext): Promise<SectionResult> {
  const o = sizes(ctx.quick);
  return withStack({}, async (stack) => {
    const client = new BenchClient(stack, 256);
    try {
      const steps: Step[] = [];
      for (const rate of o.rates) {
        ctx.log(`relay lag: POST /v1/jobs at ${rate}/s for ${o.seconds} s`);
        steps.push(await step(client, rate, o.seconds));
        await relayDrained(stack);
      }
      return {
        id: 'relay-lag',
        title: 'Relay lag: acknowledged on one disk only until applied in PostgreSQL',
        figures: steps.flatMap(stepFigures),
        details: { sizes: o, steps },
      };
    } finally {
      client.close();
    }
  });
}
