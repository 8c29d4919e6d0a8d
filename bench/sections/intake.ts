/**
 * Intake: durable `POST /v1/jobs` answered 202 (the submission fdatasync'd in the intake journal,
 * group commit) at closed-loop concurrency 16, 64 and 256, each beside raw BullMQ `add` at the same
 * concurrency on the same Redis; the fdatasyncs/s the group commit needed beside this disk's own
 * fdatasync rate, records per fdatasync beside the largest batch possible (the concurrency), and
 * durable POST beside GET /healthz (same client and HTTP stack, no work: the ceiling of any route).
 * Client, jr-api, Redis and Postgres share this machine's CPUs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { deleteRedisPrefix, type Stack } from '@jr/testing';
import { BenchClient, jobBody } from '../lib/api-client';
import { relayDrained, withStack } from '../lib/bench-stack';
import { closedLoop, round } from '../lib/load';
import { rawAdd } from '../lib/raw-bullmq';
import { figure, type BenchContext, type Figure, type SectionResult } from '../lib/report';

const FSYNCS = ['jr_journal_fsyncs_total', { journal: 'intake' }] as const;

interface Sizes {
  seconds: number;
  concurrencies: number[];
  ceilingSeconds: number;
  syncProbeSeconds: number;
}

const sizes = (quick: boolean): Sizes =>
  quick
    ? { seconds: 1, concurrencies: [16, 64, 256], ceilingSeconds: 1, syncProbeSeconds: 0.3 }
    : { seconds: 10, concurrencies: [16, 64, 256], ceilingSeconds: 5, syncProbeSeconds: 2 };

interface Step {
  concurrency: number;
  accepted: number;
  refused: number;
  elapsedS: number;
  fsyncs: number;
  relayDrainS: number;
  rawAdds: number;
  rawElapsedS: number;
}

export async function durableStep(
  stack: Stack,
  concurrency: number,
  seconds: number,
  pool?: string,
): Promise<Omit<Step, 'rawAdds' | 'rawElapsedS'>> {
  const client = new BenchClient(stack, concurrency);
  try {
    const body = jobBody('bench-intake', ['true'], pool);
    const fsyncsBefore = await client.metric(...FSYNCS);
    let refused = 0;
    const run = await closedLoop(concurrency, seconds, async () => {
      if ((await client.submit(body)) === undefined) refused++;
    });
    const fsyncs = (await client.metric(...FSYNCS)) - fsyncsBefore;
    const relayDrainS = await relayDrained(stack);
    if (!stack.api.running) throw new Error('jr-api exited during the intake load');
    return { concurrency, accepted: run.ops - refused, refused, elapsedS: run.elapsedS, fsyncs, relayDrainS };
  } finally {
    client.close();
  }
}

/** This disk's fdatasync rate for small appends, one writer: what the group commit has to work with. */
function diskSyncRate(dir: string, seconds: number): number {
  const file = path.join(dir, 'fdatasync-probe');
  const fd = fs.openSync(file, 'a');
  const record = Buffer.alloc(100, 1);
  const started = performance.now();
  let syncs = 0;
  try {
    while (performance.now() - started < seconds * 1_000) {
      fs.writeSync(fd, record);
      fs.fdatasyncSync(fd);
      syncs++;
    }
  } finally {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
  return syncs / ((performance.now() - started) / 1_000);
}

async function httpCeiling(stack: Stack, concurrency: number, seconds: number): Promise<number> {
  const client = new BenchClient(stack, concurrency);
  try {
    const run = await closedLoop(concurrency, seconds, async () => void (await client.request('GET', '/healthz')));
    return run.ops / run.elapsedS;
  } finally {
    client.close();
  }
}

function stepFigures(s: Step, diskSyncs: number): Figure[] {
  const c = s.concurrency;
  const rate = s.accepted / s.elapsedS;
  return [
    figure({
      key: `intake.c${c}.rate`,
      label: `durable POST /v1/jobs, concurrency ${c}`,
      value: round(rate),
      unit: 'ops/s',
      reference: { label: 'raw BullMQ add', value: round(s.rawAdds / s.rawElapsedS) },
    }),
    figure({
      key: `intake.c${c}.fdatasyncs`,
      label: `intake fdatasyncs, concurrency ${c}`,
      value: round(s.fsyncs / s.elapsedS),
      unit: 'syncs/s',
      reference: { label: 'disk fdatasync rate (1 writer)', value: round(diskSyncs) },
    }),
    figure({
      key: `intake.c${c}.batch`,
      label: `records per fdatasync, concurrency ${c}`,
      value: round(s.accepted / s.fsyncs),
      unit: 'records',
      reference: { label: 'concurrency (largest batch)', value: c },
      ...(s.refused > 0 ? { note: `${s.refused} refused` } : {}),
    }),
  ];
}

export async function intakeSection(ctx: BenchContext): Promise<SectionResult> {
  const o = sizes(ctx.quick);
  const diskSyncs = diskSyncRate(ctx.workDir, o.syncProbeSeconds);
  ctx.log(`disk: ${Math.round(diskSyncs)} fdatasyncs/s (one writer, 100 B appends)`);
  return withStack({}, async (stack) => {
    const steps: Step[] = [];
    for (const c of o.concurrencies) {
      ctx.log(`durable POST /v1/jobs, concurrency ${c}, ${o.seconds} s`);
      const durable = await durableStep(stack, c, o.seconds);
      ctx.log(`raw BullMQ add, concurrency ${c}, ${o.seconds} s`);
      const rawPrefix = `${stack.prefix}-raw-c${c}`;
      const raw = await rawAdd(stack.redisUrl, rawPrefix, c, o.seconds);
      // Up to ~600k raw jobs per step sit in the shared Redis: drop them before the next step.
      await deleteRedisPrefix(stack.redisUrl, rawPrefix);
      steps.push({ ...durable, rawAdds: raw.ops, rawElapsedS: raw.elapsedS });
    }
    ctx.log(`GET /healthz, concurrency 64, ${o.ceilingSeconds} s`);
    const ceiling = await httpCeiling(stack, 64, o.ceilingSeconds);
    const c64 = steps.find((s) => s.concurrency === 64);
    const figures = steps.flatMap((s) => stepFigures(s, diskSyncs));
    if (c64) {
      figures.push(
        figure({
          key: 'intake.c64.vs_http',
          label: 'durable POST /v1/jobs vs the HTTP ceiling, c64',
          value: round(c64.accepted / c64.elapsedS),
          unit: 'ops/s',
          reference: { label: 'GET /healthz, same client', value: round(ceiling) },
        }),
      );
    }
    return {
      id: 'intake',
      title: 'Durable intake vs raw BullMQ add',
      figures,
      details: { sizes: o, diskFdatasyncsPerSecond: diskSyncs, httpCeilingPerSecond: ceiling, steps },
    };
  });
}
