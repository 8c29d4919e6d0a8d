/**
 * Dispatch latency: from `POST /v1/jobs` answering 202 to the job's own process running (the job is
 * `date +%s%N`; its output is the moment it ran, on the same clock as the submitter's). Real jr-api
 * and two agents × 8 slots on loopback; jobs submitted open-loop at a fixed rate, (a) on an idle
 * system, (b) beside a background load of submissions/s to a pool no agent serves (a pure
 * intake + relay + enqueue load on the same API, Redis and Postgres).
 *
 * Reference: raw BullMQ `add` resolved → a Worker (concurrency = the agents' slots) has spawned the
 * same `date`, same rate, same Redis, measured the same way in the same conditions. The heartbeat
 * interval is not on this path (a parked Lease long-poll is woken, no polling), so a ratio to it would
 * only say "far below"; raw BullMQ's own add→process is the floor of any BullMQ-based dispatch, and
 * the ratio is what the journal, Postgres and the gRPC hop cost.
 */
import type { Stack } from '@jr/testing';
import { waitFor } from '@jr/testing';
import { BenchClient, jobBody } from '../lib/api-client';
import { withStack } from '../lib/bench-stack';
import { forEachConcurrent, nowMs, OpenLoop, round, sleep, summarize, type LatencySummary } from '../lib/load';
import { parseDateNs, rawDispatch } from '../lib/raw-bullmq';
import { figure, type BenchContext, type Figure, type SectionResult } from '../lib/report';

interface Sizes {
  jobs: number;
  rate: number;
  agents: number;
  slots: number;
  loadRate: number;
}

const sizes = (quick: boolean): Sizes =>
  quick ? { jobs: 100, rate: 50, agents: 2, slots: 8, loadRate: 500 } : { jobs: 1_000, rate: 50, agents: 2, slots: 8, loadRate: 500 };

const UNSERVED_POOL = 'bench-unserved';

/** Submits `o.jobs` at `o.rate`, waits for all to succeed, returns 202 → process-ran per job (ms). */
export async function measureJr(stack: Stack, o: Sizes, tag: string): Promise<number[]> {
  const client = new BenchClient(stack, 64);
  try {
    const before = await client.succeeded();
    const answeredAt = new Map<string, number>();
    const load = new OpenLoop({ rate: o.rate, count: o.jobs, maxInFlight: 64 }, async (i) => {
      const id = await client.submit(jobBody(`dispatch-${tag}-${i}`, ['date', '+%s%N']));
      if (id !== undefined) answeredAt.set(id, nowMs());
      return id !== undefined;
    });
    await load.done;
    if (answeredAt.size !== o.jobs) throw new Error(`${o.jobs - answeredAt.size} of ${o.jobs} dispatch submissions were refused`);
    await waitFor(async () => (await client.succeeded()) - before >= o.jobs, { timeoutMs: 120_000, intervalMs: 100, what: `${o.jobs} dispatch jobs to succeed` });
    const samples: number[] = [];
    const ids = [...answeredAt.keys()];
    await forEachConcurrent(ids.length, 8, async (i) => {
      const id = ids[i]!;
      const ranAt = await waitFor(async () => parseDateNs((await client.request('GET', `/v1/jobs/${id}/logs`)).text), { timeoutMs: 10_000, what: `job ${id}'s output` });
      samples.push(ranAt - answeredAt.get(id)!);
    });
    return samples;
  } finally {
    client.close();
  }
}

/** Background submissions to a pool nobody serves, open-loop at `rate`. */
function backgroundLoad(stack: Stack, rate: number): { stop: () => Promise<{ perSecond: number; completed: number; failed: number; elapsedS: number }> } {
  const client = new BenchClient(stack, 128);
  const body = jobBody('bench-background', ['true'], UNSERVED_POOL);
  const load = new OpenLoop({ rate, maxInFlight: 256 }, async () => (await client.submit(body)) !== undefined);
  return {
    stop: async () => {
      const r = await load.stop();
      client.close();
      return r;
    },
  };
}

async function measurePair(ctx: BenchContext, stack: Stack, o: Sizes, tag: string): Promise<{ jr: LatencySummary; raw: LatencySummary }> {
  ctx.log(`${tag}: ${o.jobs} jobs at ${o.rate}/s through jr-api`);
  const jr = summarize(await measureJr(stack, o, tag));
  ctx.log(`${tag}: ${o.jobs} jobs at ${o.rate}/s through raw BullMQ (worker concurrency ${o.agents * o.slots})`);
  const raw = summarize(await rawDispatch(stack.redisUrl, `${stack.prefix}-raw-${tag}`, { count: o.jobs, rate: o.rate, concurrency: o.agents * o.slots }));
  ctx.log(`${tag}: p50 ${round(jr.p50)} ms (raw ${round(raw.p50, 2)} ms), p99 ${round(jr.p99)} ms (raw ${round(raw.p99, 2)} ms)`);
  return { jr, raw };
}

function latencyFigures(tag: string, what: string, m: { jr: LatencySummary; raw: LatencySummary }, note?: string): Figure[] {
  return (['p50', 'p95', 'p99', 'max'] as const).map((p) =>
    figure({
      key: `dispatch.${tag}.${p}`,
      label: `202 → process ran, ${what}, ${p} of ${m.jr.n}`,
      value: round(m.jr[p], 2),
      unit: 'ms',
      reference: { label: `raw BullMQ add → worker spawned, ${p}`, value: round(m.raw[p], 2) },
      ...(note !== undefined ? { note } : {}),
    }),
  );
}

export async function dispatchSection(ctx: BenchContext): Promise<SectionResult> {
  const o = sizes(ctx.quick);
  return withStack({ agents: o.agents, slots: o.slots }, async (stack) => {
    const idle = await measurePair(ctx, stack, o, 'idle');
    ctx.log(`background load: ${o.loadRate} submissions/s to pool ${UNSERVED_POOL} (no agent serves it)`);
    const background = backgroundLoad(stack, o.loadRate);
    let bg: Awaited<ReturnType<ReturnType<typeof backgroundLoad>['stop']>>;
    let loaded: { jr: LatencySummary; raw: LatencySummary };
    try {
      await sleep(1_000);
      loaded = await measurePair(ctx, stack, o, 'loaded');
    } finally {
      bg = await background.stop();
    }
    const sustained = bg.perSecond >= 0.95 * o.loadRate;
    const loadNote = `background ${round(bg.perSecond)}/s of ${o.loadRate}/s offered to pool ${UNSERVED_POOL}${sustained ? '' : ' (this machine could not sustain the offered rate)'}`;
    ctx.log(loadNote);
    const figures = [
      ...latencyFigures('idle', 'idle', idle),
      ...latencyFigures('loaded', `+${o.loadRate}/s load`, loaded, loadNote),
      figure({ key: 'dispatch.loaded.background_rate', label: 'background submissions accepted during (b)', value: round(bg.perSecond), unit: 'ops/s', reference: { label: 'offered', value: o.loadRate } }),
    ];
    return { id: 'dispatch', title: 'Dispatch latency (202 → the job process ran)', figures, details: { sizes: o, idle, loaded, background: bg, unservedPool: UNSERVED_POOL } };
  });
}
