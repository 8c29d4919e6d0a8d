/**
 * End-to-end throughput: N no-op jobs (`true`) submitted (32 in flight) → all succeeded, with 4 agents
 * × 8 slots, timed from the first submission to the last success (the API's
 * `jr_jobs_finished_total{state="succeeded"}`). Reference: the same N added to a raw BullMQ queue
 * (32 in flight) and a Worker of concurrency 32 that spawns the same `true` per job, same Redis.
 */
import type { Stack } from '@jr/testing';
import { waitFor } from '@jr/testing';
import { BenchClient, jobBody } from '../lib/api-client';
import { withStack } from '../lib/bench-stack';
import { forEachConcurrent, round } from '../lib/load';
import { rawThroughput } from '../lib/raw-bullmq';
import { figure, type BenchContext, type SectionResult } from '../lib/report';

interface Sizes {
  jobs: number;
  agents: number;
  slots: number;
  submitConcurrency: number;
}

const sizes = (quick: boolean): Sizes =>
  quick
    ? { jobs: 50, agents: 4, slots: 8, submitConcurrency: 32 }
    : { jobs: 2_000, agents: 4, slots: 8, submitConcurrency: 32 };

async function jrThroughput(stack: Stack, o: Sizes): Promise<{ elapsedS: number; submitS: number }> {
  const client = new BenchClient(stack, o.submitConcurrency);
  try {
    const before = await client.succeeded();
    const body = jobBody('bench-throughput', ['true']);
    const started = performance.now();
    let refused = 0;
    await forEachConcurrent(o.jobs, o.submitConcurrency, async () => {
      if ((await client.submit(body)) === undefined) refused++;
    });
    const submitS = (performance.now() - started) / 1_000;
    if (refused > 0) throw new Error(`${refused} of ${o.jobs} submissions were refused`);
    await waitFor(async () => (await client.succeeded()) - before >= o.jobs, {
      timeoutMs: 300_000,
      intervalMs: 20,
      what: `${o.jobs} jobs to succeed`,
    });
    return { elapsedS: (performance.now() - started) / 1_000, submitS };
  } finally {
    client.close();
  }
}

export async function throughputSection(ctx: BenchContext): Promise<SectionResult> {
  const o = sizes(ctx.quick);
  const slots = o.agents * o.slots;
  return withStack({ agents: o.agents, slots: o.slots }, async (stack) => {
    ctx.log(`${o.jobs} no-op jobs through jr-api, ${o.agents} agents × ${o.slots} slots`);
    const jr = await jrThroughput(stack, o);
    ctx.log(`${o.jobs} no-op jobs through raw BullMQ, worker concurrency ${slots}`);
    const rawS = await rawThroughput(stack.redisUrl, `${stack.prefix}-raw`, o.jobs, slots, ['true']);
    const figures = [
      figure({
        key: 'throughput.jobs_per_s',
        label: `no-op jobs submitted → succeeded, ${o.agents}×${o.slots} slots, N=${o.jobs}`,
        value: round(o.jobs / jr.elapsedS),
        unit: 'jobs/s',
        reference: { label: `raw BullMQ worker, concurrency ${slots}, spawns true`, value: round(o.jobs / rawS) },
      }),
    ];
    return {
      id: 'throughput',
      title: 'End-to-end throughput vs a raw BullMQ worker',
      figures,
      details: { sizes: o, jr, rawElapsedS: rawS },
    };
  });
}
