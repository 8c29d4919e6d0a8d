/**
 * Cost per job: CPU milliseconds each job costs jr-api, the agents and the whole machine (PostgreSQL,
 * Redis and the kernel included), for `true` jobs submitted open-loop at a fixed rate to one jr-api with
 * two agents × 8 slots. Background work (heartbeats, metrics refresh, leader duties) is measured first
 * over an idle window and taken off, so the figures are what the jobs themselves cost. Reference: the
 * machine's budget at that rate (its cores × 1000 / rate): above it, the jobs back up on this machine
 * whatever the design, which is what the dispatch section's latency then shows.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { Stack } from '@jr/testing';
import { BenchClient, jobBody } from '../lib/api-client';
import { withStack } from '../lib/bench-stack';
import { nowMs, OpenLoop, round, sleep } from '../lib/load';
import { cpuTimeMs } from '../lib/procstat';
import { figure, type BenchContext, type SectionResult } from '../lib/report';

const sizes = (quick: boolean) =>
  quick ? { jobs: 40, rate: 20, idleSeconds: 2 } : { jobs: 1_000, rate: 50, idleSeconds: 10 };

interface CpuSnapshot {
  api: number;
  agents: number;
  machine: number;
}

/** Busy CPU ms of the whole machine (all cores) from /proc/stat: everything but idle and iowait. */
function machineBusyMs(): number {
  const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  return (total - fields[3]! - fields[4]!) * 10; // USER_HZ 100
}

function snapshot(stack: Stack): CpuSnapshot {
  const agents = [...stack.agents.values()].reduce((sum, a) => sum + cpuTimeMs(a.pid), 0);
  return { api: cpuTimeMs(stack.api.pid), agents, machine: machineBusyMs() };
}

const minus = (a: CpuSnapshot, b: CpuSnapshot): CpuSnapshot => ({
  api: a.api - b.api,
  agents: a.agents - b.agents,
  machine: a.machine - b.machine,
});

export async function costSection(ctx: BenchContext): Promise<SectionResult> {
  const o = sizes(ctx.quick);
  return withStack({ agents: 2, slots: 8 }, async (stack) => {
    const client = new BenchClient(stack, 64);
    try {
      const succeeded = (): Promise<number> => client.succeeded();
      await sleep(2_000); // the agents' first heartbeats and Lease calls settle
      ctx.log(`idle window: ${o.idleSeconds} s`);
      const idle0 = snapshot(stack);
      await sleep(o.idleSeconds * 1_000);
      const idle = minus(snapshot(stack), idle0);
      const before = await succeeded();
      ctx.log(`${o.jobs} jobs at ${o.rate}/s`);
      const start = snapshot(stack);
      const t0 = nowMs();
      const load = new OpenLoop({ rate: o.rate, count: o.jobs, maxInFlight: 64 }, async (i) => {
        return (await client.submit(jobBody(`cost-${i}`, ['true']))) !== undefined;
      });
      await load.done;
      while ((await succeeded()) - before < o.jobs) {
        if (nowMs() - t0 > 300_000) throw new Error(`${o.jobs} jobs did not all succeed within 300 s`);
        await sleep(250); // each poll renders /metrics on jr-api, which counts against its figure
      }
      const seconds = (nowMs() - t0) / 1_000;
      const used = minus(snapshot(stack), start);
      const perJob = (k: keyof CpuSnapshot): number => (used[k] - (idle[k] * seconds) / o.idleSeconds) / o.jobs;
      const budget = (os.cpus().length * 1_000) / o.rate;
      const ref = { label: `the machine's budget at ${o.rate}/s (${os.cpus().length} cores)`, value: round(budget, 1) };
      const per = (key: keyof CpuSnapshot, what: string) =>
        figure({
          key: `cost.${key}`,
          label: `CPU per job, ${what}`,
          value: round(perJob(key), 1),
          unit: 'ms',
          reference: ref,
        });
      return {
        id: 'cost',
        title: 'CPU cost per job',
        figures: [
          per('api', 'jr-api'),
          per('agents', 'the two agents'),
          per('machine', 'whole machine (Postgres, Redis, kernel, bench client too)'),
          figure({
            key: 'cost.throughput',
            label: `jobs finished per second, ${o.jobs} offered at ${o.rate}/s`,
            value: round(o.jobs / seconds, 1),
            unit: 'ops/s',
            reference: { label: 'offered', value: o.rate },
          }),
        ],
        details: {
          sizes: o,
          idleMsPerSecond: {
            api: idle.api / o.idleSeconds,
            agents: idle.agents / o.idleSeconds,
            machine: idle.machine / o.idleSeconds,
          },
          seconds,
        },
      };
    } finally {
      client.close();
    }
  });
}
